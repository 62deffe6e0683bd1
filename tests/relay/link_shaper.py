"""Shape a loopback TCP connection like a slow mobile link, in userspace.

:class:`LinkShaper` is a TCP proxy on 127.0.0.1 in front of one target address. It
forwards each direction of each accepted connection through its own :class:`ShapedPipe`,
which applies three things from a :class:`LinkProfile`:

- a token-bucket rate limit;
- a fixed one-way delay for every chunk;
- loss as a TCP user sees it. A seeded RNG gives some chunks an extra stall of one
  retransmission timeout before they pass, because TCP turns a lost segment into a delay
  of the bytes behind it, never into a gap.

A pipe reads from its source only while fewer than ``buffer_limit`` bytes are in flight,
that is read from the source but not yet written to the destination. The proxy's sockets
also have small kernel buffers, so back-pressure reaches the sender's socket as on a real
slow link. The pipes read and write the sockets directly (``loop.sock_recv``), with no stream
buffer in between, so the in-flight count is the only userspace buffering.

    async with LinkShaper(("127.0.0.1", relay_port), MOBILE_64KBIT) as shaper:
        url = f"ws://127.0.0.1:{shaper.port}"
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from dataclasses import dataclass, field
from types import TracebackType

logger = logging.getLogger("tests.link_shaper")

SOCKET_BUFFER_SIZE = 8 * 1024
"""SO_RCVBUF and SO_SNDBUF of the proxy's sockets, in bytes (Linux doubles the value)."""
MAX_CONNECTIONS = 16
"""Connections one shaper accepts before it stops listening, so its accept loop ends."""


@dataclass(frozen=True)
class LinkProfile:
    """Properties of one direction of a shaped link. Both directions use the same profile."""

    rate_bits_per_s: float
    one_way_delay_s: float
    stall_probability: float
    """Fraction of chunks that wait one extra retransmission timeout."""
    stall_range_s: tuple[float, float]
    """Lowest and highest retransmission timeout, drawn uniformly per stalled chunk."""
    chunk_size: int = 1024
    """Maximum bytes per read from a socket, about one TCP segment."""
    buffer_limit: int = 4096
    """Maximum bytes in flight per direction. Reads wait while a full chunk would exceed it."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rate_bits_per_s <= 0:
            raise ValueError(f"rate_bits_per_s must be positive, got {self.rate_bits_per_s}")
        if self.one_way_delay_s < 0:
            raise ValueError(f"one_way_delay_s must not be negative, got {self.one_way_delay_s}")
        if not 0 <= self.stall_probability <= 1:
            raise ValueError(
                f"stall_probability must be between 0 and 1, got {self.stall_probability}"
            )
        low, high = self.stall_range_s
        if not 0 <= low <= high:
            raise ValueError(
                f"stall_range_s must be (low, high) with 0 <= low <= high, got {low, high}"
            )
        if not 0 < self.chunk_size <= self.buffer_limit:
            raise ValueError(
                f"chunk_size must be positive and at most buffer_limit ({self.buffer_limit}), "
                f"got {self.chunk_size}"
            )

    @property
    def rate_bytes_per_s(self) -> float:
        return self.rate_bits_per_s / 8


MOBILE_64KBIT = LinkProfile(
    rate_bits_per_s=64_000,
    one_way_delay_s=0.150,
    stall_probability=0.02,
    stall_range_s=(0.2, 1.0),
    seed=64,
)
"""A weak mobile link: 64 kbit/s each way, about 300 ms round trip, 2 % loss."""


class TokenBucket:
    """Rate limit in bytes per second with a burst of ``capacity`` bytes.

    :meth:`reserve` lets the token count go negative. The debt is the wait before the
    reserved bytes may pass, so consecutive reservations never exceed the rate.
    """

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated_at = now

    def reserve(self, size: int, now: float) -> float:
        """Take ``size`` tokens and return the seconds to wait before they may be used."""
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated_at = now
        self.tokens -= size
        return max(0.0, -self.tokens / self.rate)


@dataclass
class PipeCounters:
    """What one direction of one connection has carried so far."""

    bytes_read: int = 0
    bytes_written: int = 0
    chunks: int = 0
    stalls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    reached_eof: bool = False


@dataclass
class _Chunk:
    release_at: float
    data: bytes


class ShapedPipe:
    """Forward one direction of a connection, from ``source`` to ``destination``."""

    def __init__(
        self,
        name: str,
        source: socket.socket,
        destination: socket.socket,
        profile: LinkProfile,
        rng: random.Random,
    ) -> None:
        self.name = name
        self.source = source
        self.destination = destination
        self.profile = profile
        self.rng = rng
        self.counters = PipeCounters()
        self._queue: asyncio.Queue[_Chunk | None] = asyncio.Queue()
        self._room = asyncio.Condition()

    async def run(self) -> None:
        """Forward until the source reaches end of file, then half-close the destination.

        Raises:
            OSError: either socket failed, for example with a connection reset.
        """
        reader = asyncio.create_task(self._read(), name=f"{self.name}-read")
        writer = asyncio.create_task(self._write(), name=f"{self.name}-write")
        try:
            await asyncio.gather(reader, writer)
        finally:
            # One side failing cancels the other, so no task outlives the pipe.
            reader.cancel()
            writer.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        profile = self.profile
        counters = self.counters
        bucket = TokenBucket(profile.rate_bytes_per_s, profile.chunk_size, loop.time())

        while True:
            # Read nothing more until a whole chunk fits, so the sender feels the slow link.
            async with self._room:
                await self._room.wait_for(
                    lambda: counters.in_flight + profile.chunk_size <= profile.buffer_limit
                )
            data = await loop.sock_recv(self.source, profile.chunk_size)
            if not data:
                counters.reached_eof = True
                self._queue.put_nowait(None)
                return

            counters.bytes_read += len(data)
            counters.chunks += 1
            counters.in_flight += len(data)
            counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)

            # The chunk leaves when the bucket allows it and arrives one delay later, plus
            # one retransmission timeout when the RNG marks it lost.
            await asyncio.sleep(bucket.reserve(len(data), loop.time()))
            delay = profile.one_way_delay_s
            if self.rng.random() < profile.stall_probability:
                counters.stalls += 1
                delay += self.rng.uniform(*profile.stall_range_s)
            self._queue.put_nowait(_Chunk(loop.time() + delay, data))

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        counters = self.counters

        while True:
            chunk = await self._queue.get()
            if chunk is None:
                self.destination.shutdown(socket.SHUT_WR)
                return

            # The queue is in order, so a stalled chunk also holds back every chunk after it.
            await asyncio.sleep(max(0.0, chunk.release_at - loop.time()))
            await loop.sock_sendall(self.destination, chunk.data)

            counters.bytes_written += len(chunk.data)
            async with self._room:
                counters.in_flight -= len(chunk.data)
                self._room.notify_all()


@dataclass
class ShapedConnection:
    """One accepted connection and the pipes of its two directions."""

    uplink: ShapedPipe
    """From the client that connected to the shaper, to the target."""
    downlink: ShapedPipe
    """From the target back to the client."""
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class LinkShaper:
    """A TCP proxy on 127.0.0.1 that shapes every connection to ``target`` with ``profile``.

    Use it as an async context manager. Leaving it closes the listener and every
    connection. Each connection's pipes get their own RNGs, seeded from ``profile.seed``
    and the connection's index, so the same profile stalls the same chunk numbers.
    """

    def __init__(self, target: tuple[str, int], profile: LinkProfile) -> None:
        self.target = target
        self.profile = profile
        self.connections: list[ShapedConnection] = []
        self._listener: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The loopback port clients connect to."""
        if self._listener is None:
            raise RuntimeError("the link shaper is not started")
        return int(self._listener.getsockname()[1])

    async def __aenter__(self) -> LinkShaper:
        listener = _small_buffer_socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(MAX_CONNECTIONS)
        self._listener = listener
        self._accept_task = asyncio.create_task(self._accept(), name="link-shaper-accept")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop accepting, end every connection and close all sockets. Safe to call twice."""
        tasks = [self._accept_task] + [connection.task for connection in self.connections]
        running = [task for task in tasks if task is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()

    async def _accept(self) -> None:
        assert self._listener is not None
        loop = asyncio.get_running_loop()

        for index in range(MAX_CONNECTIONS):
            client, _ = await loop.sock_accept(self._listener)
            client.setblocking(False)
            try:
                upstream = await self._connect_target()
            except OSError as error:
                logger.warning(
                    "connection %d: connecting to %s failed: %s", index, self.target, error
                )
                client.close()
                continue
            except asyncio.CancelledError:
                client.close()
                raise

            seed = (self.profile.seed, index)
            connection = ShapedConnection(
                uplink=ShapedPipe(
                    f"uplink-{index}", client, upstream, self.profile, random.Random(f"{seed}-up")
                ),
                downlink=ShapedPipe(
                    f"downlink-{index}",
                    upstream,
                    client,
                    self.profile,
                    random.Random(f"{seed}-down"),
                ),
            )
            connection.task = asyncio.create_task(
                _run_connection(connection, client, upstream), name=f"link-shaper-{index}"
            )
            self.connections.append(connection)

        logger.warning("accepted %d connections; the link shaper stops listening", MAX_CONNECTIONS)

    async def _connect_target(self) -> socket.socket:
        upstream = _small_buffer_socket()
        upstream.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(upstream, self.target)
        except BaseException:
            upstream.close()
            raise
        return upstream


async def _run_connection(
    connection: ShapedConnection, client: socket.socket, upstream: socket.socket
) -> None:
    """Run both pipes until both directions end. A failed socket ends the whole connection."""
    pipes = [
        asyncio.create_task(connection.uplink.run(), name=connection.uplink.name),
        asyncio.create_task(connection.downlink.run(), name=connection.downlink.name),
    ]
    try:
        done, _ = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                logger.info("%s ended with an error: %r", task.get_name(), error)
    finally:
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        for sock in (client, upstream):
            sock.close()


def _small_buffer_socket() -> socket.socket:
    """Return a TCP socket whose kernel buffers are small, set before listen or connect."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_SIZE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_SIZE)
    sock.setblocking(False)
    return sock
