"""The help screen: every key binding of the app and of the screen under it.

The rows come from the bindings themselves (:func:`.key_help.help_rows`), so the help
never lists a key the app does not have. Descriptions are catalog texts in the current
language. Escape closes the screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from konsel.client.tui.bindings import localize_bindings
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.key_help import HelpRow, help_rows

KEY_COLUMN_WIDTH = 12
"""Cells for the key column, enough for two keys such as ``^q, f12``; a longer entry
pushes its description to the right."""
BOX_LINES = 4
"""Lines of the help box outside its list: two borders, the title and the hint."""


class HelpScreen(ModalScreen[None]):
    """A scrollable list of keys and what they do, in the current language."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen #help-box {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        text-style: bold;
        width: 100%;
        content-align: center middle;
    }
    HelpScreen #help-rows {
        height: auto;
    }
    HelpScreen .help-section {
        text-style: bold;
        margin-top: 1;
    }
    HelpScreen #help-hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "start.keys.close")]

    def __init__(self) -> None:
        super().__init__()
        localize_bindings(self)

    def compose(self) -> ComposeResult:
        """Build the two sections: app-wide keys, then the keys of the screen below."""
        app_rows, screen_rows = help_rows(self.app, self._screen_below())
        with Vertical(id="help-box"):
            yield Static(t("start.help.title"), id="help-title", markup=False)
            with VerticalScroll(id="help-rows"):
                yield Static(t("start.help.app_section"), classes="help-section", markup=False)
                for row in app_rows:
                    yield Static(_row_text(row), classes="help-row")
                yield Static(t("start.help.screen_section"), classes="help-section", markup=False)
                for row in screen_rows:
                    yield Static(_row_text(row), classes="help-row")
                if not screen_rows:
                    yield Static(t("start.help.empty"), markup=False)
            yield Static(t("start.help.hint"), id="help-hint", markup=False)

    def on_mount(self) -> None:
        """Fit the list to the terminal and focus it, so the arrow and page keys scroll it."""
        rows = self.query_one("#help-rows", VerticalScroll)
        self._fit_rows(self.app.size.height)
        rows.focus()

    def on_resize(self, event: events.Resize) -> None:
        """Keep the list within the terminal's height, so the title and hint stay visible."""
        self._fit_rows(event.size.height)

    def _fit_rows(self, height: int) -> None:
        # A list of height auto does not shrink inside a box of limited height, so
        # its limit is set from the terminal size instead.
        self.query_one("#help-rows", VerticalScroll).styles.max_height = max(3, height - BOX_LINES)

    def _screen_below(self) -> Screen[object] | None:
        """Return the screen this one covers, whose focused widget's keys are listed."""
        stack = self.app.screen_stack
        if self in stack:
            index = stack.index(self)
            return stack[index - 1] if index > 0 else None
        # Not yet on the stack (composed before being pushed): the top is the one below.
        return stack[-1] if stack else None

    def action_close(self) -> None:
        """Close the help and return to the screen below."""
        self.dismiss(None)


def _row_text(row: HelpRow) -> Text:
    """Format one row; the key is padded so the descriptions line up."""
    return Text.assemble((row.key.ljust(KEY_COLUMN_WIDTH), "bold"), row.description)
