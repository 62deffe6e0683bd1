"""The bounded window of one conversation's history that the chat view holds in memory.

The store pages history backwards only (``Engine.history(before=order)``), so the window
remembers each page it drops at the bottom as (last order, count). Reloading that page
later asks for ``count`` messages before ``last order + 1``, which returns the same
messages because local order numbers only grow. Messages that arrive while the newest
ones are not held are fetched again from the newest end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from konsel.client.core.engine import Engine
from konsel.client.core.store import StoredMessage

FIRST_WINDOW = 200
"""Messages loaded when a conversation opens."""
PAGE_SIZE = 100
"""Messages loaded per step when paging up or down."""
MAX_HELD = 300
"""Most messages held at once; paging drops pages at the far end beyond this."""


@dataclass
class WindowChange:
    """How many messages one step added or dropped at each end of the window."""

    added_top: int = 0
    dropped_top: int = 0
    added_bottom: int = 0
    dropped_bottom: int = 0
    replaced: bool = False
    """True when the whole window was loaded again (opening, or jumping to the newest)."""


class HistoryWindow:
    """A contiguous run of one conversation's messages, oldest first, of bounded size."""

    def __init__(
        self,
        engine: Engine,
        contact_id: int,
        *,
        first_window: int = FIRST_WINDOW,
        page_size: int = PAGE_SIZE,
        max_held: int = MAX_HELD,
    ) -> None:
        if not 0 < page_size <= first_window <= max_held:
            raise ValueError("expected 0 < page_size <= first_window <= max_held")
        self.engine = engine
        self.contact_id = contact_id
        self.first_window = first_window
        self.page_size = page_size
        self.max_held = max_held
        self.messages: list[StoredMessage] = []
        """The held messages in display order, oldest first."""
        self.has_older = False
        """Whether the store has messages before the first held one."""
        self._newer_pages: list[tuple[int, int]] = []
        # Set when a message arrived while the newest messages were not held.
        self._missed_newer = False

    @property
    def at_newest(self) -> bool:
        """Whether the window ends with the newest message of the conversation."""
        return not self._newer_pages and not self._missed_newer

    def index_of(self, order: int) -> int | None:
        """Return the position of the message with ``order`` in the window, or None."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].order == order:
                return index
        return None

    async def load_newest(self) -> WindowChange:
        """Replace the window with the newest messages of the conversation."""
        messages = await self.engine.history(self.contact_id, limit=self.first_window)
        self.messages = messages
        self.has_older = len(messages) == self.first_window
        self._newer_pages.clear()
        self._missed_newer = False
        return WindowChange(replaced=True)

    async def load_older(self) -> WindowChange:
        """Load the page before the first held message and drop pages at the bottom."""
        if not self.has_older or not self.messages:
            return WindowChange()
        older = await self.engine.history(
            self.contact_id, before=self.messages[0].order, limit=self.page_size
        )
        self.has_older = len(older) == self.page_size
        self.messages = older + self.messages
        change = WindowChange(added_top=len(older))

        while len(self.messages) > self.max_held:
            page = self.messages[-self.page_size :]
            del self.messages[-self.page_size :]
            self._newer_pages.append((page[-1].order, len(page)))
            change.dropped_bottom += len(page)
        return change

    async def load_newer(self) -> WindowChange:
        """Load the page after the last held message and drop pages at the top.

        With no remembered page left but messages missed, the newest messages are read
        back until they meet the window. If more than a window's worth arrived, the
        window jumps to the newest messages instead.
        """
        if self._newer_pages:
            last_order, count = self._newer_pages.pop()
            newer = await self.engine.history(self.contact_id, before=last_order + 1, limit=count)
        elif self._missed_newer:
            read_back = await self._read_back_to_window()
            if read_back is None:
                return await self.load_newest()
            newer = read_back
            self._missed_newer = False
        else:
            return WindowChange()

        held_last = self.messages[-1].order if self.messages else 0
        newer = [message for message in newer if message.order > held_last]
        self.messages.extend(newer)
        change = WindowChange(added_bottom=len(newer))
        change.dropped_top = self._trim_top()
        return change

    async def _read_back_to_window(self) -> list[StoredMessage] | None:
        held_last = self.messages[-1].order if self.messages else 0
        collected: list[StoredMessage] = []
        before: int | None = None
        while len(collected) < self.max_held:
            page = await self.engine.history(self.contact_id, before=before, limit=self.page_size)
            collected = page + collected
            if not page or page[0].order <= held_last or len(page) < self.page_size:
                return collected
            before = page[0].order
        return None

    def append(self, message: StoredMessage, *, keep_top: bool = False) -> WindowChange:
        """Add a new message at the bottom, or remember that one was missed.

        A message already held, or older than the last held one, is ignored, so an event
        that races with a load does not show a message twice. With ``keep_top`` (the user
        reads further up) a full window is not trimmed at the top: the message is noted as
        missed and loaded when the user pages down.
        """
        full = len(self.messages) >= self.max_held
        if not self.at_newest or (keep_top and full):
            self._missed_newer = True
            return WindowChange()
        if self.messages and message.order <= self.messages[-1].order:
            return WindowChange()
        self.messages.append(message)
        change = WindowChange(added_bottom=1)
        change.dropped_top = self._trim_top()
        return change

    def newest_failed(self) -> StoredMessage | None:
        """Return the newest held own message that failed to send, or None."""
        for message in reversed(self.messages):
            if message.direction == "out" and message.status == "failed":
                return message
        return None

    def unread_among(self, orders: set[int]) -> list[int]:
        """Return the orders of held received messages in ``orders`` not yet marked read."""
        return [
            message.order
            for message in self.messages
            if message.order in orders and message.direction == "in" and message.status != "read"
        ]

    def update_status(self, order: int, status: str) -> bool:
        """Set the status of a held message; return whether it is held."""
        index = self.index_of(order)
        if index is None:
            return False
        self.messages[index] = replace(self.messages[index], status=status)
        return True

    def _trim_top(self) -> int:
        excess = len(self.messages) - self.max_held
        if excess <= 0:
            return 0
        # Drop whole pages, so the next page up starts at a page boundary again.
        dropped = -(-excess // self.page_size) * self.page_size
        dropped = min(dropped, len(self.messages) - 1)
        del self.messages[:dropped]
        self.has_older = True
        return dropped
