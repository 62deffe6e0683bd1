"""The neutral view that quick exit shows at once: a page of math study notes.

A person looking over the user's shoulder finds an ordinary study page, with no word about
counseling, no names and no messages. It has no header and no footer, because those
would show the app's title and its key descriptions. Enter leads to the unlock screen,
and ctrl+q quits.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from konsel.client.tui.bindings import localize_bindings
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.start_host import start_host

NOTE_KEYS = ("note_1", "note_2", "note_3", "note_4")
EXERCISE_KEYS = ("exercise_1", "exercise_2", "exercise_3")


class NeutralScreen(Screen[None]):
    """A plain study-notes page that hides the app until the user presses Enter."""

    DEFAULT_CSS = """
    NeutralScreen {
        background: $surface;
    }
    NeutralScreen #neutral-page {
        padding: 1 2;
    }
    NeutralScreen .neutral-title {
        text-style: bold;
        margin-bottom: 1;
    }
    NeutralScreen .neutral-heading {
        text-style: bold;
        margin-top: 1;
    }
    NeutralScreen .neutral-hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "continue", "start.keys.continue", show=False),
        # KonselApp turns its own ctrl+q (quick exit) off while locked, so this one quits.
        Binding("ctrl+q", "quit", "start.keys.quit", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        localize_bindings(self)

    def compose(self) -> ComposeResult:
        """Build the page from the ``start.neutral`` catalog texts."""
        with VerticalScroll(id="neutral-page"):
            yield Static(t("start.neutral.title"), classes="neutral-title", markup=False)
            yield Static(t("start.neutral.subject"), classes="neutral-heading", markup=False)
            for key in NOTE_KEYS:
                yield Static(t(f"start.neutral.{key}"), markup=False)
            yield Static(t("start.neutral.exercise_title"), classes="neutral-heading", markup=False)
            for key in EXERCISE_KEYS:
                yield Static(t(f"start.neutral.{key}"), markup=False)
            yield Static(t("start.neutral.hint"), classes="neutral-hint", markup=False)

    async def action_continue(self) -> None:
        """Show the unlock screen through the app, which decides what comes next."""
        result = start_host(self.app).show_unlock()
        if inspect.isawaitable(result):
            await result

    def action_quit(self) -> None:
        """Quit the app."""
        self.app.exit()
