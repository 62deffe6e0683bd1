"""The conversation list: contacts with unread counts, pending requests and follow-ups."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ContactAdded,
    ContactKeyChanged,
    ContactRequestPending,
    MessageReceived,
    ShortCodePaired,
)

from ..catalog import t
from ..messages import ContactSelected, EngineEvent
from ..workers import start

FOLLOW_UP_CHECK_SECONDS = 60.0
REQUEST_PREFIX = "request-"
CONTACT_PREFIX = "contact-"


@dataclass(frozen=True)
class ContactRow:
    """What one line of the list shows about a contact."""

    contact_id: int
    name: str
    verified: bool
    unread: int
    follow_up_due: bool


class RequestChosen(ContactSelected):
    """The user picked a pending contact request (``contact_id`` is the request id)."""

    def __init__(self, request_id: int, name: str) -> None:
        super().__init__(request_id)
        self.name = name


class ConversationList(OptionList):
    """Contacts and pending requests; picking one posts :class:`ContactSelected`."""

    DEFAULT_CSS = """
    ConversationList {
        width: 24;
        height: 1fr;
        border: round $primary-darken-2;
        border-title-align: left;
    }
    ConversationList:focus { border: round $accent; }
    """

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.selected_contact: int | None = None
        self.rows: list[ContactRow] = []

    def on_mount(self) -> None:
        self.border_title = t("app.list.title")
        # Follow-ups fall due while the app is open (at midnight, say), so look again now
        # and then rather than only after an event.
        self.set_interval(FOLLOW_UP_CHECK_SECONDS, self._reload_soon)
        start(self, self.reload, group="conversation-list", exclusive=True)

    def _reload_soon(self) -> None:
        start(self, self.reload, group="conversation-list", exclusive=True)

    async def reload(self) -> None:
        """Read the contacts, unread counts and due follow-ups again and redraw."""
        contacts = await self.engine.contacts()
        unread = await asyncio.to_thread(self.engine.store.unread_counts)
        due = await self._due_contacts()
        if not self.is_mounted:
            return
        self.rows = [
            ContactRow(c.id, c.display_name, c.verified, unread.get(c.id, 0), c.id in due)
            for c in contacts
        ]
        self._redraw()

    def mark_read(self, contact_id: int) -> None:
        """Clear the unread count of a contact that is now on screen."""
        self.rows = [
            ContactRow(r.contact_id, r.name, r.verified, 0, r.follow_up_due)
            if r.contact_id == contact_id
            else r
            for r in self.rows
        ]
        self._redraw()

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, MessageReceived) and event.contact_id != self.selected_contact:
            self.rows = [
                ContactRow(r.contact_id, r.name, r.verified, r.unread + 1, r.follow_up_due)
                if r.contact_id == event.contact_id
                else r
                for r in self.rows
            ]
            self._redraw()
        elif isinstance(
            event, ContactAdded | ContactRequestPending | ShortCodePaired | ContactKeyChanged
        ):
            start(self, self.reload, group="conversation-list", exclusive=True)

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        option_id = message.option.id or ""
        if option_id.startswith(REQUEST_PREFIX):
            request_id = int(option_id.removeprefix(REQUEST_PREFIX))
            names = dict(self.engine.pending_requests())
            self.post_message(RequestChosen(request_id, names.get(request_id, "")))
        elif option_id.startswith(CONTACT_PREFIX):
            self.selected_contact = int(option_id.removeprefix(CONTACT_PREFIX))
            self.post_message(ContactSelected(self.selected_contact))

    def _redraw(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        options: list[Option] = []
        for request_id, name in self.engine.pending_requests():
            label = Text("? ", style="bold")
            label.append(t("app.list.request", name=name))
            options.append(Option(label, id=f"{REQUEST_PREFIX}{request_id}"))
        for row in self.rows:
            options.append(Option(self._label(row), id=f"{CONTACT_PREFIX}{row.contact_id}"))
        if not options:
            options.append(Option(Text(t("app.list.empty"), style="italic"), disabled=True))
        self.add_options(options)
        if highlighted is not None and highlighted < len(options):
            self.highlighted = highlighted

    def _label(self, row: ContactRow) -> Text:
        # Marks are characters as well as colours so the list reads in a monochrome terminal.
        label = Text()
        label.append("✓ " if row.verified else "  ", style="bold green")
        label.append(row.name, style="bold" if row.unread else "")
        if row.unread:
            label.append(f" ({row.unread})", style="bold reverse")
        if row.follow_up_due:
            label.append(" ⏰")
        if row.contact_id == self.selected_contact:
            label.stylize("underline")
        return label

    async def _due_contacts(self) -> set[int]:
        if self.engine.state.role != "counselor":
            return set()
        follow_ups = await self.engine.due_follow_ups()
        sessions = {f.session_id for f in follow_ups}
        if not sessions:
            return set()
        return await asyncio.to_thread(self._contacts_of_sessions, sessions)

    def _contacts_of_sessions(self, sessions: set[int]) -> set[int]:
        contacts: set[int] = set()
        for session_id in sessions:
            session = self.engine.store.get_session(session_id)
            contacts.add(session.contact_id)
        return contacts
