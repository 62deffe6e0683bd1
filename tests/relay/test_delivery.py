"""Delivery through a real relay: ordering, the ACK rule, the window and stuck readers."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time

from nacl.signing import SigningKey
from relay_process import RelayLauncher, RelayProcess, next_event, receive

from konsel.protocol.relay_wire import (
    LABEL_SUBSCRIBE,
    SUBPROTOCOL,
    Delivery,
    End,
    Hello,
    ServerHello,
    Subscribe,
    decode_server_message,
    encode_command,
    frame_limits,
    signing_input,
)

MIB = 1024 * 1024


async def test_unacked_message_redelivered(relay: RelayProcess) -> None:
    """B gets m3, leaves before the ACK, and gets m3 again with the same message id."""
    sender = await relay.client()
    bob = await relay.client()
    owner, inbox = await relay.new_inbox(bob)
    for index in (1, 2, 3):
        await sender.send(inbox.send_id, b"m%d" % index)

    await bob.subscribe(inbox.receive_id, owner)
    first = await receive(bob, 3)
    assert [delivery.envelope for delivery in first] == [b"m1", b"m2", b"m3"]
    await bob.ack(inbox.receive_id, [first[0].message_id, first[1].message_id])
    await bob.close()

    bob = await relay.client()
    subscribed = await bob.subscribe(inbox.receive_id, owner)
    assert subscribed.queued == 1
    [again] = await receive(bob, 1)
    assert again.envelope == b"m3"
    assert again.message_id == first[2].message_id

    assert await bob.ack(inbox.receive_id, [again.message_id]) == 1
    assert (await bob.subscribe(inbox.receive_id, owner)).queued == 0
    status, metrics = relay.http_get("/metrics")
    assert status == 200
    assert "konsel_relay_queued_messages 0.0" in metrics
    await sender.close()
    await bob.close()


async def test_window_limits_unacked(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--window-count", "3")
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    for index in range(7):
        await client.send(inbox.send_id, b"%d" % index)
    assert client.hello.window_count == 3

    await client.subscribe(inbox.receive_id, owner)
    window = await receive(client, 3)
    # Give an unbounded sender time to push more; a correct relay pushes nothing.
    await asyncio.sleep(0.3)
    assert "konsel_relay_deliveries_total 3.0" in relay.http_get("/metrics")[1]
    await client.ack(inbox.receive_id, [window[0].message_id])
    [fourth] = await receive(client, 1)
    acknowledged = [delivery.message_id for delivery in (*window[1:], fourth)]
    await client.ack(inbox.receive_id, acknowledged)
    rest = await receive(client, 3)

    envelopes = [delivery.envelope for delivery in (*window, fourth, *rest)]
    assert envelopes == [b"%d" % index for index in range(7)]
    await client.close()


async def test_window_bytes_bound(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--window-bytes", "3000")
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    for index in range(4):
        await client.send(inbox.send_id, bytes([index]) * 1000)

    await client.subscribe(inbox.receive_id, owner)
    window = await receive(client, 3)
    await client.ack(inbox.receive_id, [window[0].message_id])
    [last] = await receive(client, 1)

    assert [delivery.envelope[0] for delivery in (*window, last)] == [0, 1, 2, 3]
    await client.close()


async def test_new_subscription_replaces_old(relay: RelayProcess) -> None:
    first = await relay.client()
    owner, inbox = await relay.new_inbox(first)
    await first.subscribe(inbox.receive_id, owner)
    second = await relay.client()

    await second.subscribe(inbox.receive_id, owner)

    ended = await next_event(first)
    assert ended == End(inbox.receive_id, "replaced")
    await first.send(inbox.send_id, b"ke yang baru")
    [delivery] = await receive(second, 1)
    assert delivery.envelope == b"ke yang baru"
    await first.close()
    await second.close()


# --- a recipient that stops reading ---------------------------------------------------------


def _masked_frame(payload: bytes) -> bytes:
    header = bytearray([0x82])
    if len(payload) < 126:
        header.append(0x80 | len(payload))
    else:
        header.append(0x80 | 126)
        header += struct.pack("!H", len(payload))
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes(header) + mask + masked


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "relay closed the socket during the handshake"
        data += chunk
    return data


def subscribe_and_stop_reading(
    relay: RelayProcess, owner: SigningKey, receive_id: bytes
) -> socket.socket:
    """Subscribe over a raw socket with a small receive buffer, then never read again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", relay.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
        ).encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += _read_exactly(sock, 1)
    assert response.startswith(b"HTTP/1.1 101")

    opcode, length = _read_exactly(sock, 2)
    assert opcode == 0x82
    if length == 126:
        length = struct.unpack("!H", _read_exactly(sock, 2))[0]
    hello = decode_server_message(_read_exactly(sock, length), frame_limits(1024))
    assert isinstance(hello, ServerHello)

    signature = owner.sign(signing_input(LABEL_SUBSCRIBE, hello.challenge, receive_id)).signature
    sock.sendall(_masked_frame(encode_command(Hello(1))))
    sock.sendall(_masked_frame(encode_command(Subscribe(2, receive_id, signature))))
    return sock


async def wait_for_log(relay: RelayProcess, text: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while text not in relay.log():
        assert time.monotonic() < deadline, f"{text!r} not logged within {limit} s"
        await asyncio.sleep(0.1)


async def exchange_short_messages(relay: RelayProcess, rounds: int) -> int:
    """Let C and D send each other short messages; return how many replies arrived."""
    carol = await relay.client()
    dave = await relay.client()
    carol_key, carol_inbox = await relay.new_inbox(carol)
    dave_key, dave_inbox = await relay.new_inbox(dave)
    await carol.subscribe(carol_inbox.receive_id, carol_key)
    await dave.subscribe(dave_inbox.receive_id, dave_key)

    replies = 0
    for index in range(rounds):
        await carol.send(dave_inbox.send_id, b"tanya %d" % index)
        [question] = await receive(dave, 1)
        await dave.ack(dave_inbox.receive_id, [question.message_id])
        await dave.send(carol_inbox.send_id, b"jawab %d" % index)
        [answer] = await receive(carol, 1)
        await carol.ack(carol_inbox.receive_id, [answer.message_id])
        assert answer.envelope == b"jawab %d" % index
        replies += 1
    await carol.close()
    await dave.close()
    return replies


async def test_stuck_reader_bounded(relay_launcher: RelayLauncher) -> None:
    """A subscriber that stops reading costs bounded memory and is closed; nothing is lost."""
    relay = relay_launcher.start(
        "--write-timeout", "1",
        "--window-count", "1000",
        "--window-bytes", str(64 * MIB),
        "--inbox-max-bytes", str(64 * MIB),
        "--inbox-max-messages", "1000",
    )  # fmt: skip
    count, size = 300, 50 * 1024
    envelopes = [b"%04d" % index + os.urandom(size - 4) for index in range(count)]

    alice = await relay.client()
    owner, inbox = await relay.new_inbox(alice)
    stuck = subscribe_and_stop_reading(relay, owner, inbox.receive_id)
    baseline_kib = relay.rss_kib()

    async def send_all() -> int:
        peak = baseline_kib
        for start in range(0, count, 25):
            chunk = envelopes[start : start + 25]
            await asyncio.gather(*(alice.send(inbox.send_id, envelope) for envelope in chunk))
            peak = max(peak, relay.rss_kib())
        return peak

    peak_kib, replies = await asyncio.gather(send_all(), exchange_short_messages(relay, 20))

    assert replies == 20
    print(f"RSS baseline {baseline_kib} KiB, peak {peak_kib} KiB")
    assert peak_kib - baseline_kib < 80 * 1024, f"RSS grew by {peak_kib - baseline_kib} KiB"
    await wait_for_log(relay, "for the client to read (write timeout)")
    stuck.close()

    bob = await relay.client()
    subscribed = await bob.subscribe(inbox.receive_id, owner)
    assert subscribed.queued == count
    deliveries = await receive(bob, count)
    assert [delivery.envelope for delivery in deliveries] == envelopes
    assert len({delivery.message_id for delivery in deliveries}) == count
    assert all(isinstance(delivery, Delivery) for delivery in deliveries)
    await alice.close()
    await bob.close()


async def test_ping_timeout_closes_silent_peer(relay_launcher: RelayLauncher) -> None:
    """A peer that never replies to pings is closed after the ping timeout; others keep going."""
    relay = relay_launcher.start("--ping-interval", "0.5", "--ping-timeout", "0.5")
    client = await relay.client(ping_interval=None)
    owner, inbox = await relay.new_inbox(client)
    silent = subscribe_and_stop_reading(relay, owner, inbox.receive_id)

    # The relay sends close code 1011, gets no close frame back, and so logs 1006.
    await wait_for_log(relay, "closed (code 1006)")
    assert "write timeout" not in relay.log()
    silent.close()
    await client.send(inbox.send_id, b"setelah ping")
    await client.subscribe(inbox.receive_id, owner)
    [delivery] = await receive(client, 1)
    assert delivery.envelope == b"setelah ping"
    await client.close()
