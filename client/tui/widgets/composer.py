"""The composer: the text area where the user writes a message.

Enter sends and Ctrl+J starts a new line. Ctrl+J sends a line feed in every common terminal
(Windows Terminal, macOS Terminal, xterm and over SSH), while Shift+Enter and Ctrl+Enter
reach the app only in terminals that speak the kitty keyboard protocol, so those count as
extra new-line keys. Alt+Enter cannot serve: Textual 8.2 reads ESC followed by Enter as a
plain Enter.

Pasted text becomes one draft and is never sent by itself. Text over the engine's size
limit is refused with a message before anything is sent, and the draft stays.
"""

from __future__ import annotations

import re

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from konsel.client.core.events import EngineError
from konsel.protocol.content import MAX_TEXT_BODY_CHARS

from .. import catalog
from ..bindings import localize_bindings
from ..catalog import t
from ..error_text import error_text

MAX_MESSAGE_CHARS = MAX_TEXT_BODY_CHARS
"""The longest text the engine sends, in Unicode code points (``Engine.send_text``)."""

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "ctrl+enter"})

# Everything the engine rejects in a text: C0 controls except tab and line feed, DEL and
# the C1 block. Carriage returns are turned into line feeds before this runs.
_UNSENDABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_draft(text: str) -> str:
    """Return pasted or inserted ``text`` ready for the composer.

    CR LF and lone CR become LF, and NUL bytes (which some terminals put into a
    bracketed paste) and the other control characters except tab and LF are removed.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSENDABLE.sub("", text)


def group_digits(number: int) -> str:
    """Return ``number`` with thousands separators of the current language (16.000 / 16,000)."""
    grouped = f"{number:,}"
    return grouped.replace(",", ".") if catalog.current().language == "id" else grouped


class Composer(TextArea):
    """A multi-line text area that posts :class:`Composer.Submitted` when Enter is pressed."""

    DEFAULT_CSS = """
    Composer {
        height: auto;
        min-height: 3;
        max-height: 8;
    }
    """

    BINDINGS = [
        Binding("enter", "submit", "chat.keys.send"),
        Binding("ctrl+j", "newline", "chat.keys.newline"),
    ]

    class Submitted(Message):
        """The user pressed Enter on a draft that fits the size limit."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text
            """The text as typed, line feeds included."""

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder=t("chat.composer.placeholder"),
        )
        localize_bindings(self)

    async def _on_key(self, event: events.Key) -> None:
        # Runs before TextArea's own key handler, which would insert a line feed on Enter.
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()

    async def _on_paste(self, event: events.Paste) -> None:
        # Replaces TextArea's paste handler: the text is cleaned and inserted as one edit,
        # and no key handler or binding sees any of it.
        event.stop()
        event.prevent_default()
        if self.read_only:
            return
        self.replace(clean_draft(event.text), *self.selection)
        self.focus()

    def action_submit(self) -> None:
        """Post the draft as :class:`Submitted` and clear it, unless it is empty or too long."""
        text = self.text
        if not text.strip():
            return
        if len(text) > MAX_MESSAGE_CHARS:
            self.refuse_too_long(len(text))
            return
        self.post_message(self.Submitted(self, text))
        # load_text also empties the undo history, so Ctrl+Z cannot bring back a message
        # that has already gone out.
        self.load_text("")

    def action_newline(self) -> None:
        """Insert a line feed at the cursor."""
        self.replace("\n", *self.selection)

    def insert_draft(self, text: str) -> None:
        """Put ``text`` at the cursor as an editable draft; nothing is sent."""
        self.replace(clean_draft(text), *self.selection)
        self.focus()

    def refuse_too_long(self, size: int) -> None:
        """Tell the user the draft is ``size`` characters, over the limit; the draft stays."""
        message = t(
            "chat.composer.too_long",
            size=group_digits(size),
            limit=group_digits(MAX_MESSAGE_CHARS),
        )
        self.notify(message, severity="warning", timeout=10)

    def restore(self, text: str, error: EngineError) -> None:
        """Put back a submitted draft that the engine did not send, and say why.

        A draft over the character limit is reported with its size and the limit, like
        the check before sending. Any other error, such as an envelope above the relay's
        byte limit, gets the app's usual error text. A draft the user has started
        meanwhile is kept, and the old text is then not put back.
        """
        if not self.text.strip():
            self.load_text(text)
            self.move_cursor(self.document.end)
        if error.code == "message_too_large" and len(text) > MAX_MESSAGE_CHARS:
            self.refuse_too_long(len(text))
        else:
            self.notify(error_text(error), severity="error", timeout=8)
