"""A minimal asyncio client for one connection to konsel-relay.

It connects with the ``konsel.relay.v1`` subprotocol, reads the server hello, sends the
client hello, and then sends commands with fresh request ids and awaits their replies.
Envelopes pushed by the relay come out of :meth:`RelayConnection.deliveries`. It does not
reconnect; a layer above it owns retries and resubscription::

    from nacl.signing import SigningKey
    from konsel.client.core.relay_connection import Delivery, RelayConnection

    owner = SigningKey.generate()
    async with await RelayConnection.connect("ws://127.0.0.1:7480") as relay:
        inbox = await relay.create_inbox("private", bytes(owner.verify_key))
        await relay.subscribe(inbox.receive_id, owner)
        await relay.send(inbox.send_id, b"opaque envelope")
        async for event in relay.deliveries():
            if isinstance(event, Delivery):
                await relay.ack(event.receive_id, [event.message_id])
                break

Pairing rendezvous (for short codes) use :meth:`RelayConnection.pair_open`,
:meth:`~RelayConnection.pair_join`, :meth:`~RelayConnection.pair_send` and
:meth:`~RelayConnection.pair_close`. Their ``pair_msg`` and ``pair_end`` frames come out
of a separate iterator, :meth:`RelayConnection.pair_events`, so that code reading
deliveries does not receive them.

A failed command raises :class:`RelayCommandError` with the relay's error code. A command
whose reply does not arrive within the request timeout raises :class:`RelayRequestTimeout`
and leaves the connection open. When the connection ends, pending commands raise
:class:`RelayConnectionClosed` and both iterators stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any, TypeVar

from nacl.signing import SigningKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from konsel.protocol import PROTOCOL_VERSION
from konsel.protocol.errors import DecodeError
from konsel.protocol.relay_wire import (
    COMMAND_TAGS,
    FRAME_OVERHEAD,
    LABEL_DELETE,
    LABEL_SENDER,
    LABEL_SUBSCRIBE,
    MAX_REQUEST_ID,
    SUBPROTOCOL,
    Ack,
    Command,
    Created,
    CreateInbox,
    DeleteInbox,
    Delivery,
    End,
    Error,
    FetchPrekeys,
    Hello,
    Ok,
    PairClose,
    PairEnd,
    PairJoin,
    PairMessage,
    PairOpen,
    PairOpened,
    PairSend,
    PrekeyBundle,
    ProveSender,
    PutPrekeys,
    Secure,
    Send,
    Sent,
    ServerHello,
    ServerMessage,
    Subscribe,
    Subscribed,
    Unsubscribe,
    decode_server_message,
    encode_command,
    frame_limits,
    signing_input,
)

__all__ = [
    "Delivery",
    "End",
    "PairEnd",
    "PairMessage",
    "PairOpened",
    "RelayCommandError",
    "RelayConnection",
    "RelayConnectionClosed",
    "RelayRequestTimeout",
]

logger = logging.getLogger("konsel.client.relay")

R = TypeVar("R", bound=ServerMessage)

MAX_QUEUED_EVENTS = 1024
"""Deliveries buffered before the reader waits for the application to take them."""
MAX_QUEUED_PAIR_EVENTS = 256
"""Pairing frames buffered for :meth:`RelayConnection.pair_events`; more are dropped.

The relay caps a connection at a few rendezvous of at most 16 messages each, so only a
client that never reads pairing events fills this."""
CLIENT_MAX_ENVELOPE = 16 * 1024 * 1024
"""Largest envelope the client accepts before it has read the relay's limit."""
DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds to wait for a reply after a command is sent. The relay replies to a SEND after
one commit, normally within milliseconds, so this only ends waits for a relay that hangs."""


class RelayConnectionClosed(Exception):
    """The connection to the relay ended before the reply arrived."""


class RelayRequestTimeout(TimeoutError):
    """The relay sent no reply to a command within the request timeout.

    The command may still take effect on the relay; a SEND repeated after this can be
    stored twice, which the end-to-end layer detects.
    """


class RelayCommandError(Exception):
    """The relay rejected a command with an ``err`` reply.

    Attributes:
        code: the relay's error code, for example ``AUTH_FAILED``.
        message: the relay's English explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RelayConnection:
    """One open connection to a relay; create it with :meth:`connect`.

    Args:
        request_timeout: seconds to wait for each reply once its command is sent.

    Raises:
        ValueError: ``request_timeout`` is not positive.
    """

    def __init__(
        self,
        websocket: ClientConnection,
        hello: ServerHello,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be positive, got {request_timeout}")
        self.websocket = websocket
        self.hello = hello
        """The server hello: protocol version, challenge and the relay's limits."""
        self.request_timeout = request_timeout
        self._limits = frame_limits(max(hello.max_envelope, 1))
        self._request_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ServerMessage]] = {}
        # Request id -> (deadline on the loop's clock, command tag). One timer per
        # connection checks them, because a timer per request costs more than the rest of
        # a small command's client-side work.
        self._deadlines: dict[int, tuple[float, str]] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self._events: asyncio.Queue[Delivery | End | None] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._pair_events: asyncio.Queue[PairMessage | PairEnd | None] = asyncio.Queue(
            MAX_QUEUED_PAIR_EVENTS
        )
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        open_timeout: float = 10.0,
        ping_interval: float | None = 60.0,
        ping_timeout: float | None = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> RelayConnection:
        """Open a connection, exchange hellos and start reading.

        ``request_timeout`` bounds the wait for each reply, the hello's included.

        Raises:
            ValueError: ``request_timeout`` is not positive.
            RelayRequestTimeout: the relay sent no reply to the hello in time.
            RelayCommandError: the relay rejected the hello (for example the version).
            RelayConnectionClosed: the relay closed the connection during the hello.
            OSError, TimeoutError, websockets.exceptions.InvalidHandshake: connecting failed.
        """
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be positive, got {request_timeout}")
        # websockets picks a default TLS context for wss:// only when ``ssl`` is absent.
        tls_options: dict[str, Any] = {"ssl": ssl_context} if ssl_context is not None else {}
        websocket = await connect(
            url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_size=CLIENT_MAX_ENVELOPE + FRAME_OVERHEAD,
            proxy=None,
            **tls_options,
        )
        try:
            try:
                async with asyncio.timeout(open_timeout):
                    first_frame = await websocket.recv()
            except ConnectionClosed as error:
                raise RelayConnectionClosed(
                    f"the relay closed the connection before its hello (code "
                    f"{websocket.close_code}, {websocket.close_reason or 'no reason'})"
                ) from error
            hello = decode_server_message(_as_bytes(first_frame), frame_limits(CLIENT_MAX_ENVELOPE))
            if not isinstance(hello, ServerHello):
                raise DecodeError("frame.t", "the first frame from the relay is not a hello")

            relay = cls(websocket, hello, request_timeout=request_timeout)
            relay._reader = asyncio.create_task(relay._read(), name="relay-reader")
            await relay._request(Hello(relay._next_id(), PROTOCOL_VERSION), Ok)
        except BaseException:
            await websocket.close()
            raise
        return relay

    async def __aenter__(self) -> RelayConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection and stop the reader; safe to call twice."""
        await self.websocket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    # --- commands -----------------------------------------------------------------------------

    @property
    def challenge(self) -> bytes:
        """The 32-byte challenge of this connection, bound into every signature."""
        return self.hello.challenge

    async def create_inbox(self, kind: str, owner_key: bytes, token: str | None = None) -> Created:
        """Create an inbox (``"private"`` or ``"contact"``) owned by an Ed25519 public key."""
        return await self._request(CreateInbox(self._next_id(), kind, owner_key, token), Created)

    async def subscribe(self, receive_id: bytes, owner: SigningKey) -> Subscribed:
        """Prove ownership with ``owner`` and start receiving the inbox's messages."""
        signature = owner.sign(signing_input(LABEL_SUBSCRIBE, self.challenge, receive_id))
        command = Subscribe(self._next_id(), receive_id, signature.signature)
        return await self._request(command, Subscribed)

    async def unsubscribe(self, receive_id: bytes) -> None:
        """Stop deliveries from an inbox on this connection."""
        await self._request(Unsubscribe(self._next_id(), receive_id), Ok)

    async def ack(self, receive_id: bytes, message_ids: Iterable[bytes]) -> int:
        """Acknowledge delivered messages; return how many the relay deleted."""
        reply = await self._request(Ack(self._next_id(), receive_id, tuple(message_ids)), Ok)
        return reply.count or 0

    async def send(self, send_id: bytes, envelope: bytes) -> bytes:
        """Store an envelope; return its relay message id once it is durable."""
        reply = await self._request(Send(self._next_id(), send_id, envelope), Sent)
        return reply.message_id

    async def secure(self, receive_id: bytes, sender_key: bytes) -> None:
        """Allow only the holder of ``sender_key`` to write to a subscribed private inbox."""
        await self._request(Secure(self._next_id(), receive_id, sender_key), Ok)

    async def prove_sender(self, send_id: bytes, sender: SigningKey) -> None:
        """Prove the sender key of a secured inbox once for this connection."""
        signature = sender.sign(signing_input(LABEL_SENDER, self.challenge, send_id))
        await self._request(ProveSender(self._next_id(), send_id, signature.signature), Ok)

    async def put_prekeys(
        self, receive_id: bytes, bundle: bytes | None, one_time_prekeys: Iterable[bytes]
    ) -> int:
        """Upload a bundle and/or one-time prekeys; return the one-time prekeys stored."""
        command = PutPrekeys(self._next_id(), receive_id, bundle, tuple(one_time_prekeys))
        reply = await self._request(command, Ok)
        return reply.count or 0

    async def fetch_prekeys(self, send_id: bytes) -> PrekeyBundle:
        """Fetch the bundle and one one-time prekey (``None`` when none is left)."""
        return await self._request(FetchPrekeys(self._next_id(), send_id), PrekeyBundle)

    async def delete_inbox(self, receive_id: bytes, owner: SigningKey) -> None:
        """Delete an inbox with all its messages and prekeys."""
        signature = owner.sign(signing_input(LABEL_DELETE, self.challenge, receive_id))
        await self._request(DeleteInbox(self._next_id(), receive_id, signature.signature), Ok)

    async def pair_open(self, ttl: int | None = None) -> PairOpened:
        """Open a pairing rendezvous as side A; return its nameplate and expiry.

        Args:
            ttl: seconds until the relay ends the rendezvous, 60 to 600; ``None`` lets
                the relay use its default of 600.
        """
        return await self._request(PairOpen(self._next_id(), ttl), PairOpened)

    async def pair_join(self, nameplate: int) -> None:
        """Join the rendezvous behind ``nameplate`` as side B.

        Raises:
            RelayCommandError: ``NOT_FOUND`` when the nameplate is unknown, expired,
                burned or already joined, so the user needs a new code;
                ``RATE_LIMITED`` after too many joins.
        """
        await self._request(PairJoin(self._next_id(), nameplate), Ok)

    async def pair_send(self, nameplate: int, body: bytes) -> None:
        """Pass one pairing message (at most 2,384 bytes) to the other side."""
        await self._request(PairSend(self._next_id(), nameplate, body), Ok)

    async def pair_close(self, nameplate: int) -> None:
        """End a rendezvous; the other side receives ``pair_end`` with ``"closed"``."""
        await self._request(PairClose(self._next_id(), nameplate), Ok)

    async def deliveries(self) -> AsyncIterator[Delivery | End]:
        """Yield deliveries and subscription-end notices until the connection closes."""
        while True:
            event = await self._events.get()
            if event is None:
                # Put the marker back so a second iterator also stops.
                with contextlib.suppress(asyncio.QueueFull):
                    self._events.put_nowait(None)
                return
            yield event

    async def pair_events(self) -> AsyncIterator[PairMessage | PairEnd]:
        """Yield pairing messages and rendezvous-end notices until the connection closes.

        Read this while a rendezvous is open: beyond :data:`MAX_QUEUED_PAIR_EVENTS`
        unread frames, new ones are dropped with a warning.
        """
        while True:
            event = await self._pair_events.get()
            if event is None:
                with contextlib.suppress(asyncio.QueueFull):
                    self._pair_events.put_nowait(None)
                return
            yield event

    # --- internals ---------------------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._request_ids) % (MAX_REQUEST_ID + 1)

    async def _request(self, command: Command, expected: type[R]) -> R:
        if self._reader is not None and self._reader.done():
            raise RelayConnectionClosed("the connection to the relay is closed")
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[command.request_id] = future
        try:
            try:
                await self.websocket.send(encode_command(command))
            except ConnectionClosed as error:
                raise RelayConnectionClosed("the connection to the relay is closed") from error
            # The clock starts once the frame is written, so a big envelope on a slow link
            # is not cut short. The send itself waits for buffer space without a bound of
            # its own; keepalive pings close a connection whose peer stopped reading.
            self._start_deadline(command)
            reply = await future
        finally:
            self._pending.pop(command.request_id, None)
            self._deadlines.pop(command.request_id, None)

        if isinstance(reply, Error):
            raise RelayCommandError(reply.code, reply.message)
        if not isinstance(reply, expected):
            raise DecodeError(
                "frame.t", f"expected {expected.__name__}, got {type(reply).__name__}"
            )
        return reply

    def _start_deadline(self, command: Command) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout
        self._deadlines[command.request_id] = (deadline, COMMAND_TAGS[type(command)])
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.request_timeout / 4, self._expire_requests)

    def _expire_requests(self) -> None:
        """Fail every request whose reply is overdue; runs every quarter of the timeout.

        So a request fails between 1 and 1.25 request timeouts after its frame was sent.
        """
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for request_id, (deadline, tag) in list(self._deadlines.items()):
            future = self._pending.get(request_id)
            if deadline > now or future is None or future.done():
                continue
            future.set_exception(
                RelayRequestTimeout(
                    f"the relay sent no reply to {tag!r} (request id {request_id}) within "
                    f"{self.request_timeout:g} s; the command may still take effect"
                )
            )
        if self._deadlines:
            self._watchdog = loop.call_later(self.request_timeout / 4, self._expire_requests)

    async def _read(self) -> None:
        try:
            async for frame in self.websocket:
                try:
                    message = decode_server_message(_as_bytes(frame), self._limits)
                except DecodeError as error:
                    logger.warning("ignored an invalid frame from the relay: %s", error)
                    continue
                await self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            closed = RelayConnectionClosed(
                f"the relay closed the connection (code {self.websocket.close_code})"
            )
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(closed)
            # Make room for the end markers even when the application stopped reading.
            for queue in (self._events, self._pair_events):
                while queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)

    async def _dispatch(self, message: ServerMessage) -> None:
        if isinstance(message, Delivery | End):
            await self._events.put(message)
            return
        if isinstance(message, PairMessage | PairEnd):
            # Dropped rather than awaited, so unread pairing frames never stall deliveries.
            try:
                self._pair_events.put_nowait(message)
            except asyncio.QueueFull:
                logger.warning("dropped a pairing frame: %d unread", MAX_QUEUED_PAIR_EVENTS)
            return

        request_id = getattr(message, "request_id", None)
        future = self._pending.get(request_id) if request_id is not None else None
        if future is None:
            if isinstance(message, Error):
                logger.warning("relay error without a pending request: %s", message.code)
            return
        if not future.done():
            future.set_result(message)


def _as_bytes(frame: str | bytes) -> bytes:
    if isinstance(frame, str):
        raise DecodeError("frame", "the relay sent a text frame")
    return frame
