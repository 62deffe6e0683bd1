"""The chat view: one conversation's messages as scrollable lines.

The view draws lines itself (Textual's line API) instead of mounting one widget per
message, and it holds a bounded window of the history (:class:`.chat_window.HistoryWindow`):
paging up loads older pages and drops pages far below, so a conversation of any length
costs the same memory and opens as fast as a short one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date

from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    DamagedMessage,
    MessageReceived,
    MessagesMissing,
    MessageStatusChanged,
    SessionRenewed,
)
from konsel.client.core.risk_cues import RiskCues, match_risk_cues
from konsel.client.core.store import StoredMessage

from .. import catalog
from ..bindings import localize_bindings
from ..catalog import t
from ..messages import EngineEvent, InsertDraft, RiskCueSeen
from .chat_lines import (
    LineStyles,
    Sender,
    centered_line,
    day_label,
    message_block,
    message_time,
    notice_block,
)
from .chat_window import HistoryWindow, WindowChange

MAX_NOTICES = 20
"""Notices kept per open conversation; they live only while the conversation is open."""

_Block = tuple[int, str, list[Strip]]


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
    ChatView > .chat-view--own-name { color: $primary; text-style: bold; }
    ChatView > .chat-view--peer-name { color: $secondary; text-style: bold; }
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
        self.risk_cues = risk_cues
        """The school's risk cue list; None uses the packaged one."""
        self.contact_id: int | None = None
        self.window: HistoryWindow | None = None
        self.new_count = 0
        """Messages that arrived while the user read further up."""
        self._generation = 0
        self._conversation_id: int | None = None
        self._sender = Sender("", "")
        self._opening = False
        self._paging = False
        self._end_requested = False
        self._held_back: list[StoredMessage] = []
        self._notices: list[tuple[int, str]] = []
        self._cues: dict[int, tuple[str, ...]] = {}
        self._blocks: dict[int, _Block] = {}
        self._lines: list[Strip] = []
        self._line_orders: list[int | None] = []
        self._starts: dict[int, int] = {}
        localize_bindings(self)

    # --- opening a conversation ----------------------------------------------------------

    async def show_conversation(self, contact_id: int | None) -> None:
        """Show the newest messages of a contact's conversation, or nothing for None."""
        self._generation += 1
        generation = self._generation
        self.contact_id = contact_id
        self.window = None
        self.new_count = 0
        self._notices.clear()
        self._cues.clear()
        self._blocks.clear()
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
        self._sender = Sender(self.engine.state.display_name, contact.display_name)
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
        """Show the effect of an engine event on the open conversation."""
        event = message.event
        if isinstance(event, MessageReceived):
            self._check_risk(event.contact_id, event.message)
            if event.contact_id == self.contact_id:
                self._received(event.message)
        elif isinstance(event, MessageStatusChanged) and event.contact_id == self.contact_id:
            await self._status_changed(event.order, event.status)
        elif isinstance(event, DamagedMessage) and event.contact_id == self.contact_id:
            self._add_notice(t("chat.notice.damaged"))
        elif (
            isinstance(event, SessionRenewed | MessagesMissing)
            and event.contact_id == self.contact_id
        ):
            self._add_notice(event.text(catalog.current().language))

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
        cues = tuple(match_risk_cues(message.body, self.risk_cues))
        self._cues[message.order] = cues
        if cues:
            self.post_message(RiskCueSeen(contact_id, message.order, cues))

    def _add_notice(self, text: str) -> None:
        window = self.window
        after = window.messages[-1].order if window and window.messages else 0
        self._notices.append((after, text))
        del self._notices[:-MAX_NOTICES]
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
        window = self.window
        if window is None:
            return
        for message in reversed(window.messages):
            if message.direction == "out" and message.status == "failed":
                self.post_message(InsertDraft(message.body))
                return
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
        start = round(self.scroll_y)
        visible = set(self._line_orders[start : start + self.scrollable_content_region.height])
        unread = [
            message.order
            for message in window.messages
            if message.order in visible and message.direction == "in" and message.status != "read"
        ]
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
        # The cached lines carry the old theme's colours.
        self._blocks.clear()
        if self.is_mounted:
            self.call_after_refresh(self._relayout_in_place)

    def _relayout_in_place(self) -> None:
        self._relayout(to_bottom=self._at_bottom())

    def _relayout(self, *, to_bottom: bool = False) -> None:
        """Rebuild the lines from the window, keeping the first visible message in place."""
        anchor = self._anchor()
        self._build_lines()
        self.virtual_size = Size(self._width(), len(self._lines))
        if to_bottom:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif anchor is not None and anchor[0] in self._starts:
            target = self._starts[anchor[0]] + anchor[1]
            self.scroll_to(y=target, animate=False, immediate=True)
        self.refresh()
        self._mark_visible_read()

    def _anchor(self) -> tuple[int, int] | None:
        start = round(self.scroll_y)
        if start >= len(self._line_orders):
            return None
        order = self._line_orders[start]
        if order is None or order not in self._starts:
            return None
        return order, start - self._starts[order]

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else 40

    def _styles(self) -> LineStyles:
        base = self.rich_style
        return LineStyles(
            base=Style(),
            own_name=self.get_component_rich_style("chat-view--own-name", partial=True),
            peer_name=self.get_component_rich_style("chat-view--peer-name", partial=True),
            meta=self.get_component_rich_style("chat-view--meta", partial=True),
            failed=self.get_component_rich_style("chat-view--failed", partial=True),
            risk=self.get_component_rich_style("chat-view--risk", partial=True),
            notice=self.get_component_rich_style("chat-view--notice", partial=True),
            day=self.get_component_rich_style("chat-view--day", partial=True),
            marker=base + self.get_component_rich_style("chat-view--marker"),
        )

    def _build_lines(self) -> None:
        width = self._width()
        styles = self._styles()
        console = self.app.console
        lines: list[Strip] = []
        orders: list[int | None] = []
        starts: dict[int, int] = {}
        window = self.window

        def add(block: list[Strip], order: int | None) -> None:
            lines.extend(block)
            orders.extend([order] * len(block))

        if self.contact_id is None:
            add(notice_block(t("chat.view.no_conversation"), width, styles, console), None)
        elif window is not None and not window.messages:
            add(notice_block(t("chat.view.empty"), width, styles, console), None)
        notices: dict[int, list[str]] = {}
        for after, text in self._notices:
            notices.setdefault(after, []).append(text)
        for text in notices.get(0, []):
            add(notice_block(text, width, styles, console), None)

        previous_day: date | None = None
        today = date.today()
        held = window.messages if window is not None else []
        for message in held:
            shown_at = message_time(message)
            day = shown_at.date() if shown_at is not None else previous_day
            # Only a later day starts a separator, so a peer's wrong clock cannot make the
            # separators jump back and forth.
            if day is not None and (previous_day is None or day > previous_day):
                add(
                    [centered_line(day_label(day, today), width, styles.day, console)],
                    message.order,
                )
            previous_day = day
            starts[message.order] = len(lines)
            add(self._block(message, width, styles), message.order)
            for text in notices.get(message.order, []):
                add(notice_block(text, width, styles, console), message.order)

        self._lines, self._line_orders, self._starts = lines, orders, starts
        # Cached blocks and cue results of messages no longer held are dropped with them.
        self._blocks = {order: self._blocks[order] for order in starts if order in self._blocks}
        self._cues = {order: self._cues[order] for order in starts if order in self._cues}

    def _block(self, message: StoredMessage, width: int, styles: LineStyles) -> list[Strip]:
        cached = self._blocks.get(message.order)
        if cached is not None and cached[0] == width and cached[1] == message.status:
            return cached[2]
        cues = self._cues.get(message.order)
        if cues is None:
            counselor = self.engine.state.role == "counselor"
            found = match_risk_cues(message.body, self.risk_cues) if counselor else []
            cues = tuple(found) if message.direction == "in" else ()
            self._cues[message.order] = cues
        block = message_block(message, width, self._sender, cues, styles, self.app.console)
        self._blocks[message.order] = (width, message.status, block)
        return block

    def render_line(self, y: int) -> Strip:
        """Draw one row: a line of the window, or the new-messages marker on the last row."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        last_row = self.scrollable_content_region.height - 1
        if self.new_count and y == last_row and not self._at_bottom():
            text = t("chat.view.new_messages", count=self.new_count)
            marker = centered_line(text, width, self._styles().marker, self.app.console)
            return marker.apply_style(base)

        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, base)
        strip = self._lines[index].crop_extend(scroll_x, scroll_x + width, None)
        return strip.apply_style(base).apply_offsets(scroll_x, index)
