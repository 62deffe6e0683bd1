"""Run one relay: the WebSocket server, its HTTP endpoints, shared state and shutdown."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict, defaultdict
from http import HTTPStatus

from prometheus_client import CONTENT_TYPE_LATEST
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from konsel.protocol.relay_wire import FRAME_OVERHEAD, SUBPROTOCOL

from . import __version__
from .config import RelayConfig
from .connection import Connection
from .delivery import Subscription, Window
from .metrics import RelayMetrics
from .ratelimit import KeyedRateLimiter
from .rendezvous import PairLimits, RendezvousRegistry
from .sqlite_store import SQLiteStore
from .storage import Inbox, QueueLimits, Store, StoredMessage

logger = logging.getLogger("konsel.relay.server")

SEND_ID_CACHE_SIZE = 10_000


class RelayServer:
    """State shared by every connection of one relay process.

    Args:
        config: the merged settings.
        store: an open storage backend; the server closes it on shutdown.
    """

    def __init__(self, config: RelayConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.metrics = RelayMetrics()
        self.window = Window(config.window_count, config.window_bytes)
        self.create_limiter = KeyedRateLimiter(config.create_rate, 60.0)
        self.contact_inbox_limiter = KeyedRateLimiter(config.contact_rate_per_inbox, 60.0)
        self.contact_ip_limiter = KeyedRateLimiter(config.contact_rate_per_ip, 60.0)
        self.connections_per_ip: defaultdict[str, int] = defaultdict(int)
        self.stopping = asyncio.Event()
        self.rendezvous = RendezvousRegistry(
            PairLimits(
                join_rate=config.pair_join_rate,
                join_rate_per_ip=config.pair_join_rate_per_ip,
                max_per_connection=config.pair_max_per_connection,
                max_open_per_ip=config.pair_max_open_per_ip,
            ),
            self.metrics,
        )

        self._subscriptions: dict[int, tuple[Subscription, Connection]] = {}
        self._send_id_cache: OrderedDict[bytes, Inbox] = OrderedDict()

    # --- subscriptions ----------------------------------------------------------------------

    async def register(self, subscription: Subscription, connection: Connection) -> None:
        """Make ``subscription`` the only one of its inbox, ending an earlier one."""
        previous = self._subscriptions.get(subscription.inbox_id)
        self._subscriptions[subscription.inbox_id] = (subscription, connection)
        if previous is not None and previous[0] is not subscription:
            await previous[1].end_subscription(previous[0], "replaced")

    def unregister(self, subscription: Subscription) -> None:
        """Forget ``subscription`` if it is still the registered one of its inbox."""
        current = self._subscriptions.get(subscription.inbox_id)
        if current is not None and current[0] is subscription:
            del self._subscriptions[subscription.inbox_id]

    def notify_stored(self, inbox_id: int, message: StoredMessage) -> None:
        """Offer a just committed envelope to the subscriber of ``inbox_id``, if any."""
        current = self._subscriptions.get(inbox_id)
        if current is not None:
            current[0].offer(message)

    async def end_inbox(self, inbox: Inbox) -> None:
        """End the subscription of a deleted inbox and forget its cached send id."""
        self.forget_send_id(inbox.send_id)
        current = self._subscriptions.pop(inbox.inbox_id, None)
        if current is not None:
            await current[1].end_subscription(current[0], "deleted")

    # --- send id lookups ------------------------------------------------------------------

    async def inbox_by_send_id(self, send_id: bytes) -> Inbox | None:
        """Look up an inbox by send id through a bounded cache.

        Every change to a cached field (sender key, deletion) happens in this process and
        calls :meth:`forget_send_id`, so the cache never serves a stale key. The queue
        totals in a cached entry are stale and must not be used.
        """
        cached = self._send_id_cache.get(send_id)
        if cached is not None:
            self._send_id_cache.move_to_end(send_id)
            return cached

        inbox = await self.store.inbox_by_send_id(send_id)
        if inbox is not None:
            self._send_id_cache[send_id] = inbox
            if len(self._send_id_cache) > SEND_ID_CACHE_SIZE:
                self._send_id_cache.popitem(last=False)
        return inbox

    def forget_send_id(self, send_id: bytes) -> None:
        """Drop a send id from the cache after its inbox changed."""
        self._send_id_cache.pop(send_id, None)

    # --- HTTP endpoints ---------------------------------------------------------------------

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Serve ``GET /healthz`` and ``GET /metrics``, and return None for other requests.

        Returning None lets websockets continue with the WebSocket upgrade.
        """
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            if self.stopping.is_set():
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "stopping\n")
            return connection.respond(HTTPStatus.OK, "ok\n")

        if path == "/metrics":
            totals = await self.store.totals()
            self.metrics.inboxes.set(totals.inboxes)
            self.metrics.queued_messages.set(totals.messages)
            self.metrics.queued_bytes.set(totals.message_bytes)
            body = self.metrics.render()
            headers = Headers(
                [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
            )
            return Response(HTTPStatus.OK.value, "OK", headers, body)

        return None

    async def handle(self, websocket: ServerConnection) -> None:
        """Serve one WebSocket connection until it closes."""
        await Connection(self, websocket).run()

    # --- lifecycle ----------------------------------------------------------------------------

    async def _expire_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_interval)
            older_than = int(time.time() - self.config.message_ttl)
            try:
                expired = await self.store.expire(older_than)
            except Exception:
                logger.exception("expiry sweep failed")
                continue
            if expired:
                self.metrics.expired.inc(expired)
                logger.info("expired %d messages older than the message TTL", expired)

    async def _listen(self, ssl_context: ssl.SSLContext | None) -> Server:
        config = self.config
        ping_interval = config.ping_interval or None
        return await serve(
            self.handle,
            config.host,
            config.port,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
            process_request=self.process_request,
            server_header=f"konsel-relay/{__version__}",
            open_timeout=config.handshake_timeout,
            ping_interval=ping_interval,
            ping_timeout=config.ping_timeout or None,
            close_timeout=min(config.write_timeout, 10.0),
            max_size=config.max_envelope + FRAME_OVERHEAD,
            write_limit=config.write_buffer,
            ssl=ssl_context,
        )

    async def serve_until_stopped(self, ready: asyncio.Event | None = None) -> None:
        """Serve until :attr:`stopping` is set, then shut down in order."""
        try:
            ssl_context = _tls_context(self.config)
            server: Server = await self._listen(ssl_context)
        except BaseException:
            # Nothing was served, but the store's thread is running and must stop.
            await self.store.close()
            raise
        addresses = ", ".join(
            f"{sock.getsockname()[0]}:{sock.getsockname()[1]}" for sock in server.sockets
        )
        scheme = "wss" if ssl_context else "ws"
        logger.info("konsel-relay %s listening on %s (%s)", __version__, addresses, scheme)
        expiry = asyncio.create_task(self._expire_periodically(), name="expiry")
        if ready is not None:
            ready.set()

        await self.stopping.wait()

        # Shutdown: stop accepting, close every connection with 1001 and wait for their
        # handlers (which wait for their own pending SEND commits), then stop the sweeper,
        # then let the store finish its queued jobs and close.
        logger.info("stopping: closing the listener and all connections")
        server.close(close_connections=True)
        await server.wait_closed()
        expiry.cancel()
        await asyncio.gather(expiry, return_exceptions=True)
        await self.store.close()
        logger.info("stopped")


def _tls_context(config: RelayConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except OSError as error:
        detail = error.strerror or str(error)
        raise OSError(
            f"cannot load TLS certificate {config.tls_cert} with key {config.tls_key}: {detail}"
        ) from error
    return context


async def open_relay(config: RelayConfig) -> RelayServer:
    """Open the SQLite store in the configured data directory and build the relay on it."""
    limits = QueueLimits(
        max_messages=config.inbox_max_messages,
        max_bytes=config.inbox_max_bytes,
        max_prekeys=config.max_prekeys,
        max_storage_bytes=config.max_storage,
    )
    store = await SQLiteStore.open(config.data_dir, limits, min_free_bytes=config.min_free_disk)
    return RelayServer(config, store)
