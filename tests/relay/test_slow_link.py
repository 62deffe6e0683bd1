"""A big envelope over a slow, lossy mobile link must not trip the relay's keepalive.

Client A reaches konsel-relay through a :class:`LinkShaper` on loopback that shapes both
directions like a weak mobile link. Each direction carries 64 kbit/s with a 150 ms one-way
delay (about 300 ms round trip). 2 % of chunks wait one extra retransmission timeout of
0.2 to 1 s, which is how TCP shows 2 % loss to its user. A sends one 200 KiB envelope and
then three short ones at once to the inbox of client B, which connects to the relay
directly. The shaper reads only as fast as the link drains, so A's pongs queue behind the
upload as they would on a real slow link, and the upload takes about 30 s.

Right result: with the relay's default keepalive settings, A's one connection survives the
upload (no keepalive timeout, so no reconnect), and B receives the four envelopes once
each, in order.

A variant that shapes a veth pair with ``tc netem`` could come back on kernels that have
sch_netem; this one needs neither root nor netem.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os

import pytest
from link_shaper import MOBILE_64KBIT, LinkShaper
from relay_process import RelayLauncher
from websockets.protocol import State

from konsel.client.core.relay_connection import Delivery, RelayConnection

BIG_ENVELOPE_SIZE = 200 * 1024
SHORT_ENVELOPES = (b"pesan pendek 1", b"pesan pendek 2", b"pesan pendek 3")

# Only the envelope limit is set. The relay's ping interval and ping timeout stay at their
# defaults, because those are what a slow upload has to survive.
RELAY_FLAGS: tuple[str, ...] = ("--max-envelope", str(BIG_ENVELOPE_SIZE))

# 200 KiB at 64 kbit/s take about 26 s, plus the stalls and the WebSocket handshake.
EXCHANGE_TIMEOUT_S = 75.0
# After the last expected envelope B keeps listening this long, so a duplicate shows up.
DUPLICATE_WINDOW_S = 2.0
# websockets 17 closes a connection whose keepalive pong is late with 1011 (internal error).
KEEPALIVE_CLOSE_CODE = 1011


def envelope_digest(envelope: bytes) -> str:
    """Return a short fingerprint of an envelope, to compare what was sent and received."""
    return hashlib.sha256(envelope).hexdigest()[:16]


def make_envelopes() -> list[bytes]:
    """Return the four envelopes A sends, in order: the big one, then the short ones."""
    big = b"besar:" + os.urandom(BIG_ENVELOPE_SIZE - len(b"besar:"))
    return [big, *SHORT_ENVELOPES]


async def send_big_then_short(
    sender: RelayConnection, send_id: bytes, envelopes: list[bytes]
) -> list[bytes | BaseException]:
    """Send the big envelope, then the short ones at once; return each message id or error."""
    big = asyncio.create_task(sender.send(send_id, envelopes[0]))
    # Let the big frame reach the socket first, so the short ones queue behind it.
    await asyncio.sleep(0)
    shorts = [asyncio.create_task(sender.send(send_id, envelope)) for envelope in envelopes[1:]]
    async with asyncio.timeout(EXCHANGE_TIMEOUT_S):
        return list(await asyncio.gather(big, *shorts, return_exceptions=True))


async def collect_deliveries(
    receiver: RelayConnection, receive_id: bytes, expected: int
) -> list[Delivery]:
    """Acknowledge and return deliveries until ``expected`` arrived and the window passed."""
    deliveries: list[Delivery] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(EXCHANGE_TIMEOUT_S) as window:
            async for event in receiver.deliveries():
                if not isinstance(event, Delivery):
                    continue
                deliveries.append(event)
                await receiver.ack(receive_id, [event.message_id])
                if len(deliveries) == expected:
                    window.reschedule(asyncio.get_running_loop().time() + DUPLICATE_WINDOW_S)
    return deliveries


def describe_link(shaper: LinkShaper) -> str:
    """Return the shaper's counters for each connection, for a failure message."""
    return "; ".join(
        f"{pipe.name}: {pipe.counters}"
        for connection in shaper.connections
        for pipe in (connection.uplink, connection.downlink)
    )


@pytest.mark.timeout(EXCHANGE_TIMEOUT_S + 30)
async def test_slow_link_big_envelope(relay_launcher: RelayLauncher) -> None:
    """A big envelope and three short ones cross a 64 kbit/s lossy link without a reconnect."""
    relay = relay_launcher.start(*RELAY_FLAGS, use_test_flags=False)
    envelopes = make_envelopes()

    receiver = await relay.client()
    owner, inbox = await relay.new_inbox(receiver)
    await receiver.subscribe(inbox.receive_id, owner)
    collecting = asyncio.create_task(collect_deliveries(receiver, inbox.receive_id, len(envelopes)))

    async with LinkShaper(("127.0.0.1", relay.port), MOBILE_64KBIT) as shaper:
        sender = await RelayConnection.connect(f"ws://127.0.0.1:{shaper.port}")
        try:
            try:
                results = await send_big_then_short(sender, inbox.send_id, envelopes)
            except TimeoutError:
                pytest.fail(
                    f"A's sends got no reply within {EXCHANGE_TIMEOUT_S} s; "
                    f"{describe_link(shaper)}; the end of the relay log:\n{relay.log()[-3000:]}"
                )
            failures = [result for result in results if isinstance(result, BaseException)]
            if failures:
                pytest.fail(
                    f"A's sends failed: {failures!r}; A's connection closed with code "
                    f"{sender.websocket.close_code} ({sender.websocket.close_reason!r}); "
                    f"{describe_link(shaper)}"
                )
            deliveries = await collecting
            sender_state = sender.websocket.state
        finally:
            collecting.cancel()
            await sender.close()
            await receiver.close()

    relay_log = relay.log()
    # The relay logs one "open" line per connection: B's and A's, so A never reconnected.
    opened = [line for line in relay_log.splitlines() if line.endswith("] open")]
    keepalive_closes = [
        line for line in relay_log.splitlines() if f"(code {KEEPALIVE_CLOSE_CODE})" in line
    ]
    [connection] = shaper.connections
    uplink = connection.uplink.counters

    assert sender_state is State.OPEN
    assert len(opened) == 2, relay_log[-3000:]
    # The relay logs websockets' own messages only from WARNING up, so the close code is the
    # main sign of a keepalive timeout. The text check catches a relay that logs the reason.
    assert keepalive_closes == []
    assert "ping timeout" not in relay_log.lower()

    assert [envelope_digest(d.envelope) for d in deliveries] == [
        envelope_digest(envelope) for envelope in envelopes
    ]
    assert [d.message_id for d in deliveries] == results

    # The upload really crossed the shaped link, with at least one stall for a lost chunk.
    assert uplink.bytes_written > BIG_ENVELOPE_SIZE
    assert uplink.stalls > 0
    assert uplink.max_in_flight <= MOBILE_64KBIT.buffer_limit
