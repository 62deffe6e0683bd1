"""Commands against a real relay subprocess: authorization, limits, errors and prekeys."""

from __future__ import annotations

import asyncio
import signal

import pytest
from nacl.signing import SigningKey
from relay_process import RawClient, RelayLauncher, RelayProcess, receive
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from konsel.client.core.relay_connection import (
    RelayCommandError,
    RelayConnection,
    RelayConnectionClosed,
    RelayRequestTimeout,
)
from konsel.protocol.relay_wire import (
    LABEL_DELETE,
    LABEL_SUBSCRIBE,
    SUBPROTOCOL,
    Ack,
    CloseCode,
    CreateInbox,
    DeleteInbox,
    Error,
    ErrorCode,
    Hello,
    Ok,
    Send,
    ServerHello,
    Subscribe,
    decode_server_message,
    encode_command,
    frame_limits,
    signing_input,
)


async def assert_rejected(code: str, request: object) -> None:
    """Await ``request`` and check that the relay rejected it with ``code``."""
    with pytest.raises(RelayCommandError) as caught:
        await request  # type: ignore[misc]
    assert caught.value.code == code


async def round_trip(relay: RelayProcess) -> None:
    """Check that the relay still serves an unrelated client: create, send, receive, ack."""
    client = await relay.client()
    try:
        owner, inbox = await relay.new_inbox(client)
        await client.subscribe(inbox.receive_id, owner)
        await client.send(inbox.send_id, b"masih hidup")
        [delivery] = await receive(client, 1)
        assert delivery.envelope == b"masih hidup"
        assert await client.ack(inbox.receive_id, [delivery.message_id]) == 1
    finally:
        await client.close()


# --- exchange -------------------------------------------------------------------------------


async def test_two_clients_exchange(two_clients: tuple[RelayConnection, RelayConnection]) -> None:
    alice, bob = two_clients
    alice_key, alice_inbox = SigningKey.generate(), None
    alice_inbox = await alice.create_inbox("private", bytes(alice_key.verify_key))
    bob_key = SigningKey.generate()
    bob_inbox = await bob.create_inbox("private", bytes(bob_key.verify_key))
    await alice.subscribe(alice_inbox.receive_id, alice_key)
    await bob.subscribe(bob_inbox.receive_id, bob_key)

    await alice.send(bob_inbox.send_id, b"halo bob")
    [to_bob] = await receive(bob, 1)
    await bob.send(alice_inbox.send_id, b"halo alice")
    [to_alice] = await receive(alice, 1)

    assert to_bob.envelope == b"halo bob"
    assert to_bob.receive_id == bob_inbox.receive_id
    assert to_alice.envelope == b"halo alice"
    assert await bob.ack(bob_inbox.receive_id, [to_bob.message_id]) == 1
    assert await alice.ack(alice_inbox.receive_id, [to_alice.message_id]) == 1


async def test_send_unknown_inbox(relay: RelayProcess) -> None:
    client = await relay.client()
    await assert_rejected(ErrorCode.NOT_FOUND, client.send(bytes(16), b"x"))
    await client.close()


# --- authorization --------------------------------------------------------------------------


async def test_subscribe_wrong_signature(relay: RelayProcess) -> None:
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"m1")

    raw = await RawClient.connect(relay)
    reply = await raw.command(Subscribe(7, inbox.receive_id, bytes(64)))
    assert reply == Error(7, ErrorCode.AUTH_FAILED, "signature is not valid for this inbox")

    # Nothing changed: the owner still finds its one message queued.
    subscribed = await client.subscribe(inbox.receive_id, owner)
    assert subscribed.queued == 1
    await raw.close()
    await client.close()


async def test_subscribe_replayed_signature(relay: RelayProcess) -> None:
    """A signature made for one connection's challenge fails on another connection."""
    owner_connection = await relay.client()
    owner, inbox = await relay.new_inbox(owner_connection)
    signature = owner.sign(
        signing_input(LABEL_SUBSCRIBE, owner_connection.challenge, inbox.receive_id)
    ).signature
    await owner_connection.subscribe(inbox.receive_id, owner)

    attacker = await RawClient.connect(relay)
    assert attacker.hello.challenge != owner_connection.challenge
    reply = await attacker.command(Subscribe(1, inbox.receive_id, signature))
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.AUTH_FAILED

    # The owner's subscription is untouched and still receives.
    await owner_connection.send(inbox.send_id, b"after replay")
    [delivery] = await receive(owner_connection, 1)
    assert delivery.envelope == b"after replay"
    await attacker.close()
    await owner_connection.close()


async def test_subscribe_foreign_inbox(relay: RelayProcess) -> None:
    victim = await relay.client()
    _, inbox = await relay.new_inbox(victim)
    attacker = await relay.client()

    await assert_rejected(
        ErrorCode.AUTH_FAILED, attacker.subscribe(inbox.receive_id, SigningKey.generate())
    )
    await assert_rejected(ErrorCode.NOT_FOUND, attacker.subscribe(bytes(16), SigningKey.generate()))
    await victim.close()
    await attacker.close()


async def test_ack_foreign_inbox(relay: RelayProcess) -> None:
    victim = await relay.client()
    owner, inbox = await relay.new_inbox(victim)
    message_id = await victim.send(inbox.send_id, b"rahasia")
    attacker = await relay.client()

    await assert_rejected(ErrorCode.NOT_SUBSCRIBED, attacker.ack(inbox.receive_id, [message_id]))

    # An attacker subscribed to its own inbox cannot ack the victim's message either.
    attacker_key, attacker_inbox = await relay.new_inbox(attacker)
    await attacker.subscribe(attacker_inbox.receive_id, attacker_key)
    assert await attacker.ack(attacker_inbox.receive_id, [message_id]) == 0

    subscribed = await victim.subscribe(inbox.receive_id, owner)
    assert subscribed.queued == 1
    [delivery] = await receive(victim, 1)
    assert delivery.message_id == message_id
    await victim.close()
    await attacker.close()


async def test_delete_foreign_inbox(relay: RelayProcess) -> None:
    victim = await relay.client()
    owner, inbox = await relay.new_inbox(victim)
    await victim.send(inbox.send_id, b"tetap ada")
    attacker = await relay.client()

    await assert_rejected(
        ErrorCode.AUTH_FAILED, attacker.delete_inbox(inbox.receive_id, SigningKey.generate())
    )
    # The owner's own subscribe signature is not a delete signature (different label).
    raw = await RawClient.connect(relay)
    subscribe_signature = owner.sign(
        signing_input(LABEL_SUBSCRIBE, raw.hello.challenge, inbox.receive_id)
    ).signature
    reply = await raw.command(DeleteInbox(3, inbox.receive_id, subscribe_signature))
    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.AUTH_FAILED

    assert (await victim.subscribe(inbox.receive_id, owner)).queued == 1
    await raw.close()
    await victim.close()
    await attacker.close()


async def test_delete_own_inbox(relay: RelayProcess) -> None:
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, b"hapus")

    await client.delete_inbox(inbox.receive_id, owner)

    await assert_rejected(ErrorCode.NOT_FOUND, client.send(inbox.send_id, b"again"))
    await assert_rejected(ErrorCode.NOT_FOUND, client.subscribe(inbox.receive_id, owner))
    await client.close()


async def test_secured_inbox_requires_proof(relay: RelayProcess) -> None:
    owner_connection = await relay.client()
    owner, inbox = await relay.new_inbox(owner_connection)
    sender = SigningKey.generate()
    await owner_connection.subscribe(inbox.receive_id, owner)
    await owner_connection.secure(inbox.receive_id, bytes(sender.verify_key))

    stranger = await relay.client()
    await assert_rejected(ErrorCode.PROOF_REQUIRED, stranger.send(inbox.send_id, b"spam"))
    await assert_rejected(
        ErrorCode.AUTH_FAILED, stranger.prove_sender(inbox.send_id, SigningKey.generate())
    )
    await assert_rejected(ErrorCode.PROOF_REQUIRED, stranger.send(inbox.send_id, b"spam"))

    legitimate = await relay.client()
    await legitimate.prove_sender(inbox.send_id, sender)
    await legitimate.send(inbox.send_id, b"dari konseli")

    [delivery] = await receive(owner_connection, 1)
    assert delivery.envelope == b"dari konseli"
    # The proof belongs to the connection: a new connection must prove again.
    later = await relay.client()
    await assert_rejected(ErrorCode.PROOF_REQUIRED, later.send(inbox.send_id, b"x"))
    for connection in (owner_connection, stranger, legitimate, later):
        await connection.close()


async def test_secure_needs_subscription(relay: RelayProcess) -> None:
    victim = await relay.client()
    _, inbox = await relay.new_inbox(victim)
    attacker = await relay.client()

    await assert_rejected(ErrorCode.NOT_SUBSCRIBED, attacker.secure(inbox.receive_id, bytes(32)))
    # The inbox stays open to unproven senders.
    await attacker.send(inbox.send_id, b"masih terbuka")
    await victim.close()
    await attacker.close()


async def test_secure_contact_wrong_kind(relay: RelayProcess) -> None:
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client, "contact")
    await client.subscribe(inbox.receive_id, owner)

    await assert_rejected(ErrorCode.WRONG_KIND, client.secure(inbox.receive_id, bytes(32)))
    await client.close()


# --- malformed input and limits -------------------------------------------------------------


async def test_malformed_frames_answered(relay: RelayProcess) -> None:
    raw = await RawClient.connect(relay)

    await raw.send_raw(b"\xc1\x00\x00")
    bad = await raw.next_message()
    assert isinstance(bad, Error)
    assert bad.code == ErrorCode.BAD_FRAME
    assert bad.request_id is None

    await raw.send_raw(b"\x82\xa1t\xa6launch\xa1r\x05")  # {"t": "launch", "r": 5}
    unknown = await raw.next_message()
    assert isinstance(unknown, Error)
    assert unknown.code == ErrorCode.UNKNOWN_COMMAND
    assert unknown.request_id == 5

    await raw.send_raw("teks")
    text = await raw.next_message()
    assert isinstance(text, Error)
    assert text.code == ErrorCode.BAD_FRAME

    second_hello = await raw.command(Hello(6))
    assert isinstance(second_hello, Error)
    assert second_hello.code == ErrorCode.BAD_FRAME

    # The connection survives malformed frames and still replies to commands.
    created = await raw.command(CreateInbox(9, "private", bytes(32)))
    assert getattr(created, "request_id", None) == 9
    await round_trip(relay)
    await raw.close()


async def test_oversized_frame_closes_1009(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--max-envelope", "4096")
    raw = await RawClient.connect(relay)

    await raw.send_raw(bytes(4096 + 2048))
    with pytest.raises(ConnectionClosed):
        await raw.next_message()

    assert raw.websocket.close_code == CloseCode.MESSAGE_TOO_BIG
    await round_trip(relay)


async def test_envelope_too_large(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--max-envelope", "4096")
    client = await relay.client()
    _, inbox = await relay.new_inbox(client)

    await assert_rejected(ErrorCode.TOO_LARGE, client.send(inbox.send_id, bytes(4097)))
    await client.send(inbox.send_id, bytes(4096))
    await client.close()


async def test_inbox_quota_exceeded(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--inbox-max-messages", "3", "--inbox-max-bytes", "5000")
    client = await relay.client()
    owner, inbox = await relay.new_inbox(client)
    for index in range(3):
        await client.send(inbox.send_id, b"m%d" % index)

    await assert_rejected(ErrorCode.QUOTA_EXCEEDED, client.send(inbox.send_id, b"m3"))

    _, big_inbox = await relay.new_inbox(client)
    await client.send(big_inbox.send_id, bytes(4000))
    await assert_rejected(ErrorCode.QUOTA_EXCEEDED, client.send(big_inbox.send_id, bytes(1001)))

    # Acknowledging frees the quota again; the rejected message was never stored.
    await client.subscribe(inbox.receive_id, owner)
    deliveries = await receive(client, 3)
    assert [delivery.envelope for delivery in deliveries] == [b"m0", b"m1", b"m2"]
    await client.ack(inbox.receive_id, [delivery.message_id for delivery in deliveries])
    await client.send(inbox.send_id, b"m4")
    await round_trip(relay)
    await client.close()


async def test_storage_cap_reached(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--max-storage", "3000", "--min-free-disk", "0")
    client = await relay.client()
    _, inbox = await relay.new_inbox(client)
    await client.send(inbox.send_id, bytes(2700))

    await assert_rejected(ErrorCode.STORAGE_FULL, client.send(inbox.send_id, bytes(100)))
    await assert_rejected(ErrorCode.STORAGE_FULL, relay.new_inbox(client))
    await client.close()


async def test_creation_rate_limited(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--create-rate", "3")
    client = await relay.client()
    for _ in range(3):
        await relay.new_inbox(client)

    await assert_rejected(ErrorCode.RATE_LIMITED, relay.new_inbox(client))
    await client.close()


async def test_creation_token_required(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--creation-token", "sekolah-42")
    client = await relay.client()
    key = bytes(SigningKey.generate().verify_key)

    await assert_rejected(ErrorCode.TOKEN_REQUIRED, client.create_inbox("private", key))
    await assert_rejected(ErrorCode.TOKEN_INVALID, client.create_inbox("private", key, "salah"))
    created = await client.create_inbox("private", key, "sekolah-42")
    assert len(created.receive_id) == 16
    await client.close()


async def test_contact_send_rate_limited(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--contact-rate-per-inbox", "5")
    client = await relay.client()
    _, contact = await relay.new_inbox(client, "contact")
    for index in range(5):
        await client.send(contact.send_id, b"%d" % index)

    await assert_rejected(ErrorCode.RATE_LIMITED, client.send(contact.send_id, b"6"))
    await client.close()


async def test_contact_rates_skip_private(relay_launcher: RelayLauncher) -> None:
    """The contact rate limits count only contact inboxes, never SENDs to a private inbox."""
    relay = relay_launcher.start("--contact-rate-per-inbox", "2", "--contact-rate-per-ip", "3")
    client = await relay.client()
    _, private = await relay.new_inbox(client)
    _, contact = await relay.new_inbox(client, "contact")

    for index in range(6):
        await client.send(private.send_id, b"%d" % index)
    await client.send(contact.send_id, b"a")
    await client.send(contact.send_id, b"b")
    await assert_rejected(ErrorCode.RATE_LIMITED, client.send(contact.send_id, b"c"))

    _, second_contact = await relay.new_inbox(client, "contact")
    await client.send(second_contact.send_id, b"d")
    await assert_rejected(ErrorCode.RATE_LIMITED, client.send(second_contact.send_id, b"e"))
    await client.send(private.send_id, b"tetap")
    await client.close()


async def test_hello_timeout_closes(relay: RelayProcess) -> None:
    """A client that never sends its hello is closed with 4000 after the handshake timeout."""
    silent = await RawClient.connect(relay, send_hello=False)
    await round_trip(relay)

    with pytest.raises(ConnectionClosed):
        await silent.next_message()
    assert silent.websocket.close_code == CloseCode.HELLO_TIMEOUT
    assert "no hello within" in relay.log()


async def test_command_before_hello(relay: RelayProcess) -> None:
    raw = await RawClient.connect(relay, send_hello=False)
    reply = await raw.command(Send(4, bytes(16), b"x"))

    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.HELLO_REQUIRED
    with pytest.raises(ConnectionClosed):
        await raw.next_message()
    assert raw.websocket.close_code == CloseCode.POLICY_VIOLATION


async def test_unsupported_version(relay: RelayProcess) -> None:
    raw = await RawClient.connect(relay, send_hello=False)
    reply = await raw.command(Hello(1, version=99))

    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.UNSUPPORTED_VERSION
    with pytest.raises(ConnectionClosed):
        await raw.next_message()
    assert raw.websocket.close_code == CloseCode.UNSUPPORTED_VERSION


async def test_ack_unknown_ids_harmless(relay: RelayProcess) -> None:
    raw = await RawClient.connect(relay)
    reply = await raw.command(Ack(2, bytes(16), (bytes(16),)))

    assert isinstance(reply, Error)
    assert reply.code == ErrorCode.NOT_SUBSCRIBED
    await raw.close()


# --- prekeys --------------------------------------------------------------------------------


async def test_prekeys_popped_once(relay: RelayProcess) -> None:
    """20 one-time prekeys, 25 fetches (10 concurrent): each prekey is handed out once."""
    owner_connection = await relay.client()
    owner, contact = await relay.new_inbox(owner_connection, "contact")
    await owner_connection.subscribe(contact.receive_id, owner)
    prekeys = [b"otk-%02d" % index for index in range(20)]
    assert await owner_connection.put_prekeys(contact.receive_id, b"bundle-v1", prekeys) == 20

    fetchers = [await relay.client() for _ in range(10)]
    concurrent = await asyncio.gather(
        *(fetcher.fetch_prekeys(contact.send_id) for fetcher in fetchers)
    )
    sequential = [await fetchers[0].fetch_prekeys(contact.send_id) for _ in range(15)]
    results = [*concurrent, *sequential]

    handed_out = [result.one_time_prekey for result in results if result.one_time_prekey]
    assert len(handed_out) == 20
    assert sorted(handed_out) == sorted(prekeys)
    assert [result.one_time_prekey for result in sequential[-5:]] == [None] * 5
    assert all(result.bundle == b"bundle-v1" for result in results)

    resubscribed = await owner_connection.subscribe(contact.receive_id, owner)
    assert resubscribed.prekeys == 0
    assert await owner_connection.put_prekeys(contact.receive_id, None, [b"new-1", b"new-2"]) == 2
    assert (await owner_connection.subscribe(contact.receive_id, owner)).prekeys == 2
    refetched = await fetchers[1].fetch_prekeys(contact.send_id)
    assert refetched.one_time_prekey == b"new-1"
    for connection in (owner_connection, *fetchers):
        await connection.close()


async def test_prekeys_need_owner(relay: RelayProcess) -> None:
    owner_connection = await relay.client()
    owner, contact = await relay.new_inbox(owner_connection, "contact")
    stranger = await relay.client()

    await assert_rejected(
        ErrorCode.NOT_SUBSCRIBED, stranger.put_prekeys(contact.receive_id, b"evil", [b"x"])
    )
    await assert_rejected(ErrorCode.NOT_FOUND, stranger.fetch_prekeys(contact.send_id))

    _, private = await relay.new_inbox(owner_connection)
    await assert_rejected(ErrorCode.WRONG_KIND, stranger.fetch_prekeys(private.send_id))
    await owner_connection.subscribe(contact.receive_id, owner)
    await owner_connection.put_prekeys(contact.receive_id, b"bundle", [])
    assert (await stranger.fetch_prekeys(contact.send_id)).one_time_prekey is None
    await owner_connection.close()
    await stranger.close()


async def test_prekey_cap(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--max-prekeys", "5")
    client = await relay.client()
    owner, contact = await relay.new_inbox(client, "contact")
    await client.subscribe(contact.receive_id, owner)

    await client.put_prekeys(contact.receive_id, b"bundle", [b"a", b"b", b"c"])
    await assert_rejected(
        ErrorCode.QUOTA_EXCEEDED, client.put_prekeys(contact.receive_id, None, [b"d", b"e", b"f"])
    )
    assert (await client.subscribe(contact.receive_id, owner)).prekeys == 3
    await client.close()


async def test_delete_label_signature(relay: RelayProcess) -> None:
    """A delete signed with the delete label over this connection's challenge succeeds."""
    raw = await RawClient.connect(relay)
    owner = SigningKey.generate()
    created = await raw.command(CreateInbox(1, "private", bytes(owner.verify_key)))
    receive_id = created.receive_id  # type: ignore[union-attr]
    signature = owner.sign(signing_input(LABEL_DELETE, raw.hello.challenge, receive_id)).signature

    assert await raw.command(DeleteInbox(2, receive_id, signature)) == Ok(2)
    await raw.close()


# --- per-address limits -----------------------------------------------------------------------


async def test_connections_per_ip_limited(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--max-connections-per-ip", "2")
    first = await relay.client()
    second = await relay.client()

    with pytest.raises(RelayConnectionClosed, match="too many connections"):
        await relay.client()

    await first.close()
    # The relay frees the slot when its handler for the first connection finishes.
    for _ in range(50):
        try:
            third = await relay.client()
            break
        except RelayConnectionClosed:
            await asyncio.sleep(0.1)
    _, inbox = await relay.new_inbox(third)
    assert len(inbox.send_id) == 16
    await second.close()
    await third.close()


async def test_forwarded_header_separates_clients(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--create-rate", "1", "--forwarded-header", "X-Forwarded-For")
    clients = []
    for address in ("10.0.0.1", "10.0.0.2"):
        websocket = await connect(
            relay.url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            additional_headers={"X-Forwarded-For": f"198.51.100.7, {address}"},
            proxy=None,
        )
        clients.append(RawClient(websocket, await _read_hello(websocket)))
        assert await clients[-1].command(Hello(0)) == Ok(0)

    replies = [await client.command(CreateInbox(1, "private", bytes(32))) for client in clients]
    second_try = await clients[0].command(CreateInbox(2, "private", bytes(32)))

    assert all(getattr(reply, "request_id", None) == 1 for reply in replies)
    assert not any(isinstance(reply, Error) for reply in replies)
    assert isinstance(second_try, Error)
    assert second_try.code == ErrorCode.RATE_LIMITED
    for client in clients:
        await client.close()


async def _read_hello(websocket: ClientConnection) -> ServerHello:
    frame = await websocket.recv()
    assert isinstance(frame, bytes)
    hello = decode_server_message(frame, frame_limits(1024))
    assert isinstance(hello, ServerHello)
    return hello


async def test_resecure_voids_old_proof(relay: RelayProcess) -> None:
    owner_connection = await relay.client()
    owner, inbox = await relay.new_inbox(owner_connection)
    old_sender, new_sender = SigningKey.generate(), SigningKey.generate()
    await owner_connection.subscribe(inbox.receive_id, owner)
    await owner_connection.secure(inbox.receive_id, bytes(old_sender.verify_key))
    sender = await relay.client()
    await sender.prove_sender(inbox.send_id, old_sender)
    await sender.send(inbox.send_id, b"sebelum ganti kunci")

    await owner_connection.secure(inbox.receive_id, bytes(new_sender.verify_key))

    await assert_rejected(ErrorCode.PROOF_REQUIRED, sender.send(inbox.send_id, b"basi"))
    await sender.prove_sender(inbox.send_id, new_sender)
    await sender.send(inbox.send_id, b"sesudah ganti kunci")
    deliveries = await receive(owner_connection, 2)
    assert [delivery.envelope for delivery in deliveries] == [
        b"sebelum ganti kunci",
        b"sesudah ganti kunci",
    ]
    await owner_connection.close()
    await sender.close()


async def test_command_rate_limited(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--command-rate", "5")
    raw = await RawClient.connect(relay)

    for request_id in range(1, 31):
        await raw.send_raw(encode_command(Ack(request_id, bytes(16), ())))
    replies = [await raw.next_message() for _ in range(30)]

    codes = [reply.code for reply in replies if isinstance(reply, Error)]
    assert ErrorCode.RATE_LIMITED in codes
    assert ErrorCode.NOT_SUBSCRIBED in codes
    # Every reply, a RATE_LIMITED one included, echoes the request id of its command.
    request_ids = [getattr(reply, "request_id", None) for reply in replies]
    assert None not in request_ids
    assert sorted(request_ids) == list(range(1, 31))  # type: ignore[type-var]
    await raw.close()
    await round_trip(relay)


async def test_rate_limited_undecodable_frame(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--command-rate", "1")
    raw = await RawClient.connect(relay)

    for _ in range(3):
        await raw.send_raw(encode_command(Ack(1, bytes(16), ())))
    await raw.send_raw(b"\x82\xa1t\xa6launch\xa1r\x05")  # {"t": "launch", "r": 5}
    await raw.send_raw(b"\xc1")
    replies = [await raw.next_message() for _ in range(5)]

    assert all(isinstance(reply, Error) for reply in replies)
    assert replies[3] == Error(5, ErrorCode.RATE_LIMITED, "too many commands")
    assert replies[4] == Error(None, ErrorCode.RATE_LIMITED, "too many commands")
    await raw.close()


async def test_client_rate_limited_raises(relay_launcher: RelayLauncher) -> None:
    """A client whose commands exceed the rate gets RATE_LIMITED errors, not a hang."""
    relay = relay_launcher.start("--command-rate", "2")
    client = await relay.client(request_timeout=10.0)
    _, inbox = await relay.new_inbox(client)

    async with asyncio.timeout(15):
        results = await asyncio.gather(
            *(client.send(inbox.send_id, b"%d" % index) for index in range(20)),
            return_exceptions=True,
        )

    rejected = [result for result in results if isinstance(result, RelayCommandError)]
    stored = [result for result in results if isinstance(result, bytes)]
    assert rejected
    assert stored
    assert {error.code for error in rejected} == {ErrorCode.RATE_LIMITED}
    assert len(rejected) + len(stored) == 20
    await client.close()


async def test_request_timeout_raises(relay: RelayProcess) -> None:
    """A relay that stops replying makes a command raise, and the connection stays usable."""
    client = await relay.client(request_timeout=0.5)
    owner, inbox = await relay.new_inbox(client)

    relay.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(RelayRequestTimeout, match=r"'send' \(request id \d+\) within 0.5 s"):
            await client.send(inbox.send_id, b"tertunda")
    finally:
        relay.process.send_signal(signal.SIGCONT)

    # The relay stores the SEND once it runs again; its late reply is dropped.
    await client.subscribe(inbox.receive_id, owner)
    [delivery] = await receive(client, 1)
    assert delivery.envelope == b"tertunda"
    await client.close()


async def test_request_timeout_positive(relay: RelayProcess) -> None:
    with pytest.raises(ValueError, match="request_timeout must be positive"):
        await relay.client(request_timeout=0)
