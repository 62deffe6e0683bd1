"""Generate the same message load against any server through a small client interface.

bench/relay.py drives both the bare forwarder and konsel-relay with :func:`run_load`, so
their figures come from identical code. Each client runs ``window`` sender tasks. A sender
picks a random peer, sends one envelope, and waits until that peer has received it before
it sends the next one, so the load is a closed loop of ``clients * window`` envelopes in
flight. The receiver reads the send time embedded in the envelope, so the latency is end
to end (send call to delivery), measured with one monotonic clock in this process.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

# Sender index, sequence number and send time in nanoseconds, then random padding.
HEADER = struct.Struct(">IIQ")


@dataclass
class Delivery:
    """One envelope received by a client, with the acknowledgement its server expects."""

    payload: bytes
    acknowledge: Callable[[], Awaitable[None]]


class BenchClient(Protocol):
    """Interface of one connected client of either server, as the load generator uses it."""

    address: bytes
    """The address a peer sends to (the client id for the forwarder, the send id for the relay)."""

    async def send(self, recipient: bytes, payload: bytes) -> None:
        """Send ``payload`` to ``recipient`` and return once the server accepted it."""
        ...

    def deliveries(self) -> AsyncIterator[Delivery]:
        """Yield envelopes addressed to this client, oldest first."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...


@dataclass
class LoadResult:
    """Counts and latencies of one load run."""

    sent: int = 0
    delivered: int = 0
    duplicates: int = 0
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def messages_per_second(self) -> float:
        """Delivered envelopes per second of wall-clock time."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Return the latency below which ``fraction`` of the deliveries fall (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
        return ordered[rank]


def make_payload(sender: int, sequence: int, size: int) -> bytes:
    """Build an envelope of ``size`` bytes that carries its sender, sequence and send time."""
    header = HEADER.pack(sender, sequence, time.perf_counter_ns())
    return header + os.urandom(max(0, size - HEADER.size))


def read_payload(payload: bytes) -> tuple[int, int, int]:
    """Return the sender index, sequence number and send time stored by :func:`make_payload`."""
    sender, sequence, sent_ns = HEADER.unpack_from(payload)
    return sender, sequence, sent_ns


async def run_load(
    clients: list[BenchClient],
    *,
    messages_per_client: int,
    duration_s: float,
    window: int = 1,
    payload_size: int = 200,
    delivery_timeout_s: float = 10.0,
    seed: int = 1,
) -> LoadResult:
    """Send envelopes between ``clients`` until each sent its count or the duration ends.

    Args:
        clients: connected clients; each one both sends and receives.
        messages_per_client: upper bound of envelopes each client sends.
        duration_s: wall-clock bound of the sending phase in seconds.
        window: envelopes each client keeps in flight at once.
        payload_size: size of each envelope in bytes (at least 16).
        delivery_timeout_s: how long a sender waits for one delivery before counting a timeout.
        seed: seed of the peer choice, so two runs pick the same peers.
    """
    if len(clients) < 2:
        raise ValueError(f"the load needs at least 2 clients, got {len(clients)}")
    if payload_size < HEADER.size:
        raise ValueError(f"payload_size must be at least {HEADER.size} bytes")

    result = LoadResult()
    pending: dict[tuple[int, int], asyncio.Future[None]] = {}
    seen: set[tuple[int, int]] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    chooser = random.Random(seed)

    async def receive(client: BenchClient) -> None:
        async for delivery in client.deliveries():
            received_ns = time.perf_counter_ns()
            sender, sequence, sent_ns = read_payload(delivery.payload)
            key = (sender, sequence)
            if key in seen:
                result.duplicates += 1
            else:
                seen.add(key)
                result.delivered += 1
                result.latencies_ms.append((received_ns - sent_ns) / 1e6)
            # The envelope has arrived, so its sender may go on while this client ACKs.
            waiter = pending.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            await delivery.acknowledge()

    async def send(index: int, lane: int) -> None:
        # Each lane owns every window-th sequence number, so keys never collide.
        for step in range(messages_per_client // window + 1):
            sequence = step * window + lane
            if sequence >= messages_per_client or loop.time() >= deadline:
                return
            peer = chooser.randrange(len(clients) - 1)
            if peer >= index:
                peer += 1
            waiter = loop.create_future()
            pending[(index, sequence)] = waiter
            try:
                await clients[index].send(
                    clients[peer].address, make_payload(index, sequence, payload_size)
                )
                result.sent += 1
                async with asyncio.timeout(delivery_timeout_s):
                    await waiter
            except TimeoutError:
                result.timeouts += 1
                pending.pop((index, sequence), None)
            except Exception as error:  # A failed send ends only this lane, and is reported.
                result.errors.append(f"client {index}: {type(error).__name__}: {error}")
                pending.pop((index, sequence), None)
                return

    receivers = [asyncio.create_task(receive(client)) for client in clients]
    started = time.perf_counter()
    try:
        senders = [send(index, lane) for index in range(len(clients)) for lane in range(window)]
        await asyncio.gather(*senders)
        result.elapsed_s = time.perf_counter() - started
    finally:
        for task in receivers:
            task.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)

    for task in receivers:
        if not task.cancelled() and task.exception() is not None:
            result.errors.append(f"receiver: {task.exception()!r}")
    return result
