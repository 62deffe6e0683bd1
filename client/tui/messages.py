"""Textual messages shared by the screens and widgets of konsel-chat.

Engine events go down: the main screen reads the engine's event stream in one worker and
hands each event to the widgets as :class:`EngineEvent`. Requests go up: widgets post
the other messages here, and the main screen acts on them.
"""

from __future__ import annotations

from textual.message import Message

from konsel.client.core.events import Event


class EngineEvent(Message):
    """An event from the engine, forwarded to a widget that shows its effect."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class ContactSelected(Message):
    """The user opened the conversation with a contact."""

    def __init__(self, contact_id: int) -> None:
        super().__init__()
        self.contact_id = contact_id


class InsertDraft(Message):
    """Put an editable draft into the composer; it is never sent by itself."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class RiskCueSeen(Message):
    """An incoming message matched a risk cue; the risk card should be suggested."""

    def __init__(self, contact_id: int, order: int, cues: tuple[str, ...]) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.order = order
        self.cues = cues
