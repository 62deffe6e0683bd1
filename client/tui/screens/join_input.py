"""An input line that keeps a pasted invitation link whole."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class JoinInput(Input):
    """An :class:`Input` that joins the lines of a paste instead of keeping the first.

    Mail and chat apps often break a long ``konsel://`` link over several lines, and
    Textual's Input keeps only the first. The lines are joined with a space, which both
    the link reader and the short-code reader skip. NUL characters are dropped.
    """

    def _on_paste(self, event: events.Paste) -> None:
        lines = (line.strip() for line in event.text.replace("\x00", "").splitlines())
        text = " ".join(line for line in lines if line)
        if text:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(text)
            else:
                self.replace(text, *selection)
        # prevent_default keeps Input's own paste handler, next in the MRO, from
        # inserting the first line a second time.
        event.prevent_default()
        event.stop()
