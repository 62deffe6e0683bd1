"""The relay sync loop: connect, subscribe, receive, send, and reconnect with backoff.

:class:`SyncLoop` keeps at most one :class:`RelayConnection` open. After the hello it
subscribes every inbox the engine owns, secures private inboxes whose peer sender key is
known, and refills the contact inbox's one-time prekeys. Then three tasks run until the
connection ends: the delivery reader (:mod:`.receive`), the outbox sender (:mod:`.outbox`)
and the delivery-receipt batcher. When the connection ends, it waits a
delay from :func:`backoff_delays` and connects again. A dead link with no close frame is
found by the WebSocket keepalive: no pong within ``ping_timeout`` closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nacl.signing import SigningKey
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from konsel.protocol.errors import DecodeError

from . import outbox, pairing, receive
from .events import EngineError, EngineErrorEvent
from .relay_connection import (
    Delivery,
    End,
    RelayCommandError,
    RelayConnection,
    RelayConnectionClosed,
)

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.sync")

FATAL_RELAY_CODES = frozenset({"UNSUPPORTED_VERSION", "TOKEN_REQUIRED", "TOKEN_INVALID"})
"""Relay error codes that another attempt with the same settings cannot fix."""

RECEIPT_DELAY = 0.05
"""Seconds the receipt batcher waits so that one receipt covers a burst of messages."""


@dataclass(frozen=True)
class SyncOptions:
    """Timing of the sync loop, in seconds."""

    first_delay: float = 1.0
    """Upper bound of the random first reconnect delay and the base of the growth."""
    max_delay: float = 60.0
    open_timeout: float = 10.0
    ping_interval: float | None = 60.0
    ping_timeout: float | None = 60.0
    close_timeout: float = 10.0
    """Wait for the closing handshake, also after a keepalive timeout, before the socket
    is dropped; on a dead link the whole wait passes before reconnecting."""
    retry_delay: float = 2.0
    """Wait before resending after the relay replied with RATE_LIMITED, QUOTA_EXCEEDED,
    STORAGE_FULL or INTERNAL."""


@dataclass
class EngineHooks:
    """Test hooks called at the points where a crash or a cut connection matters."""

    after_decrypt: Callable[[Delivery], Awaitable[None]] | None = None
    """Called after a decryption and before its commit."""
    before_ack: Callable[[Delivery], Awaitable[None]] | None = None
    """Called after the commit and before the ACK."""
    send_started: Callable[[bytes], Awaitable[None]] | None = None
    """Called with the envelope once a SEND frame is written and before its reply."""
    before_write: Callable[[], None] | None = None
    """Called in the worker thread before each store write that updates the engine's
    caches (:func:`~.engine_state.write_store`). It may block to keep the write waiting,
    or raise to make the write fail."""


def backoff_delays(
    first: float, cap: float, rng: Callable[[], float] = random.random
) -> Iterator[float]:
    """Yield reconnect delays: a random first delay, then exponential growth up to ``cap``.

    The first delay is uniform in [0, first) so that clients cut off together do not
    return together. Each later delay doubles, with jitter between half and all of it.
    """
    yield first * rng()
    delay = first
    while True:
        delay = min(cap, delay * 2)
        yield delay * (0.5 + rng() / 2)


def is_retryable(error: BaseException) -> bool:
    """Return whether connecting again with the same settings can succeed."""
    if isinstance(error, RelayCommandError):
        return error.code not in FATAL_RELAY_CODES
    if isinstance(error, InvalidURI):
        return False
    if isinstance(error, InvalidStatus):
        # 5xx and 429 are passing; 4xx means a wrong URL or subprotocol.
        status = error.response.status_code
        return status >= 500 or status == 429
    return isinstance(
        error,
        OSError
        | TimeoutError
        | RelayConnectionClosed
        | ConnectionClosed
        | InvalidHandshake
        | DecodeError,
    )


class SyncLoop:
    """The engine's connection to its relay, reconnecting until :meth:`stop`."""

    def __init__(self, engine: Engine, options: SyncOptions) -> None:
        self.engine = engine
        self.options = options
        self.connection: RelayConnection | None = None
        """The open connection, or None while offline. Tests abort its transport."""
        self.proven: set[bytes] = set()
        """Send ids this connection has proved a sender key for."""
        self._connected = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._receipt_wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop if the engine has a relay URL and the loop is not running."""
        if self.engine.state.relay_url is None:
            return
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="konsel-sync")

    async def stop(self) -> None:
        """Close the connection and end the loop; safe to call twice."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.connection = None
        self._connected.clear()

    def wake_outbox(self) -> None:
        """Ask the outbox sender to look for unsent envelopes."""
        self._outbox_wake.set()

    def wake_receipts(self) -> None:
        """Ask the receipt batcher to send delivery receipts soon."""
        self._receipt_wake.set()

    async def wait_connected(self, timeout: float) -> RelayConnection:  # noqa: ASYNC109
        """Return the open connection, waiting up to ``timeout`` seconds for one.

        Raises:
            TimeoutError: no connection came up in time.
        """
        async with asyncio.timeout(timeout):
            while True:
                await self._connected.wait()
                if self.connection is not None:
                    return self.connection
                await asyncio.sleep(0.01)

    async def resend(self, order: int) -> None:
        """Send one waiting text message now, if it is still in the outbox."""
        connection = self.connection
        if connection is None:
            raise EngineError("offline", "no relay connection")
        await outbox.send_now(self.engine, connection, self.proven, order)

    # --- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        url = self.engine.state.relay_url
        assert url is not None
        delays = backoff_delays(self.options.first_delay, self.options.max_delay)
        while not self._stopping.is_set():
            await self.engine.set_connection_state("connecting")
            try:
                connection = await RelayConnection.connect(
                    url,
                    open_timeout=self.options.open_timeout,
                    ping_interval=self.options.ping_interval,
                    ping_timeout=self.options.ping_timeout,
                )
            except Exception as error:
                if not is_retryable(error):
                    logger.error("cannot use the relay, stopping sync: %s", error)
                    self.engine.emit(EngineErrorEvent("relay_fatal", str(error)))
                    await self.engine.set_connection_state("offline")
                    return
                await self.engine.set_connection_state("offline")
                delay = next(delays)
                logger.info("connecting failed (%s); retrying in %.2f s", error, delay)
                await asyncio.sleep(delay)
                continue

            connection.websocket.close_timeout = self.options.close_timeout
            delays = backoff_delays(self.options.first_delay, self.options.max_delay)
            try:
                await self._serve(connection)
            except Exception as error:
                if is_retryable(error):
                    logger.info("connection ended: %s", error)
                else:
                    # A failure in handling, not in the network: report it and reconnect,
                    # so the unacknowledged delivery is tried again after the backoff.
                    logger.exception("sync failed; reconnecting")
                    self.engine.emit(EngineErrorEvent("sync_failed", type(error).__name__))
            finally:
                self.connection = None
                self._connected.clear()
                await connection.close()
            await self.engine.set_connection_state("offline")
            if not self._stopping.is_set():
                await asyncio.sleep(next(delays))

    async def _serve(self, connection: RelayConnection) -> None:
        self.engine.state.max_envelope = connection.hello.max_envelope
        self.proven = set()
        await self._subscribe_all(connection)
        self.connection = connection
        self._connected.set()
        await self.engine.set_connection_state("connected")

        self._outbox_wake.set()
        self._receipt_wake.set()
        helpers = [
            asyncio.create_task(self._outbox_loop(connection), name="konsel-outbox"),
            asyncio.create_task(self._receipt_loop(), name="konsel-receipts"),
        ]
        try:
            async for event in connection.deliveries():
                if isinstance(event, End):
                    logger.warning(
                        "subscription %s ended: %s", event.receive_id[:3].hex(), event.reason
                    )
                    continue
                await receive.handle_delivery(self.engine, connection, event)
        finally:
            for task in helpers:
                task.cancel()
            results = await asyncio.gather(*helpers, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception) and not is_retryable(result):
                    logger.error("sync helper failed: %r", result)

    async def _subscribe_all(self, connection: RelayConnection) -> None:
        state = self.engine.state
        contact_inbox = state.contact_inbox
        if contact_inbox is not None:
            owner = SigningKey(contact_inbox.owner_seed)
            subscribed = await connection.subscribe(contact_inbox.receive_id, owner)
            await pairing.refill_prekeys(self.engine, connection, subscribed.prekeys)

        for inbox in list(state.private_inboxes.values()):
            subscribed = await connection.subscribe(inbox.receive_id, SigningKey(inbox.owner_seed))
            route = state.routes.get(inbox.contact_id) if inbox.contact_id is not None else None
            if route is not None and route.peer_sender_key is not None and not subscribed.secured:
                await connection.secure(inbox.receive_id, route.peer_sender_key)

    async def _outbox_loop(self, connection: RelayConnection) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            try:
                done = await outbox.flush(self.engine, connection, self.proven)
            except RelayConnectionClosed:
                return
            if not done:
                await asyncio.sleep(self.options.retry_delay)
                self._outbox_wake.set()

    async def _receipt_loop(self) -> None:
        while True:
            await self._receipt_wake.wait()
            self._receipt_wake.clear()
            await asyncio.sleep(RECEIPT_DELAY)
            pending = self.engine.pending_delivered
            for contact_id in list(pending):
                # The ids stay in the engine's list until their receipt is committed, so a
                # cancellation here leaves them for the next connection.
                with contextlib.suppress(KeyError):
                    await outbox.send_receipt(
                        self.engine, contact_id, "delivered", pending[contact_id]
                    )
                if contact_id in pending and not pending[contact_id]:
                    del pending[contact_id]
