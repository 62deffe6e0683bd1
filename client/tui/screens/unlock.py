"""The unlock screen: type the passphrase to open the profile.

It shows only the app's name: the display name and everything else personal is inside
the encrypted store. The passphrase goes to ``app.unlock`` in an app worker, because a
successful unlock replaces this screen, and a worker of this screen would be cancelled
with it. A wrong passphrase clears the field and shows the reason after a short pause.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from konsel.client.core.errors import WrongPassphrase
from konsel.client.tui.bindings import localize_bindings
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.start_errors import error_text
from konsel.client.tui.screens.start_host import start_host

WRONG_PASSPHRASE_DELAY = 0.5
"""Seconds to wait after a wrong passphrase before the field takes input again. The key
derivation already makes each guess slow, and this pause keeps rapid retries from piling up."""


class UnlockScreen(Screen[None]):
    """Ask for the passphrase and open the profile through the app."""

    DEFAULT_CSS = """
    UnlockScreen {
        align: center middle;
    }
    UnlockScreen #unlock-box {
        width: 64;
        max-width: 100%;
        height: auto;
        border: round $primary;
        padding: 1 2;
    }
    UnlockScreen #unlock-app-name {
        text-style: bold;
        width: 100%;
        content-align: center middle;
    }
    UnlockScreen #unlock-title {
        width: 100%;
        content-align: center middle;
        margin-bottom: 1;
    }
    UnlockScreen #unlock-status {
        margin-top: 1;
        color: $text-muted;
    }
    UnlockScreen #unlock-status.error {
        color: $error;
    }
    UnlockScreen Center {
        height: auto;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "start.keys.quit", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        localize_bindings(self)
        self.busy = False
        """True while an unlock attempt runs. A second Enter is ignored until it ends."""

    def compose(self) -> ComposeResult:
        """Build the box with the app name, the passphrase field and its status line."""
        with Vertical(id="unlock-box"):
            yield Static(t("start.app_name"), id="unlock-app-name", markup=False)
            yield Static(t("start.unlock.title"), id="unlock-title", markup=False)
            yield Label(t("start.unlock.prompt"), markup=False)
            yield Input(
                password=True,
                id="unlock-passphrase",
                placeholder=t("start.unlock.passphrase_label"),
            )
            yield Static("", id="unlock-status", markup=False)
            with Center():
                yield Button(t("start.unlock.submit"), id="unlock-submit", variant="primary")

    def on_mount(self) -> None:
        """Put the cursor in the passphrase field."""
        self.query_one("#unlock-passphrase", Input).focus()

    @on(Input.Submitted, "#unlock-passphrase")
    @on(Button.Pressed, "#unlock-submit")
    def submit(self) -> None:
        """Start an unlock attempt with the typed passphrase."""
        if self.busy:
            return
        field = self.query_one("#unlock-passphrase", Input)
        passphrase = field.value
        self.busy = True
        field.disabled = True
        self.query_one("#unlock-submit", Button).disabled = True
        self._show_status(t("start.unlock.opening"), error=False)
        self.app.run_worker(self._unlock(passphrase), group="start-unlock", exclusive=True)

    async def _unlock(self, passphrase: str) -> None:
        try:
            await start_host(self.app).unlock(passphrase)
        except Exception as error:
            wrong = isinstance(error, WrongPassphrase)
            if wrong:
                await asyncio.sleep(WRONG_PASSPHRASE_DELAY)
            # The app may have quit or locked again while the key was being derived.
            if self.is_attached:
                self._take_input_again(error_text(error), clear=wrong)
            return

        # The app normally replaces this screen. If it stays (under another screen),
        # the passphrase must not stay in the field.
        if self.is_attached:
            self._take_input_again("", clear=True)

    def _take_input_again(self, message: str, *, clear: bool) -> None:
        field = self.query_one("#unlock-passphrase", Input)
        if clear:
            field.clear()
        field.disabled = False
        self.query_one("#unlock-submit", Button).disabled = False
        self.busy = False
        self._show_status(message, error=bool(message))
        field.focus()

    def _show_status(self, message: str, *, error: bool) -> None:
        status = self.query_one("#unlock-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def action_quit(self) -> None:
        """Quit the app."""
        self.app.exit()
