"""A bare Textual app that shows one screen, for the pairing and student screen tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Static

WAIT_TIMEOUT = 20.0


class ScreenHost(App[None]):
    """Push one screen at start and keep what it dismissed with in :attr:`results`."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.hosted = screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.hosted, callback=self.results.append)


def shown(screen: Screen[Any], selector: str) -> str:
    """Return the text a Static of ``screen`` shows now."""
    return str(screen.query_one(selector, Static).content)


async def wait_for_text(
    screen: Screen[Any], selector: str, condition: Callable[[str], bool], what: str
) -> str:
    """Wait until the Static at ``selector`` shows text that ``condition`` accepts."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        text = shown(screen, selector)
        if condition(text):
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {WAIT_TIMEOUT} s waiting for {what}: {text!r}")


async def click_button(pilot: Pilot[Any], screen: Screen[Any], selector: str) -> None:
    """Click a button once the screen's layout settled and the button can be pressed again.

    A click goes to the button's position in the last layout, so the pending refresh
    after new text runs first. Button ignores presses while its 0.2 s press effect
    shows, so a quick second click would be lost. A user never clicks that fast.
    """
    await pilot.pause()
    button = screen.query_one(selector, Button)
    deadline = time.monotonic() + WAIT_TIMEOUT
    while button.has_class("-active") and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.click(selector)
