"""The relay process as a whole: HTTP endpoints, handshake rules, TLS and shutdown."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import signal
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from relay_process import RelayLauncher, RelayProcess, receive
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from konsel.client.core.relay_connection import RelayConnection, RelayConnectionClosed
from konsel.protocol.relay_wire import CloseCode


def test_healthz_ok(relay: RelayProcess) -> None:
    assert relay.http_get("/healthz") == (200, "ok\n")


async def test_metrics_count_activity(relay: RelayProcess) -> None:
    client = await relay.client()
    _, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"12345")

    status, body = relay.http_get("/metrics")

    assert status == 200
    assert "konsel_relay_connections 1.0" in body
    assert "konsel_relay_inboxes 1.0" in body
    assert "konsel_relay_queued_messages 1.0" in body
    assert "konsel_relay_queued_bytes 5.0" in body
    assert "konsel_relay_messages_stored_total 1.0" in body
    await client.close()


async def test_metrics_errors_by_code(relay: RelayProcess) -> None:
    client = await relay.client()
    with pytest.raises(Exception, match="NOT_FOUND"):
        await client.send(bytes(16), b"to nowhere")

    _, body = relay.http_get("/metrics")

    assert 'konsel_relay_errors_total{code="NOT_FOUND"} 1.0' in body
    await client.close()


async def test_other_subprotocol_rejected(relay: RelayProcess) -> None:
    with pytest.raises(InvalidStatus) as caught:
        await connect(relay.url, subprotocols=[Subprotocol("chat.v2")], proxy=None)
    assert caught.value.response.status_code == 400

    with pytest.raises(InvalidStatus):
        await connect(relay.url, proxy=None)


async def test_sigterm_graceful(relay: RelayProcess) -> None:
    client = await relay.client()
    _, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"sebelum berhenti")

    relay.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        events = [event async for event in client.deliveries()]

    assert events == []
    assert client.websocket.close_code == CloseCode.GOING_AWAY
    assert relay.process.wait(timeout=15) == 0
    with pytest.raises(RelayConnectionClosed):
        await client.send(inbox.send_id, b"after")
    log = relay.log()
    assert "received SIGTERM" in log
    assert "stopped" in log


async def test_restart_keeps_messages(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start()
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"tersimpan")
    await client.close()
    assert relay.terminate() == 0

    restarted = relay_launcher.start(data_dir=relay.data_dir)
    client = await restarted.client()
    await client.subscribe(inbox.receive_id, owner)
    [delivery] = await receive(client, 1)
    assert delivery.envelope == b"tersimpan"
    await client.close()


async def test_log_hides_ids_and_envelopes(relay: RelayProcess) -> None:
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    await client.subscribe(inbox.receive_id, owner)
    await client.send(inbox.send_id, b"RAHASIA-KONSELI")
    await receive(client, 1)
    await client.close()

    log = relay.log()
    assert inbox.receive_id.hex()[:6] in log
    assert inbox.receive_id.hex()[:8] not in log
    assert inbox.send_id.hex()[:8] not in log
    assert "RAHASIA" not in log
    address_lines = [line for line in log.splitlines() if "127.0.0.1" in line]
    assert len(address_lines) == 1
    assert "listening on" in address_lines[0]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_serves_wss(relay_launcher: RelayLauncher, tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    relay = relay_launcher.start("--tls-cert", str(cert_path), "--tls-key", str(key_path), tls=True)
    context = ssl.create_default_context(cafile=str(cert_path))

    client = await RelayConnection.connect(f"wss://127.0.0.1:{relay.port}", ssl_context=context)
    owner, inbox = await relay.new_inbox(client)
    await client.subscribe(inbox.receive_id, owner)
    await client.send(inbox.send_id, b"lewat tls")
    [delivery] = await receive(client, 1)

    assert delivery.envelope == b"lewat tls"
    await client.close()
    with pytest.raises((InvalidHandshake, OSError, TimeoutError)):
        await RelayConnection.connect(f"ws://127.0.0.1:{relay.port}", open_timeout=3)


async def test_expired_messages_removed(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--message-ttl", "1", "--expiry-interval", "0.5")
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"kedaluwarsa")

    for _ in range(75):
        if "konsel_relay_expired_total 1.0" in relay.http_get("/metrics")[1]:
            break
        await asyncio.sleep(0.2)

    assert (await client.subscribe(inbox.receive_id, owner)).queued == 0
    assert "expired 1 messages" in relay.log()
    await client.close()


async def test_sigterm_keeps_confirmed_sends(relay_launcher: RelayLauncher) -> None:
    """SENDs confirmed while the relay stops are all stored after a restart."""
    relay = relay_launcher.start()
    sender = await relay.client()
    owner, inbox = await relay.new_inbox(sender)
    envelopes = [b"kiriman %02d" % index for index in range(40)]

    sends = [asyncio.ensure_future(sender.send(inbox.send_id, envelope)) for envelope in envelopes]
    await sends[0]
    relay.process.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert relay.process.wait(timeout=15) == 0

    confirmed = [
        envelope
        for envelope, result in zip(envelopes, results, strict=True)
        if isinstance(result, bytes)
    ]
    assert confirmed
    restarted = relay_launcher.start(data_dir=relay.data_dir)
    client = await restarted.client()
    subscribed = await client.subscribe(inbox.receive_id, owner)
    stored_envelopes = []
    for _ in range(subscribed.queued):
        [delivery] = await receive(client, 1)
        stored_envelopes.append(delivery.envelope)
        await client.ack(inbox.receive_id, [delivery.message_id])

    assert stored_envelopes[: len(confirmed)] == confirmed
    await client.close()
