"""Push the queue of one subscribed inbox to its connection within a bounded window.

A subscription keeps a cursor (the sequence number of the last envelope pushed) and the
set of pushed envelopes not yet acknowledged. It pushes oldest first while fewer than
``window_count`` envelopes and ``window_bytes`` bytes are unacknowledged, then waits for
an ACK or a new SEND to wake it. Nothing is deleted here: the store deletes a message only
when its ACK arrives, and a new subscription starts again from the oldest stored message,
so every unacknowledged message is pushed again with the same message id.

Envelopes come from two sources. A new subscription, and any subscription that may have
missed an envelope, reads the store from its cursor. Once a read finds nothing after the
cursor, the subscription is in sync: every envelope committed later is offered to it by
the SEND that stored it, and it pushes that envelope from memory, without a read. An
offered envelope that does not fit in the window, or that arrives out of order, is
dropped from memory and ends the sync, so the subscription reads the store again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from konsel.protocol.relay_wire import Delivery

from .storage import Store, StoredMessage

logger = logging.getLogger("konsel.relay.delivery")


@dataclass(frozen=True)
class Window:
    """Bounds on unacknowledged deliveries per subscription."""

    max_count: int
    max_bytes: int


class Subscription:
    """The delivery state of one inbox on one connection.

    Args:
        push: sends one delivery to the client; raises when the connection is gone.
    """

    # Slots keep an idle subscription small, and a relay keeps one per subscribed inbox.
    __slots__ = (
        "_connection_id",
        "_cursor",
        "_drops",
        "_in_sync",
        "_offered",
        "_offered_bytes",
        "_push",
        "_task",
        "_unacknowledged",
        "_unacknowledged_bytes",
        "_wake",
        "inbox_id",
        "receive_id",
        "store",
        "window",
    )

    def __init__(
        self,
        store: Store,
        inbox_id: int,
        receive_id: bytes,
        window: Window,
        push: Callable[[Delivery], Awaitable[None]],
        connection_id: str,
    ) -> None:
        self.store = store
        self.inbox_id = inbox_id
        self.receive_id = receive_id
        self.window = window
        self._push = push
        self._connection_id = connection_id
        self._cursor = 0
        self._unacknowledged: dict[bytes, int] = {}
        self._unacknowledged_bytes = 0

        # Committed envelopes offered by SENDs and not yet pushed, oldest first. One is kept
        # only if it fits in the window after the unacknowledged and earlier kept ones, so
        # memory per subscription stays near one window, as a read of the store does. It is
        # a list because an empty deque costs 760 bytes on every idle subscription.
        self._offered: list[StoredMessage] = []
        self._offered_bytes = 0
        self._in_sync = False
        """Whether every committed envelope after the cursor is in ``_offered``."""
        self._drops = 0
        """Offered envelopes not kept in memory; a change voids a sync in progress."""

        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start pushing the stored queue."""
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"delivery-{self._connection_id}")

    async def stop(self) -> None:
        """Stop pushing; safe to call twice and from the delivery task's own connection."""
        task, self._task = self._task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def offer(self, message: StoredMessage) -> None:
        """Take a newly committed envelope for a push from memory and wake the delivery task.

        Every envelope committed to the inbox after :meth:`start` must be offered, in
        commit order, because an in-sync subscription reads the store only after a drop.
        One offered out of order is not lost but read from the store later, as is one
        that does not fit in the window.
        """
        self._forget_offered_through(self._cursor)
        if message.sequence <= self._cursor:
            return

        size = len(message.envelope)
        newest = self._offered[-1].sequence if self._offered else self._cursor
        in_order = message.sequence > newest
        if in_order and self._window_admits(len(self._offered), self._offered_bytes, size):
            self._offered.append(message)
            self._offered_bytes += size
        else:
            # The store still has it, so a read after the cursor pushes it in order.
            self._in_sync = False
            self._drops += 1
        self._wake.set()

    def acknowledged(self, message_ids: tuple[bytes, ...]) -> None:
        """Free window space for acknowledged envelopes and wake the delivery task."""
        for message_id in message_ids:
            size = self._unacknowledged.pop(message_id, None)
            if size is not None:
                self._unacknowledged_bytes -= size
        if self._offered:
            # A client may acknowledge an id from a SEND reply before its delivery. The
            # store has then deleted it, so memory must not push it either.
            deleted = set(message_ids)
            remaining = [message for message in self._offered if message.message_id not in deleted]
            if len(remaining) != len(self._offered):
                self._offered = remaining
                self._offered_bytes = sum(len(message.envelope) for message in remaining)
        self._wake.set()

    def _has_room(self) -> bool:
        in_flight = len(self._unacknowledged)
        if in_flight >= self.window.max_count:
            return False
        return in_flight == 0 or self._unacknowledged_bytes < self.window.max_bytes

    def _window_admits(self, ahead_count: int, ahead_bytes: int, size: int) -> bool:
        # ``ahead_*`` are envelopes that will be pushed before this one. One envelope larger
        # than the byte window is still pushed when nothing else is in flight.
        in_flight = len(self._unacknowledged) + ahead_count
        if in_flight >= self.window.max_count:
            return False
        if in_flight == 0:
            return True
        return self._unacknowledged_bytes + ahead_bytes + size <= self.window.max_bytes

    def _forget_offered_through(self, sequence: int) -> None:
        while self._offered and self._offered[0].sequence <= sequence:
            self._offered_bytes -= len(self._offered.pop(0).envelope)

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self._fill_window()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The connection is closing or closed; its own handler logs why.
            logger.debug("[%s] delivery stopped: %s", self._connection_id, error)

    async def _fill_window(self) -> None:
        while self._has_room():
            if self._in_sync:
                went_on = await self._push_offered()
            else:
                went_on = await self._push_from_store()
            if not went_on:
                return

    async def _push_offered(self) -> bool:
        """Push the oldest offered envelope; return whether to go on filling."""
        self._forget_offered_through(self._cursor)
        if not self._offered:
            return False
        message = self._offered[0]
        if not self._window_admits(0, 0, len(message.envelope)):
            return False
        self._offered.pop(0)
        self._offered_bytes -= len(message.envelope)
        await self._send(message)
        return True

    async def _push_from_store(self) -> bool:
        """Push one read of the store after the cursor; return whether to go on filling."""
        drops_before = self._drops
        # Offered envelopes up to here were committed before the read starts, so the read
        # returns each of them that still exists.
        covered = self._offered[-1].sequence if self._offered else 0
        room_count = self.window.max_count - len(self._unacknowledged)
        room_bytes = self.window.max_bytes - self._unacknowledged_bytes
        batch = await self.store.read_queue(
            self.inbox_id, self._cursor, room_count, max(room_bytes, 1)
        )
        self._forget_offered_through(covered)

        if not batch:
            # Every envelope committed after the read was offered afterwards. If none of
            # them was dropped, memory contains every envelope the store has after the cursor.
            # Otherwise the loop reads again, and that read finds the dropped envelope.
            if self._drops == drops_before:
                self._in_sync = True
            return True

        for message in batch:
            if not self._window_admits(0, 0, len(message.envelope)):
                return False
            await self._send(message)
        self._forget_offered_through(self._cursor)
        return True

    async def _send(self, message: StoredMessage) -> None:
        self._unacknowledged[message.message_id] = len(message.envelope)
        self._unacknowledged_bytes += len(message.envelope)
        self._cursor = message.sequence
        await self._push(
            Delivery(self.receive_id, message.message_id, message.envelope, message.received_at)
        )
