"""The userspace link shaper: bytes intact and in order, bounded buffers, back-pressure.

These tests use fast profiles and check what the shaper carried (its counters), never how
long it took.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator

import pytest
from link_shaper import LinkProfile, LinkShaper, PipeCounters, TokenBucket

FAST_LOSSY = LinkProfile(
    rate_bits_per_s=2_000_000,
    one_way_delay_s=0.005,
    stall_probability=0.25,
    stall_range_s=(0.01, 0.03),
    chunk_size=512,
    buffer_limit=2048,
    seed=7,
)
FAST_CLEAN = LinkProfile(
    rate_bits_per_s=8_000_000,
    one_way_delay_s=0.002,
    stall_probability=0.0,
    stall_range_s=(0.0, 0.0),
    chunk_size=1024,
    buffer_limit=4096,
)
IO_TIMEOUT = 20.0
POLL_INTERVAL = 0.05
MAX_POLLS = 100


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send every byte back until end of file, then half-close."""
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.write_eof()
    await writer.drain()
    writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(IO_TIMEOUT):
        return await reader.read()


def assert_bounded(counters: PipeCounters, profile: LinkProfile) -> None:
    assert counters.max_in_flight <= profile.buffer_limit
    assert counters.max_in_flight > 0
    assert counters.in_flight == 0


def test_bucket_reserve_keeps_rate() -> None:
    bucket = TokenBucket(rate=1000.0, capacity=500.0, now=0.0)

    assert bucket.reserve(500, now=0.0) == 0.0
    assert bucket.reserve(500, now=0.0) == pytest.approx(0.5)
    assert bucket.reserve(500, now=0.5) == pytest.approx(0.5)
    # After a long idle time the bucket contains at most its capacity.
    assert bucket.reserve(500, now=100.0) == 0.0
    assert bucket.reserve(250, now=100.0) == pytest.approx(0.25)


def test_profile_chunk_over_buffer_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        LinkProfile(64_000, 0.15, 0.02, (0.2, 1.0), chunk_size=8192, buffer_limit=4096)


async def test_shaper_echo_intact_in_order(echo_port: int) -> None:
    """64 KiB cross a lossy profile both ways and come back byte for byte, in order."""
    payload = b"".join(struct.pack(">I", index) for index in range(16 * 1024))

    async with LinkShaper(("127.0.0.1", echo_port), FAST_LOSSY) as shaper:
        reader, writer = await asyncio.open_connection("127.0.0.1", shaper.port)
        echoed = asyncio.create_task(read_to_eof(reader))
        writer.write(payload)
        writer.write_eof()
        await writer.drain()
        received = await echoed
        writer.close()

        [connection] = shaper.connections
        assert connection.task is not None
        async with asyncio.timeout(IO_TIMEOUT):
            await connection.task

    assert len(received) == len(payload)
    assert received == payload
    for pipe in (connection.uplink, connection.downlink):
        counters = pipe.counters
        assert counters.bytes_read == len(payload), pipe.name
        assert counters.bytes_written == len(payload), pipe.name
        assert counters.reached_eof, pipe.name
        assert counters.stalls > 0, pipe.name
        assert counters.chunks >= len(payload) // FAST_LOSSY.chunk_size, pipe.name
        assert_bounded(counters, FAST_LOSSY)


async def test_shaper_back_pressure_reaches_sender() -> None:
    """A receiver that does not read stops the sender, and the shaper buffers at most its limit."""
    payload = os.urandom(512 * 1024)
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024)
    listener.bind(("127.0.0.1", 0))
    # A small stream limit keeps the receiver's own buffer small while it does not read.
    server = await asyncio.start_server(hold, sock=listener, limit=4096)
    port = listener.getsockname()[1]

    async with LinkShaper(("127.0.0.1", port), FAST_CLEAN) as shaper:
        sender = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024)
        sender.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sender, ("127.0.0.1", shaper.port))
        sending = asyncio.create_task(loop.sock_sendall(sender, payload))
        async with asyncio.timeout(IO_TIMEOUT):
            receiver_reader, receiver_writer = await accepted.get()

        # Wait until the uplink stops reading: every buffer on the way is full.
        [connection] = shaper.connections
        counters = connection.uplink.counters
        last_read = -1
        for _poll in range(MAX_POLLS):
            await asyncio.sleep(POLL_INTERVAL)
            if counters.bytes_read == last_read:
                break
            last_read = counters.bytes_read

        assert counters.bytes_read == last_read, "the shaper never stopped reading"
        assert counters.bytes_read < len(payload)
        assert counters.in_flight <= FAST_CLEAN.buffer_limit
        assert not sending.done()

        # Once the receiver reads, everything arrives, in order.
        received = bytearray()
        async with asyncio.timeout(IO_TIMEOUT):
            while len(received) < len(payload):
                received += await receiver_reader.read(64 * 1024)
            await sending
        sender.close()
        receiver_writer.close()

    server.close()
    await server.wait_closed()
    assert bytes(received) == payload
    assert counters.bytes_written == len(payload)
    assert counters.max_in_flight <= FAST_CLEAN.buffer_limit


async def test_shaper_reset_closes_target() -> None:
    """A client that resets its connection ends the shaper's connection to the target."""
    target_closed: asyncio.Queue[bytes] = asyncio.Queue()

    async def drain_to_end(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read()
        except ConnectionError:
            data = b""
        await target_closed.put(data)
        writer.close()

    server = await asyncio.start_server(drain_to_end, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async with LinkShaper(("127.0.0.1", port), FAST_CLEAN) as shaper:
        _, writer = await asyncio.open_connection("127.0.0.1", shaper.port)
        writer.write(b"hello")
        await writer.drain()
        client_socket = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout makes close() send a reset instead of a FIN.
        client_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

        async with asyncio.timeout(IO_TIMEOUT):
            seen_by_target = await target_closed.get()
            [connection] = shaper.connections
            assert connection.task is not None
            await connection.task

    server.close()
    await server.wait_closed()
    assert b"hello".startswith(seen_by_target)
    assert not connection.uplink.counters.reached_eof
