"""The chat view: one conversation's messages as scrollable lines.

The view draws lines itself (Textual's line API) instead of mounting one widget per
message, and it holds a bounded window of the history (:class:`.chat_window.HistoryWindow`):
paging up loads older pages and drops pages far below, so a conversation of any length
costs the same memory and opens as fast as a short one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from konsel.client.core.engine import Engine
from konsel.client.core.errors import RecordNotFound
from konsel.client.core.events import (
    DamagedMessage,
    MessageReceived,
    MessagesMissing,
    MessageStatusChanged,
    SessionRenewed,
)
from konsel.client.core.risk_cues import RiskCues
from konsel.client.core.store import StoredMessage

from .. import catalog
from ..bindings import localize_bindings
from ..catalog import t
from ..messages import EngineEvent, InsertDraft, RiskCueSeen
from .chat_layout import LineLayout, line_styles
from .chat_lines import Sender, centered_line
from .chat_notices import Notice, NoticeMemory
from .chat_window import HistoryWindow, WindowChange


class ChatView(ScrollView, can_focus=True):
    """The messages of the open conversation, windowed and drawn line by line."""

    COMPONENT_CLASSES = {
        "chat-view--own-name",
        "chat-view--peer-name",
        "chat-view--meta",
        "chat-view--failed",
        "chat-view--risk",
        "chat-view--notice",
        "chat-view--day",
        "chat-view--marker",
    }

    DEFAULT_CSS = """
    ChatView {
        overflow-y: scroll;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        padding: 0 1;
    }
    /* With focus, a bar takes the left padding's column: the mark reads without colour,
       and the text keeps its width, so nothing wraps again. The whole padding is given
       because padding-left alone also cleared the right padding in Textual 8.2.8. */
    ChatView:focus { padding: 0 1 0 0; border-left: outer $accent; }
    ChatView > .chat-view--own-name { color: $text-primary; text-style: bold; }
    ChatView > .chat-view--peer-name { color: $text-secondary; text-style: bold; }
    /* Without colour the names differ by their text alone, so both get full contrast. */
    ChatView:nocolor > .chat-view--own-name { color: $foreground; }
    ChatView:nocolor > .chat-view--peer-name { color: $foreground; }
    ChatView > .chat-view--meta { color: $text-muted; }
    ChatView > .chat-view--failed { color: $error; text-style: bold; }
    ChatView > .chat-view--risk { color: $warning; text-style: bold; }
    ChatView > .chat-view--notice { color: $text-muted; text-style: italic; }
    ChatView > .chat-view--day { color: $text-muted; }
    ChatView > .chat-view--marker { background: $accent; color: $text; text-style: bold; }
    """

    BINDINGS = [
        Binding("up", "scroll_up", "chat.keys.line_up", show=False),
        Binding("down", "scroll_down", "chat.keys.line_down", show=False),
        Binding("pageup", "page_up", "chat.keys.page_up", show=False),
        Binding("pagedown", "page_down", "chat.keys.page_down", show=False),
        Binding("home", "home", "chat.keys.home", show=False),
        Binding("end", "end", "chat.keys.end", show=False),
        Binding("r", "rewrite_failed", "chat.keys.rewrite_failed"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        risk_cues: RiskCues | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.contact_id: int | None = None
        self.window: HistoryWindow | None = None
        self.new_count = 0
        """Messages that arrived while the user read further up."""
        self._generation = 0
        self._conversation_id: int | None = None
        self._opening = False
        self._paging = False
        self._end_requested = False
        self._held_back: list[StoredMessage] = []
        self._notices = NoticeMemory()
        self._line_layout = LineLayout(risk_cues)
        localize_bindings(self)

    @property
    def _lines(self) -> list[Strip]:
        """Every laid-out line, top to bottom. Tests read the layout through this name."""
        return self._line_layout.lines

    # --- opening a conversation ----------------------------------------------------------

    async def show_conversation(self, contact_id: int | None) -> None:
        """Show the newest messages of a contact's conversation, or nothing for None."""
        self._generation += 1
        generation = self._generation
        self.contact_id = contact_id
        self.window = None
        self.new_count = 0
        self._line_layout.forget()
        if contact_id is None:
            self._relayout(to_bottom=True)
            return

        self._opening = True
        try:
            window = HistoryWindow(self.engine, contact_id)
            await window.load_newest()
            contact = await asyncio.to_thread(self.engine.store.get_contact, contact_id)
            conversation_id = await self.engine.conversation(contact_id)
        finally:
            if generation == self._generation:
                self._opening = False
        if generation != self._generation:
            return

        self.window = window
        self._conversation_id = conversation_id
        self._line_layout.sender = Sender(self.engine.state.display_name, contact.display_name)
        for message in self._held_back:
            window.append(message)
        self._held_back.clear()
        self._relayout(to_bottom=True)

    async def show_sent(self, message: StoredMessage) -> None:
        """Show an own message just stored by ``Engine.send_text`` and scroll to it."""
        window = self.window
        if window is None or message.conversation_id != self._conversation_id:
            return
        if window.at_newest:
            window.append(message)
            self._relayout(to_bottom=True)
        else:
            self._request(window.load_newest, to_bottom=True)

    # --- engine events -------------------------------------------------------------------

    async def on_engine_event(self, message: EngineEvent) -> None:
        """Show the effect of an engine event, and keep notices of every conversation."""
        event = message.event
        if isinstance(event, MessageReceived):
            self._check_risk(event.contact_id, event.message)
            if event.contact_id == self.contact_id:
                self._received(event.message)
        elif isinstance(event, MessageStatusChanged) and event.contact_id == self.contact_id:
            await self._status_changed(event.order, event.status)
        elif isinstance(event, DamagedMessage) and event.contact_id is not None:
            await self._add_notice(event.contact_id, t("chat.notice.damaged"))
        elif isinstance(event, SessionRenewed | MessagesMissing):
            await self._add_notice(event.contact_id, event.text(catalog.current().language))

    def _received(self, message: StoredMessage) -> None:
        window = self.window
        if window is None:
            if self._opening:
                self._held_back.append(message)
            return
        at_bottom = self._at_bottom()
        change = window.append(message, keep_top=not at_bottom)
        if not at_bottom or not change.added_bottom:
            self.new_count += 1
        self._relayout(to_bottom=at_bottom and bool(change.added_bottom))

    async def _status_changed(self, order: int, status: str) -> None:
        window = self.window
        if window is None:
            return
        if window.update_status(order, status):
            self._relayout()
            return
        # An own message sent from elsewhere in the app that this view has not seen yet.
        if window.at_newest and (not window.messages or order > window.messages[-1].order):
            stored = await self.engine.message(order)
            if self.window is window and stored.conversation_id == self._conversation_id:
                await self.show_sent(stored)

    def _check_risk(self, contact_id: int, message: StoredMessage) -> None:
        if message.direction != "in" or self.engine.state.role != "counselor":
            return
        cues = self._line_layout.match_cues(message)
        if cues:
            self.post_message(RiskCueSeen(contact_id, message.order, cues))

    async def _add_notice(self, contact_id: int, text: str) -> None:
        """Keep a notice after the newest message of its conversation, and show it if open."""
        window = self.window
        if contact_id == self.contact_id and window is not None and window.at_newest:
            after = window.messages[-1].order if window.messages else 0
        else:
            # The conversation is closed, still opening, or paged up: its newest message
            # comes from the store.
            try:
                newest = await self.engine.history(contact_id, limit=1)
            except RecordNotFound:
                return  # the contact was deleted while the event was on its way
            after = newest[-1].order if newest else 0
        self._notices.add(contact_id, Notice(after, text))
        if contact_id == self.contact_id:
            self._relayout(to_bottom=self._at_bottom())

    # --- keys and scrolling --------------------------------------------------------------

    def action_page_up(self) -> None:
        if self.scroll_y <= 0:
            self._load_older()
        self.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_home(self) -> None:
        if self.scroll_y <= 0:
            self._load_older()
        self.scroll_home(animate=False, immediate=True)

    def action_end(self) -> None:
        window = self.window
        self.new_count = 0
        if window is not None and not window.at_newest:
            self._request(window.load_newest, to_bottom=True)
            return
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_rewrite_failed(self) -> None:
        """Put the newest failed own message back into the composer, for sending again."""
        failed = self.window.newest_failed() if self.window is not None else None
        if failed is not None:
            self.post_message(InsertDraft(failed.body))
        elif self.window is not None:
            self.notify(t("chat.view.no_failed"), timeout=4)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) <= 0:
            self._load_older()
        if self._at_bottom():
            self.new_count = 0
            if self.window is not None and not self.window.at_newest:
                self._load_newer()
        self._mark_visible_read()

    def _load_older(self) -> None:
        if self.window is not None and self.window.has_older:
            self._request(self.window.load_older)

    def _load_newer(self) -> None:
        if self.window is not None and not self.window.at_newest:
            self._request(self.window.load_newer)

    def _request(
        self, step: Callable[[], Awaitable[WindowChange]], *, to_bottom: bool = False
    ) -> None:
        """Start a page load unless one runs; a jump to the newest waits for the running one."""
        if self._paging or self._opening:
            self._end_requested = self._end_requested or to_bottom
            return
        self._paging = True
        self.run_worker(self._load(step, to_bottom=to_bottom), group="chat-page")

    async def _load(
        self, step: Callable[[], Awaitable[WindowChange]], *, to_bottom: bool = False
    ) -> None:
        generation = self._generation
        try:
            change = await step()
        finally:
            self._paging = False
        if generation != self._generation:
            return
        if to_bottom or change != WindowChange():
            self._relayout(to_bottom=to_bottom)
        if self._end_requested:
            self._end_requested = False
            self.action_end()

    def _at_bottom(self) -> bool:
        return round(self.scroll_y) >= self.max_scroll_y

    def _mark_visible_read(self) -> None:
        window = self.window
        if window is None or self.contact_id is None or not self.is_attached:
            return
        if self.app.screen is not self.screen:
            return
        height = self.scrollable_content_region.height
        unread = window.unread_among(self._line_layout.orders_shown(round(self.scroll_y), height))
        if not unread:
            return
        for order in unread:
            window.update_status(order, "read")
        self.run_worker(self.engine.mark_read(self.contact_id, unread), group="chat-read")

    # --- layout and drawing --------------------------------------------------------------

    def on_resize(self) -> None:
        self._relayout(to_bottom=self._at_bottom())

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_layout.forget_blocks()
        if self.is_mounted:
            self.call_after_refresh(self._relayout_in_place)

    def _relayout_in_place(self) -> None:
        self._relayout(to_bottom=self._at_bottom())

    def _relayout(self, *, to_bottom: bool = False) -> None:
        """Rebuild the lines from the window, keeping the first visible message in place."""
        anchor = self._line_layout.anchor(round(self.scroll_y))
        self._build_lines()
        self.virtual_size = Size(self._width(), len(self._lines))
        target = self._line_layout.anchor_line(anchor) if anchor is not None else None
        if to_bottom:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif target is not None:
            self.scroll_to(y=target, animate=False, immediate=True)
        self.refresh()
        self._mark_visible_read()

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else 40

    def _build_lines(self) -> None:
        self._line_layout.build(
            self.window.messages if self.window is not None else None,
            self._notices.notices_for(self.contact_id),
            contact_open=self.contact_id is not None,
            counselor=self.engine.state.role == "counselor",
            width=self._width(),
            styles=line_styles(self),
            console=self.app.console,
        )

    def render_line(self, y: int) -> Strip:
        """Draw one row: a line of the window, or the new-messages marker on the last row."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        last_row = self.scrollable_content_region.height - 1
        if self.new_count and y == last_row and not self._at_bottom():
            text = t("chat.view.new_messages", count=self.new_count)
            marker = centered_line(text, width, line_styles(self).marker, self.app.console)
            return marker.apply_style(base)

        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, base)
        strip = self._lines[index].crop_extend(scroll_x, scroll_x + width, None)
        return strip.apply_style(base).apply_offsets(scroll_x, index)
