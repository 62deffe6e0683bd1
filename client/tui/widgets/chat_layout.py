"""Lay out the chat view's held messages, day separators and notices as screen lines.

The layout caches each message's lines and risk cues by order number. A relayout after
a new message, a status change or a page load therefore renders only the messages not
yet rendered at this width and status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from rich.console import Console
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from konsel.client.core.risk_cues import RiskCues, match_risk_cues
from konsel.client.core.store import StoredMessage

from .. import clock_zone
from ..catalog import t
from .chat_lines import (
    LineStyles,
    Sender,
    centered_line,
    day_label,
    message_block,
    message_time,
    notice_block,
)
from .chat_notices import Notice

_Block = tuple[int, str, list[Strip]]
"""A cached message block: the width and status it was rendered for, and its lines."""


def line_styles(widget: Widget) -> LineStyles:
    """Return the line styles from the ``chat-view--*`` component classes of ``widget``."""

    def partial(name: str) -> Style:
        return widget.get_component_rich_style(f"chat-view--{name}", partial=True)

    return LineStyles(
        base=Style(),
        own_name=partial("own-name"),
        peer_name=partial("peer-name"),
        meta=partial("meta"),
        failed=partial("failed"),
        risk=partial("risk"),
        notice=partial("notice"),
        day=partial("day"),
        marker=widget.rich_style + widget.get_component_rich_style("chat-view--marker"),
    )


class LineLayout:
    """The lines of the chat view's held messages, with the caches behind them."""

    def __init__(self, risk_cues: RiskCues | None = None) -> None:
        self.risk_cues = risk_cues
        """The school's risk cue list; None uses the packaged one."""
        self.sender = Sender("", "")
        """Names shown in message headers of the open conversation."""
        self.lines: list[Strip] = []
        """Every laid-out line, top to bottom."""
        self.line_orders: list[int | None] = []
        """For each line, the order number of the message it belongs to, or None."""
        self.starts: dict[int, int] = {}
        """For each held message, the index of its first line."""
        self._blocks: dict[int, _Block] = {}
        self._cues: dict[int, tuple[str, ...]] = {}

    def forget(self) -> None:
        """Drop the cached blocks and cue results, for opening another conversation."""
        self._blocks.clear()
        self._cues.clear()

    def forget_blocks(self) -> None:
        """Drop the cached blocks, whose lines carry the old theme's colours."""
        self._blocks.clear()

    def match_cues(self, message: StoredMessage) -> tuple[str, ...]:
        """Return the risk cues found in a message, and keep them for laying it out."""
        cues = tuple(match_risk_cues(message.body, self.risk_cues))
        self._cues[message.order] = cues
        return cues

    def anchor(self, line: int) -> tuple[int, int] | None:
        """Return the message at line index ``line`` and the line's offset in it, or None."""
        if line >= len(self.line_orders):
            return None
        order = self.line_orders[line]
        if order is None or order not in self.starts:
            return None
        return order, line - self.starts[order]

    def anchor_line(self, anchor: tuple[int, int]) -> int | None:
        """Return the line index of an anchor after a relayout, or None if it is gone."""
        order, offset = anchor
        start = self.starts.get(order)
        return None if start is None else start + offset

    def orders_shown(self, first_line: int, height: int) -> set[int]:
        """Return the order numbers of the messages with a line in the given rows."""
        return {
            order
            for order in self.line_orders[first_line : first_line + height]
            if order is not None
        }

    def build(
        self,
        messages: Sequence[StoredMessage] | None,
        notices: Iterable[Notice],
        *,
        contact_open: bool,
        counselor: bool,
        width: int,
        styles: LineStyles,
        console: Console,
    ) -> None:
        """Lay out ``messages`` with day separators, and each notice after its message.

        ``messages`` is None while a conversation opens. A hint goes on top when no
        conversation is open or the open one is empty. Only a counselor's view matches
        received messages against the risk cues.
        """
        lines: list[Strip] = []
        orders: list[int | None] = []
        starts: dict[int, int] = {}

        def add(block: list[Strip], order: int | None) -> None:
            lines.extend(block)
            orders.extend([order] * len(block))

        if not contact_open:
            add(notice_block(t("chat.view.no_conversation"), width, styles, console), None)
        elif messages is not None and not messages:
            add(notice_block(t("chat.view.empty"), width, styles, console), None)
        by_message: dict[int, list[str]] = {}
        for notice in notices:
            by_message.setdefault(notice.after, []).append(notice.text)
        for text in by_message.get(0, []):
            add(notice_block(text, width, styles, console), None)

        previous_day: date | None = None
        today = clock_zone.today()
        for message in messages or []:
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
            add(self._block(message, width, counselor, styles, console), message.order)
            for text in by_message.get(message.order, []):
                add(notice_block(text, width, styles, console), message.order)

        self.lines, self.line_orders, self.starts = lines, orders, starts
        # Cached blocks and cue results of messages no longer held are dropped with them.
        self._blocks = {order: self._blocks[order] for order in starts if order in self._blocks}
        self._cues = {order: self._cues[order] for order in starts if order in self._cues}

    def _block(
        self,
        message: StoredMessage,
        width: int,
        counselor: bool,
        styles: LineStyles,
        console: Console,
    ) -> list[Strip]:
        cached = self._blocks.get(message.order)
        if cached is not None and cached[0] == width and cached[1] == message.status:
            return cached[2]
        cues = self._cues.get(message.order)
        if cues is None:
            found = match_risk_cues(message.body, self.risk_cues) if counselor else []
            cues = tuple(found) if message.direction == "in" else ()
            self._cues[message.order] = cues
        block = message_block(message, width, self.sender, cues, styles, console)
        self._blocks[message.order] = (width, message.status, block)
        return block
