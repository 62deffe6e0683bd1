"""Serve one client connection: the hello, a dispatch table of commands, and replies.

Each connection gets a fresh 32-byte challenge in the server hello. Owners sign it (with
a label and the receive id) to subscribe or delete. Secured senders sign it (with the
send id) once to prove their key. Proofs and subscriptions live only as long as the
connection, so a signature captured on one connection is useless on any other.

Commands are handled one at a time in arrival order. A SEND is the exception: its store
job is queued in order, but its reply is sent by a separate task once the commit is
durable, so one client can pipeline many SENDs into a single commit batch.

The pairing commands (``pair_open``, ``pair_join``, ``pair_send``, ``pair_close``) go to
the relay's in-memory :class:`~konsel.relay.rendezvous.RendezvousRegistry`. Frames that
the other side of a rendezvous causes are queued here and sent in order by one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from konsel.protocol import PROTOCOL_VERSION
from konsel.protocol.errors import CommandDecodeError
from konsel.protocol.relay_wire import (
    CHALLENGE_SIZE,
    DEFAULT_PAIR_TTL,
    KIND_CONTACT,
    KIND_PRIVATE,
    LABEL_DELETE,
    LABEL_SENDER,
    LABEL_SUBSCRIBE,
    MAX_ERROR_MESSAGE_LENGTH,
    Ack,
    CloseCode,
    Command,
    Created,
    CreateInbox,
    DeleteInbox,
    Delivery,
    End,
    Error,
    ErrorCode,
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
    decode_command,
    encode_server_message,
    frame_limits,
)

from .auth import signature_is_valid
from .delivery import Subscription
from .errors import RelayError
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .server import RelayServer

logger = logging.getLogger("konsel.relay.connection")

MAX_SUBSCRIPTIONS = 256
MAX_PROVEN_SENDERS = 1024
MAX_PENDING_SENDS = 64
"""SENDs of one connection waiting for their commit; reading pauses beyond this."""


def short_id(value: bytes) -> str:
    """Return the first 6 hex digits of an id, the most of an id the relay ever logs."""
    return value.hex()[:6]


def client_address(websocket: ServerConnection, forwarded_header: str | None) -> str:
    """Return the address that per-IP limits count: the proxy's header entry or the peer."""
    if forwarded_header and websocket.request is not None:
        forwarded = websocket.request.headers.get(forwarded_header)
        if forwarded:
            # A proxy appends the address it saw, so the last entry is the one it vouches for.
            return forwarded.split(",")[-1].strip()[:64]
    peer = websocket.remote_address
    return str(peer[0]) if peer else "unknown"


class Connection:
    """One client connection and its per-connection state."""

    def __init__(self, relay: RelayServer, websocket: ServerConnection) -> None:
        self.relay = relay
        self.websocket = websocket
        self.connection_id = secrets.token_hex(3)
        self.challenge = os.urandom(CHALLENGE_SIZE)
        self.address = client_address(websocket, relay.config.forwarded_header)

        config = relay.config
        self.limits = frame_limits(config.max_envelope)
        self.command_bucket = TokenBucket(config.command_rate, 1.0, burst=2 * config.command_rate)
        self.subscriptions: dict[bytes, Subscription] = {}
        # Send id -> the sender key proven for it. Keeping the key means a proof made
        # under a key that the owner has since replaced no longer counts.
        self.proven_senders: dict[bytes, bytes] = {}
        self.background_tasks: set[asyncio.Task[None]] = set()
        """SEND completions and notices in flight; the connection waits for them on close."""
        self.send_slots = asyncio.Semaphore(MAX_PENDING_SENDS)
        self.rendezvous = relay.rendezvous
        # Pairing frames from the other side of a rendezvous, sent in order by one task.
        self._pair_frames: deque[PairMessage | PairEnd] = deque()
        self._pair_writer: asyncio.Task[None] | None = None

        self.handlers: dict[type[Any], Callable[[Any], Awaitable[None]]] = {
            CreateInbox: self.on_create,
            Subscribe: self.on_subscribe,
            Unsubscribe: self.on_unsubscribe,
            Ack: self.on_ack,
            Send: self.on_send,
            Secure: self.on_secure,
            ProveSender: self.on_prove,
            PutPrekeys: self.on_put_prekeys,
            FetchPrekeys: self.on_fetch_prekeys,
            DeleteInbox: self.on_delete,
            PairOpen: self.on_pair_open,
            PairJoin: self.on_pair_join,
            PairSend: self.on_pair_send,
            PairClose: self.on_pair_close,
            Hello: self.on_repeated_hello,
        }

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection: limits, hello, then commands until the client leaves."""
        relay = self.relay
        if relay.connections_per_ip[self.address] >= relay.config.max_connections_per_ip:
            logger.warning(
                "[%s] rejected: too many connections from one address", self.connection_id
            )
            await self.websocket.close(CloseCode.POLICY_VIOLATION, "too many connections")
            return

        relay.connections_per_ip[self.address] += 1
        relay.metrics.connections.inc()
        logger.info("[%s] open", self.connection_id)
        try:
            if await self._handshake():
                await self._serve_commands()
        except ConnectionClosed:
            pass
        finally:
            await self._cleanup()
            logger.info("[%s] closed (code %s)", self.connection_id, self.websocket.close_code)

    async def _cleanup(self) -> None:
        # The other side of each rendezvous learns at once that this one is gone.
        self.rendezvous.drop(self)

        for subscription in list(self.subscriptions.values()):
            await subscription.stop()
            self.relay.unregister(subscription)
        self.subscriptions.clear()

        # Pending SENDs finish first, so shutdown never drops a commit in flight.
        if self.background_tasks:
            await asyncio.gather(*self.background_tasks, return_exceptions=True)

        relay = self.relay
        relay.metrics.connections.dec()
        relay.connections_per_ip[self.address] -= 1
        if relay.connections_per_ip[self.address] <= 0:
            del relay.connections_per_ip[self.address]

    async def _handshake(self) -> bool:
        config = self.relay.config
        await self.push(
            ServerHello(
                PROTOCOL_VERSION,
                self.challenge,
                config.max_envelope,
                config.window_count,
                config.window_bytes,
            )
        )
        try:
            async with asyncio.timeout(config.handshake_timeout):
                frame = await self.websocket.recv()
        except TimeoutError:
            logger.info("[%s] no hello within %.1f s", self.connection_id, config.handshake_timeout)
            await self.websocket.close(CloseCode.HELLO_TIMEOUT, "hello timeout")
            return False

        command = await self._decode(frame)
        if command is None:
            await self.websocket.close(CloseCode.POLICY_VIOLATION, "hello required")
            return False
        if not isinstance(command, Hello):
            await self.reply_error(command.request_id, ErrorCode.HELLO_REQUIRED, "send hello first")
            await self.websocket.close(CloseCode.POLICY_VIOLATION, "hello required")
            return False
        if command.version != PROTOCOL_VERSION:
            await self.reply_error(
                command.request_id,
                ErrorCode.UNSUPPORTED_VERSION,
                f"version {command.version} is not supported; this relay speaks {PROTOCOL_VERSION}",
            )
            await self.websocket.close(CloseCode.UNSUPPORTED_VERSION, "unsupported version")
            return False

        await self.push(Ok(command.request_id))
        return True

    async def _serve_commands(self) -> None:
        async for frame in self.websocket:
            if not self.command_bucket.allow():
                await self._reject_rate_limited(frame)
                continue

            command = await self._decode(frame)
            if command is None:
                continue

            handler = self.handlers[type(command)]
            try:
                await handler(command)
            except RelayError as error:
                await self.reply_error(command.request_id, error.code, error.message)
            except ConnectionClosed:
                raise
            except Exception:
                # A bug in one handler gets an INTERNAL reply and leaves the connection open.
                logger.exception(
                    "[%s] %s handler failed", self.connection_id, type(command).__name__
                )
                await self.reply_error(command.request_id, ErrorCode.INTERNAL, "internal error")

    async def _reject_rate_limited(self, frame: str | bytes) -> None:
        # The frame is decoded only to echo its request id, so the client can match the
        # reply. The frame limits bound this decode as they bound every other one.
        request_id: int | None = None
        if isinstance(frame, bytes):
            try:
                request_id = decode_command(frame, self.limits).request_id
            except CommandDecodeError as error:
                request_id = error.request_id
        await self.reply_error(request_id, ErrorCode.RATE_LIMITED, "too many commands")

    async def _decode(self, frame: str | bytes) -> Command | None:
        if isinstance(frame, str):
            await self.reply_error(None, ErrorCode.BAD_FRAME, "text frames are not accepted")
            return None
        try:
            return decode_command(frame, self.limits)
        except CommandDecodeError as error:
            await self.reply_error(error.request_id, error.code, str(error))
            return None

    # --- sending ----------------------------------------------------------------------------

    async def push(self, message: ServerMessage) -> None:
        """Send one frame, closing the connection if the client does not read in time.

        Raises:
            ConnectionClosed: the connection is closed, or was closed here because the
                send waited longer than the write timeout.
        """
        data = encode_server_message(message)
        websocket = self.websocket
        # websockets' send() waits only when a write leaves more than the write limit in
        # the transport's buffer. A frame of at most half the limit, written to an empty
        # buffer, cannot do that, so it needs no timer: arming one per frame costs more
        # than the rest of the send.
        if (
            not websocket.paused
            and websocket.transport.get_write_buffer_size() == 0
            and len(data) <= self.relay.config.write_buffer // 2
        ):
            await websocket.send(data)
            return
        try:
            async with asyncio.timeout(self.relay.config.write_timeout):
                await websocket.send(data)
        except TimeoutError:
            self.relay.metrics.closed_stuck.inc()
            logger.warning(
                "[%s] closed: a send waited %.1f s for the client to read (write timeout)",
                self.connection_id,
                self.relay.config.write_timeout,
            )
            # A close handshake would wait behind the same full buffer, so abort instead.
            websocket.transport.abort()
            raise ConnectionClosed(None, None) from None

    async def reply_error(self, request_id: int | None, code: str, message: str) -> None:
        """Send an ``err`` reply, log it with its code and count it."""
        self.relay.metrics.errors.labels(code).inc()
        logger.info("[%s] error %s (r=%s): %s", self.connection_id, code, request_id, message)
        await self.push(Error(request_id, code, message[:MAX_ERROR_MESSAGE_LENGTH]))

    async def end_subscription(self, subscription: Subscription, reason: str) -> None:
        """End a subscription of this connection from outside (replaced or deleted).

        The ``end`` notice is sent from a task, so a caller on another connection does not
        wait for this connection's write timeout.
        """
        if self.subscriptions.get(subscription.receive_id) is subscription:
            del self.subscriptions[subscription.receive_id]
        await subscription.stop()
        self._track(asyncio.create_task(self._notify_end(subscription.receive_id, reason)))

    async def _notify_end(self, receive_id: bytes, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.push(End(receive_id, reason))

    def queue_pair_frame(self, frame: PairMessage | PairEnd) -> None:
        """Queue a pairing frame and make sure a writer task sends the queue in order.

        The caller is another connection's handler or a timer, so it must not wait for
        this client to read. The queue is bounded by the rendezvous caps: at most
        ``pair_max_per_connection`` rendezvous of 16 messages and one end notice each.
        """
        self._pair_frames.append(frame)
        if self._pair_writer is None or self._pair_writer.done():
            self._pair_writer = asyncio.create_task(self._write_pair_frames())
            self._track(self._pair_writer)

    async def _write_pair_frames(self) -> None:
        # The task ends as soon as the queue is empty. No await comes between the last
        # emptiness check and the end of the task, so a frame queued later starts a new one.
        try:
            while self._pair_frames:
                await self.push(self._pair_frames.popleft())
        except ConnectionClosed:
            self._pair_frames.clear()

    def _track(self, task: asyncio.Task[None]) -> None:
        self.background_tasks.add(task)
        task.add_done_callback(self.background_tasks.discard)

    # --- handlers ---------------------------------------------------------------------------

    async def on_repeated_hello(self, command: Hello) -> None:
        raise RelayError(ErrorCode.BAD_FRAME, "hello was already received on this connection")

    async def on_create(self, command: CreateInbox) -> None:
        config = self.relay.config
        if config.creation_token is not None:
            if command.token is None:
                raise RelayError(ErrorCode.TOKEN_REQUIRED, "this relay requires a creation token")
            if not secrets.compare_digest(command.token.encode(), config.creation_token.encode()):
                raise RelayError(ErrorCode.TOKEN_INVALID, "the creation token is not valid")
        if not self.relay.create_limiter.allow(self.address):
            raise RelayError(ErrorCode.RATE_LIMITED, "too many inboxes created from this address")

        inbox = await self.relay.store.create_inbox(
            command.kind, command.owner_key, int(time.time())
        )
        logger.info(
            "[%s] created %s inbox %s", self.connection_id, command.kind, short_id(inbox.receive_id)
        )
        await self.push(Created(command.request_id, inbox.receive_id, inbox.send_id))

    async def on_subscribe(self, command: Subscribe) -> None:
        inbox = await self.relay.store.inbox_by_receive_id(command.receive_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if not signature_is_valid(
            inbox.owner_key, LABEL_SUBSCRIBE, self.challenge, command.receive_id, command.signature
        ):
            raise RelayError(ErrorCode.AUTH_FAILED, "signature is not valid for this inbox")
        if (
            command.receive_id not in self.subscriptions
            and len(self.subscriptions) >= MAX_SUBSCRIPTIONS
        ):
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED,
                f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection",
            )

        earlier = self.subscriptions.pop(command.receive_id, None)
        if earlier is not None:
            await earlier.stop()
            self.relay.unregister(earlier)
        prekeys = (
            await self.relay.store.count_prekeys(inbox.inbox_id)
            if inbox.kind == KIND_CONTACT
            else 0
        )

        subscription = Subscription(
            self.relay.store,
            inbox.inbox_id,
            inbox.receive_id,
            self.relay.window,
            self._push_delivery,
            self.connection_id,
        )
        self.subscriptions[command.receive_id] = subscription
        await self.relay.register(subscription, self)
        logger.info("[%s] subscribed to %s", self.connection_id, short_id(inbox.receive_id))

        await self.push(
            Subscribed(
                command.request_id, inbox.queued_count, prekeys, inbox.sender_key is not None
            )
        )
        subscription.start()

    async def _push_delivery(self, delivery: Delivery) -> None:
        await self.push(delivery)
        self.relay.metrics.deliveries.inc()

    async def on_unsubscribe(self, command: Unsubscribe) -> None:
        subscription = self._subscription(command.receive_id)
        del self.subscriptions[command.receive_id]
        await subscription.stop()
        self.relay.unregister(subscription)
        await self.push(Ok(command.request_id))

    def _subscription(self, receive_id: bytes) -> Subscription:
        subscription = self.subscriptions.get(receive_id)
        if subscription is None:
            raise RelayError(
                ErrorCode.NOT_SUBSCRIBED, "subscribe to this inbox on this connection first"
            )
        return subscription

    async def on_ack(self, command: Ack) -> None:
        subscription = self._subscription(command.receive_id)
        deleted = await self.relay.store.acknowledge(subscription.inbox_id, command.message_ids)
        self.relay.metrics.acknowledged.inc(deleted)
        subscription.acknowledged(command.message_ids)
        await self.push(Ok(command.request_id, deleted))

    async def on_send(self, command: Send) -> None:
        if len(command.envelope) > self.relay.config.max_envelope:
            raise RelayError(
                ErrorCode.TOO_LARGE,
                f"envelope of {len(command.envelope)} bytes exceeds the limit of "
                f"{self.relay.config.max_envelope}",
            )
        inbox = await self.relay.inbox_by_send_id(command.send_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if (
            inbox.sender_key is not None
            and self.proven_senders.get(command.send_id) != inbox.sender_key
        ):
            raise RelayError(
                ErrorCode.PROOF_REQUIRED, "this inbox is secured; prove the sender key first"
            )
        if inbox.kind == KIND_CONTACT:
            self._check_contact_rate(inbox.send_id)

        # The store queues the job synchronously when the task first runs, and tasks run in
        # creation order, so envelopes from one connection are stored in the order sent.
        await self.send_slots.acquire()
        self._track(asyncio.create_task(self._store_envelope(command, inbox.inbox_id)))

    async def _store_envelope(self, command: Send, inbox_id: int) -> None:
        try:
            try:
                stored = await self.relay.store.append(inbox_id, command.envelope, int(time.time()))
            except RelayError as error:
                await self.reply_error(command.request_id, error.code, error.message)
                return
            self.relay.metrics.messages_stored.inc()
            # No await comes between the commit's result and this offer, so subscribers
            # are offered envelopes in commit order.
            self.relay.notify_stored(inbox_id, stored)
            await self.push(Sent(command.request_id, stored.message_id))
        except ConnectionClosed:
            pass
        finally:
            self.send_slots.release()

    def _check_contact_rate(self, send_id: bytes) -> None:
        if not self.relay.contact_inbox_limiter.allow(send_id):
            raise RelayError(ErrorCode.RATE_LIMITED, "too many requests to this inbox")
        if not self.relay.contact_ip_limiter.allow(self.address):
            raise RelayError(ErrorCode.RATE_LIMITED, "too many requests from this address")

    async def on_secure(self, command: Secure) -> None:
        subscription = self._subscription(command.receive_id)
        inbox = await self.relay.store.inbox_by_receive_id(command.receive_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if inbox.kind != KIND_PRIVATE:
            raise RelayError(ErrorCode.WRONG_KIND, "only a private inbox can be secured")
        await self.relay.store.set_sender_key(subscription.inbox_id, command.sender_key)
        self.relay.forget_send_id(inbox.send_id)
        logger.info("[%s] secured %s", self.connection_id, short_id(inbox.receive_id))
        await self.push(Ok(command.request_id))

    async def on_prove(self, command: ProveSender) -> None:
        inbox = await self.relay.inbox_by_send_id(command.send_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if inbox.sender_key is None:
            raise RelayError(ErrorCode.WRONG_KIND, "this inbox is not secured")
        if not signature_is_valid(
            inbox.sender_key, LABEL_SENDER, self.challenge, command.send_id, command.signature
        ):
            raise RelayError(ErrorCode.AUTH_FAILED, "signature is not valid for this sender key")
        if (
            command.send_id not in self.proven_senders
            and len(self.proven_senders) >= MAX_PROVEN_SENDERS
        ):
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED, f"at most {MAX_PROVEN_SENDERS} proofs per connection"
            )
        self.proven_senders[command.send_id] = inbox.sender_key
        await self.push(Ok(command.request_id))

    async def on_put_prekeys(self, command: PutPrekeys) -> None:
        subscription = self._subscription(command.receive_id)
        inbox = await self.relay.store.inbox_by_receive_id(command.receive_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if inbox.kind != KIND_CONTACT:
            raise RelayError(ErrorCode.WRONG_KIND, "prekeys live only on a contact inbox")
        count = await self.relay.store.put_prekeys(
            subscription.inbox_id, command.bundle, command.one_time_prekeys
        )
        await self.push(Ok(command.request_id, count))

    async def on_fetch_prekeys(self, command: FetchPrekeys) -> None:
        inbox = await self.relay.inbox_by_send_id(command.send_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if inbox.kind != KIND_CONTACT:
            raise RelayError(ErrorCode.WRONG_KIND, "only a contact inbox has prekeys")
        self._check_contact_rate(inbox.send_id)
        popped = await self.relay.store.pop_prekey(inbox.inbox_id)
        if popped is None:
            raise RelayError(ErrorCode.NOT_FOUND, "the inbox has no prekey bundle yet")
        bundle, one_time_prekey = popped
        await self.push(PrekeyBundle(command.request_id, bundle, one_time_prekey))

    async def on_delete(self, command: DeleteInbox) -> None:
        inbox = await self.relay.store.inbox_by_receive_id(command.receive_id)
        if inbox is None:
            raise RelayError(ErrorCode.NOT_FOUND, "inbox not found")
        if not signature_is_valid(
            inbox.owner_key, LABEL_DELETE, self.challenge, command.receive_id, command.signature
        ):
            raise RelayError(ErrorCode.AUTH_FAILED, "signature is not valid for this inbox")

        own = self.subscriptions.pop(command.receive_id, None)
        if own is not None:
            await own.stop()
            self.relay.unregister(own)
        await self.relay.store.delete_inbox(inbox.inbox_id)
        await self.relay.end_inbox(inbox)
        logger.info("[%s] deleted inbox %s", self.connection_id, short_id(inbox.receive_id))
        await self.push(Ok(command.request_id))

    async def on_pair_open(self, command: PairOpen) -> None:
        ttl = command.ttl if command.ttl is not None else DEFAULT_PAIR_TTL
        rendezvous = self.rendezvous.open(self, ttl)
        await self.push(PairOpened(command.request_id, rendezvous.nameplate, rendezvous.expires_at))

    async def on_pair_join(self, command: PairJoin) -> None:
        self.rendezvous.join(self, command.nameplate)
        await self.push(Ok(command.request_id))

    async def on_pair_send(self, command: PairSend) -> None:
        self.rendezvous.send(self, command.nameplate, command.body)
        await self.push(Ok(command.request_id))

    async def on_pair_close(self, command: PairClose) -> None:
        self.rendezvous.close(self, command.nameplate)
        await self.push(Ok(command.request_id))
