"""Helpers for the start-screen tests: typing, waiting for a screen or a text, reading lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine_helpers import FAST_SYNC, Relay, new_engine
from screen_text import screen_text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from konsel.client.core.passphrase import KdfParams
from konsel.client.tui.app import KonselApp

BOX_CHARACTERS = frozenset("│║╭╮╰╯─━▊▎▔▁▇▐▌")
"""Border and scrollbar characters that Textual draws around and beside text."""

STEP_TIMEOUT = 15.0
"""Seconds a test waits for one step (a screen, a text) before it fails."""


def build_app(directory: Path, kdf: KdfParams, **options: Any) -> KonselApp:
    """Return a KonselApp on ``directory`` with the cheap KDF and fast reconnects."""
    return KonselApp(directory, kdf=kdf, sync_options=FAST_SYNC, **options)


async def make_profile(directory: Path, role: str, relay: Relay, name: str = "Bu Rina") -> None:
    """Create a profile through the engine and close it, as a finished first run leaves it."""
    engine = await new_engine(directory, name, role, relay.url)
    await engine.close()


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` one key at a time into the focused widget."""
    await pilot.press(*text)


async def wait_for_screen(app: App[Any], kind: type, pilot: Pilot[Any]) -> None:
    """Let the app run until its current screen is a ``kind``; fail after a timeout."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not isinstance(app.screen, kind):
        if time.monotonic() > deadline:
            raise AssertionError(f"{type(app.screen).__name__} shown, not {kind.__name__}")
        await pilot.pause(0.05)


async def wait_for_line(
    app: App[Any], pilot: Pilot[Any], selector: str, with_class: str | None = None
) -> str:
    """Wait until the Static at ``selector`` on the current screen shows a text.

    Args:
        with_class: also wait for this CSS class, which marks the text as an error and
            not as the progress note shown while a worker runs.
    """
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        line = app.screen.query_one(selector, Static)
        text = line_text(app, selector)
        if text and line.display and (with_class is None or line.has_class(with_class)):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} shows {text!r}; screen:\n{screen_text(app)}")
        await pilot.pause(0.05)


def flat_screen_text(app: App[Any]) -> str:
    """Return the screen's text with box borders removed and runs of spaces joined, so a
    sentence wrapped over several lines reads as one."""
    text = screen_text(app)
    without_borders = "".join(" " if char in BOX_CHARACTERS else char for char in text)
    return " ".join(without_borders.split())


def line_text(app: App[Any], selector: str) -> str:
    """Return the plain text of the Static at ``selector`` on the current screen."""
    return str(app.screen.query_one(selector, Static).visual)
