"""Push the queue of one subscribed inbox to its connection within a bounded window.

A subscription keeps a cursor (the sequence number of the last envelope pushed) and the
set of pushed envelopes not yet acknowledged. It pushes oldest first while fewer than
``window_count`` envelopes and ``window_bytes`` bytes are unacknowledged, then waits for
an ACK or a new SEND to wake it. Nothing is deleted here: the store deletes a message only
when its ACK arrives, and a new subscription starts again from the oldest stored message,
so every unacknowledged message is pushed again with the same message id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from konsel.protocol.relay_wire import Delivery

from .storage import Store

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

    def notify(self) -> None:
        """Wake the delivery task because a new envelope was stored."""
        self._wake.set()

    def acknowledged(self, message_ids: tuple[bytes, ...]) -> None:
        """Free window space for acknowledged envelopes and wake the delivery task."""
        for message_id in message_ids:
            size = self._unacknowledged.pop(message_id, None)
            if size is not None:
                self._unacknowledged_bytes -= size
        self._wake.set()

    def _room(self) -> tuple[int, int]:
        return (
            self.window.max_count - len(self._unacknowledged),
            self.window.max_bytes - self._unacknowledged_bytes,
        )

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
        while True:
            room_count, room_bytes = self._room()
            if room_count <= 0 or (self._unacknowledged and room_bytes <= 0):
                return

            batch = await self.store.read_queue(
                self.inbox_id, self._cursor, room_count, max(room_bytes, 1)
            )
            if not batch:
                return

            for message in batch:
                size = len(message.envelope)
                if (
                    self._unacknowledged
                    and self._unacknowledged_bytes + size > self.window.max_bytes
                ):
                    return
                self._unacknowledged[message.message_id] = size
                self._unacknowledged_bytes += size
                self._cursor = message.sequence
                await self._push(
                    Delivery(
                        self.receive_id,
                        message.message_id,
                        message.envelope,
                        message.received_at,
                    )
                )
