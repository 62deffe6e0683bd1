"""The interface of the app that hosts the start screens.

KonselApp provides these methods. The start screens call them through this protocol,
so they type-check without importing the app module, which imports them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, cast

from textual.app import App

from konsel.client.tui.setup import NewProfile


class StartHost(Protocol):
    """The app methods that create, unlock and show the profile."""

    language: str
    """``"id"`` or ``"en"``: the language of the catalog in use."""

    def set_language(self, language: str) -> None:
        """Switch the catalog, the app's key descriptions and the saved setting."""

    async def create_profile(self, choice: NewProfile) -> None:
        """Create the profile and show the main screen; raises the store's errors."""

    async def unlock(self, passphrase: str) -> None:
        """Open the profile and show the main screen; raises WrongPassphrase and others."""

    def show_unlock(self) -> Awaitable[object] | None:
        """Show the unlock screen."""


def start_host(app: App[object] | App[int]) -> StartHost:
    """Return ``app`` typed as the host of the start screens."""
    return cast(StartHost, app)
