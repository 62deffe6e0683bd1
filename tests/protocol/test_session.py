"""Tests for konsel.protocol.session: handshakes, delivery orders, tampering and restores."""

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol import kdf, ratchet
from konsel.protocol.envelope import (
    MAX_ENVELOPE_SIZE,
    MAX_PLAINTEXT_SIZE,
    InitialEnvelope,
    MessageEnvelope,
    decode_envelope,
    message_id,
)
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    DuplicateMessageError,
    HandshakeError,
    PrekeyNotFoundError,
    StateError,
)
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import PrekeyBundle, PrekeyStore
from konsel.protocol.session import Session

NOW = 1_780_000_000


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def new_pair(one_time: bool = True) -> tuple[Session, Session]:
    """Return an initiator and a responder that have exchanged one message each way."""
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=1)
    bundle = store.bundle(bob_identity, 1 if one_time else None)
    alice = Session.initiate(alice_identity, PrekeyBundle.decode(bundle.encode()))
    hello, alice = alice.encrypt(b"halo")
    bob, plaintext, _ = Session.respond(bob_identity, store, hello, now=NOW)
    assert plaintext == b"halo"
    reply, bob = bob.encrypt(b"halo juga")
    plaintext, alice = alice.decrypt(reply, NOW)
    assert plaintext == b"halo juga"
    return alice, bob


def test_handshake_identities() -> None:
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=2)
    alice = Session.initiate(alice_identity, store.bundle(bob_identity, 2))
    envelope, alice = alice.encrypt(b"hi")
    bob, _, new_store = Session.respond(bob_identity, store, envelope, now=NOW)
    assert (alice.local_identity, alice.remote_identity) == (
        alice_identity.public,
        bob_identity.public,
    )
    assert (bob.local_identity, bob.remote_identity) == (bob_identity.public, alice_identity.public)
    assert sorted(new_store.one_time_prekeys) == [1]
    assert alice.associated_data == bob.associated_data


def test_initial_until_reply() -> None:
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=1)
    alice = Session.initiate(alice_identity, store.bundle(bob_identity, 1))
    initial = []
    for text in (b"satu", b"dua", b"tiga"):
        envelope, alice = alice.encrypt(text)
        initial.append(envelope)
    parsed = [decode_envelope(envelope) for envelope in initial]
    assert all(isinstance(item, InitialEnvelope) for item in parsed)
    assert len({item.ephemeral_public for item in parsed if isinstance(item, InitialEnvelope)}) == 1

    # The last one arrives first and starts the session; the others decrypt on it.
    bob, plaintext, store = Session.respond(bob_identity, store, initial[2], now=NOW)
    assert plaintext == b"tiga"
    for envelope, text in [(initial[0], b"satu"), (initial[1], b"dua")]:
        plaintext, bob = bob.decrypt(envelope, NOW)
        assert plaintext == text
    with pytest.raises(PrekeyNotFoundError):
        Session.respond(bob_identity, store, initial[0], now=NOW)

    reply, bob = bob.encrypt(b"balas")
    assert isinstance(decode_envelope(reply), MessageEnvelope)
    _, alice = alice.decrypt(reply, NOW)
    next_envelope, alice = alice.encrypt(b"empat")
    assert isinstance(decode_envelope(next_envelope), MessageEnvelope)
    assert bob.decrypt(next_envelope, NOW)[0] == b"empat"


def test_respond_needs_initial() -> None:
    alice, _ = new_pair()
    envelope, _ = alice.encrypt(b"m")
    identity = IdentityKeyPair.generate()
    with pytest.raises(HandshakeError):
        Session.respond(identity, PrekeyStore.create(identity, NOW, 1), envelope, now=NOW)


def test_initiator_rejects_initial() -> None:
    alice, _ = new_pair()
    other_identity = IdentityKeyPair.generate()
    store = PrekeyStore.create(other_identity, NOW, 1)
    other = Session.initiate(IdentityKeyPair.generate(), store.bundle(other_identity, 1))
    envelope, _ = other.encrypt(b"x")
    with pytest.raises(HandshakeError):
        alice.decrypt(envelope, NOW)


def test_responder_rejects_other_handshake() -> None:
    _, bob = new_pair()
    identity = IdentityKeyPair.generate()
    store = PrekeyStore.create(identity, NOW, 1)
    stranger = Session.initiate(IdentityKeyPair.generate(), store.bundle(identity, 1))
    envelope, _ = stranger.encrypt(b"x")
    with pytest.raises(HandshakeError):
        bob.decrypt(envelope, NOW)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_delivery(data: st.DataObject) -> None:
    """Every message decrypts exactly once in any order; replays and losses change nothing else."""
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=1)
    alice = Session.initiate(alice_identity, store.bundle(bob_identity, 1))
    first, alice = alice.encrypt(b"first")
    bob, _, _ = Session.respond(bob_identity, store, first, now=NOW)

    sessions = {"alice": alice, "bob": bob}
    peer = {"alice": "bob", "bob": "alice"}
    in_flight: dict[str, list[tuple[bytes, bytes]]] = {"alice": [], "bob": []}
    delivered: dict[str, list[bytes]] = {"alice": [], "bob": [first]}
    actions = ["send alice", "send bob", "deliver", "deliver", "replay", "lose"]

    def deliver(name: str, index: int) -> None:
        envelope, text = in_flight[name].pop(index)
        plaintext, sessions[name] = sessions[name].decrypt(envelope, NOW)
        assert plaintext == text
        delivered[name].append(envelope)

    for step in range(data.draw(st.integers(min_value=0, max_value=40))):
        action = data.draw(st.sampled_from(actions))
        name = data.draw(st.sampled_from(["alice", "bob"]))
        if action.startswith("send"):
            sender = action.split()[1]
            text = b"%d:" % step + data.draw(st.binary(max_size=300))
            envelope, sessions[sender] = sessions[sender].encrypt(text)
            in_flight[peer[sender]].append((envelope, text))
        elif action == "deliver" and in_flight[name]:
            deliver(name, data.draw(st.integers(0, len(in_flight[name]) - 1)))
        elif action == "replay" and delivered[name]:
            envelope = data.draw(st.sampled_from(delivered[name]))
            before = sessions[name].to_bytes()
            with pytest.raises(DuplicateMessageError):
                sessions[name].decrypt(envelope, NOW)
            assert sessions[name].to_bytes() == before
        elif action == "lose" and in_flight[name]:
            in_flight[name].pop(data.draw(st.integers(0, len(in_flight[name]) - 1)))

    for name in ("alice", "bob"):
        while in_flight[name]:
            deliver(name, data.draw(st.integers(0, len(in_flight[name]) - 1)))

    # Both sessions survive a save and load and still talk in both directions.
    alice, bob = (Session.from_bytes(sessions[name].to_bytes()) for name in ("alice", "bob"))
    envelope, alice = alice.encrypt(b"after")
    assert bob.decrypt(envelope, NOW)[0] == b"after"
    envelope, bob = bob.encrypt(b"back")
    assert alice.decrypt(envelope, NOW)[0] == b"back"


def test_every_bit_flip_rejected() -> None:
    alice, bob = new_pair()
    envelope, alice = alice.encrypt(b"ok")
    follow_up, alice = alice.encrypt(b"next")
    before = bob.to_bytes()

    for bit in range(len(envelope) * 8):
        with pytest.raises((AuthenticationError, DecodeError)):
            bob.decrypt(flip_bit(envelope, bit), NOW)
        assert bob.to_bytes() == before

    assert bob.decrypt(follow_up, NOW)[0] == b"next"
    assert bob.decrypt(envelope, NOW)[0] == b"ok"


def test_initial_bit_flips_rejected() -> None:
    """Flipped "i" envelopes fail both on the existing session and as a new handshake."""
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=1)
    alice = Session.initiate(alice_identity, store.bundle(bob_identity, 1))
    first, alice = alice.encrypt(b"a")
    second, alice = alice.encrypt(b"b")
    bob, _, _ = Session.respond(bob_identity, store, first, now=NOW)
    before = bob.to_bytes()

    for bit in range(len(second) * 8):
        tampered = flip_bit(second, bit)
        with pytest.raises((AuthenticationError, DecodeError, HandshakeError)):
            bob.decrypt(tampered, NOW)
        with pytest.raises((AuthenticationError, DecodeError, HandshakeError)):
            Session.respond(bob_identity, store, tampered, now=NOW)
    assert bob.to_bytes() == before
    assert bob.decrypt(second, NOW)[0] == b"b"


def test_duplicate_then_forgery() -> None:
    alice, bob = new_pair()
    initial_fields = bob.initial
    envelopes = {}
    for number in range(1, 10):
        envelopes[number], alice = alice.encrypt(b"pesan %d" % number)

    for number in range(1, 6):
        plaintext, bob = bob.decrypt(envelopes[number], NOW)
        assert plaintext == b"pesan %d" % number

    before = bob.to_bytes()
    with pytest.raises(DuplicateMessageError):
        bob.decrypt(envelopes[4], NOW)
    assert bob.to_bytes() == before

    forged = bytearray(envelopes[6])
    forged[-5] ^= 0x40
    with pytest.raises(AuthenticationError):
        bob.decrypt(bytes(forged), NOW)
    assert bob.to_bytes() == before

    for number in (7, 8, 9):
        plaintext, bob = bob.decrypt(envelopes[number], NOW)
        assert plaintext == b"pesan %d" % number

    reply, bob = bob.encrypt(b"balasan")
    assert isinstance(decode_envelope(reply), MessageEnvelope)
    plaintext, alice = alice.decrypt(reply, NOW)
    assert plaintext == b"balasan"
    assert bob.initial == initial_fields
    assert not alice.awaiting_reply


def body_key_nonce(sender: Session, envelope: bytes) -> tuple[bytes, bytes]:
    """Recompute the (body key, nonce) that ``sender`` used for ``envelope``."""
    state = sender.ratchet
    assert state.sending_chain_key is not None and state.sending_header_key is not None
    parsed = decode_envelope(envelope)
    header = ratchet.open_header(
        state.sending_header_key, parsed.header, parsed.body, sender.associated_data
    )
    assert header is not None
    _, message_key = kdf.chain_step(state.sending_chain_key)
    return kdf.body_key_and_nonce(message_key, header.salt)


def test_restored_backup() -> None:
    alice, bob = new_pair()
    warm_up, alice = alice.encrypt(b"m0")
    _, bob = bob.decrypt(warm_up, NOW)
    backup = alice.to_bytes()
    used: dict[tuple[bytes, bytes], bytes] = {}

    def send(session: Session, text: bytes) -> tuple[bytes, Session]:
        envelope, new_session = session.encrypt(text)
        pair = body_key_nonce(session, envelope)
        assert used.setdefault(pair, text) == text
        return envelope, new_session

    for text in (b"m1", b"m2", b"m3"):
        envelope, alice = send(alice, text)
        _, bob = bob.decrypt(envelope, NOW)

    restored = Session.from_bytes(backup)
    replays = []
    for text in (b"lain 1", b"lain 2", b"lain 3", b"lain 4"):
        envelope, restored = send(restored, text)
        replays.append(envelope)
    assert len(used) == 7

    # Counters 0-2 were already used: bob reports duplicates with message ids it never saw.
    before = bob.to_bytes()
    for envelope in replays[:3]:
        with pytest.raises(DuplicateMessageError):
            bob.decrypt(envelope, NOW)
    assert bob.to_bytes() == before
    plaintext, bob = bob.decrypt(replays[3], NOW)
    assert plaintext == b"lain 4"


def test_restored_after_receipt() -> None:
    """A backup taken right after a receipt restarts the sending chain with a new DH key."""
    alice, bob = new_pair()
    backup = alice.to_bytes()
    for text in (b"m1", b"m2"):
        envelope, alice = alice.encrypt(text)
        _, bob = bob.decrypt(envelope, NOW)

    restored = Session.from_bytes(backup)
    replays = []
    for text in (b"lain 1", b"lain 2", b"lain 3"):
        envelope, restored = restored.encrypt(text)
        replays.append(envelope)
    assert restored.ratchet.dh_public != alice.ratchet.dh_public

    # The restored chain shares its header key with the original but not its chain key:
    # used counters read as duplicates, and a new counter fails authentication.
    before = bob.to_bytes()
    for envelope in replays[:2]:
        with pytest.raises(DuplicateMessageError):
            bob.decrypt(envelope, NOW)
    with pytest.raises(AuthenticationError):
        bob.decrypt(replays[2], NOW)
    assert bob.to_bytes() == before


def test_restored_message_ids_differ() -> None:
    alice, _ = new_pair()
    backup = Session.from_bytes(alice.to_bytes())
    original, _ = alice.encrypt(b"sama")
    again, _ = backup.encrypt(b"sama")
    assert message_id(original) != message_id(again)


def test_one_time_prekeys_exhausted() -> None:
    bob_identity = IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=20)
    bundles = store.bundles(bob_identity)
    bundles += [store.bundle(bob_identity, None)] * 5
    consumed: set[int] = set()

    for index, bundle in enumerate(bundles):
        alice = Session.initiate(IdentityKeyPair.generate(), PrekeyBundle.decode(bundle.encode()))
        envelope, alice = alice.encrypt(b"dari %d" % index)
        parsed = decode_envelope(envelope)
        assert isinstance(parsed, InitialEnvelope)
        if index < 20:
            assert parsed.one_time_prekey_id is not None
            assert parsed.one_time_prekey_id not in consumed
            consumed.add(parsed.one_time_prekey_id)
        else:
            assert parsed.one_time_prekey_id is None

        bob, plaintext, new_store = Session.respond(bob_identity, store, envelope, now=NOW)
        assert plaintext == b"dari %d" % index
        if parsed.one_time_prekey_id is not None:
            with pytest.raises(PrekeyNotFoundError):
                Session.respond(bob_identity, new_store, envelope, now=NOW)
        store = new_store

        reply, bob = bob.encrypt(b"ok")
        assert alice.decrypt(reply, NOW)[0] == b"ok"

    assert len(consumed) == 20
    assert store.one_time_prekeys == {}


def test_session_round_trip() -> None:
    alice, bob = new_pair()
    for session in (alice, bob):
        loaded = Session.from_bytes(session.to_bytes())
        assert loaded == session
    envelope, alice = alice.encrypt(b"after load")
    assert Session.from_bytes(bob.to_bytes()).decrypt(envelope, NOW)[0] == b"after load"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("role", "observer"),
        ("local_identity", b"\x00" * 31),
        ("remote_identity", b"\x01" + b"\x00" * 31),
        ("initial", [b"\x00" * 32, 1, None]),
        ("initial", [b"\x00" * 32, -1, None, b"\x00" * 48]),
        ("awaiting_reply", 1),
        ("ratchet", b"\x80"),
        ("v", 0),
    ],
)
def test_session_load_rejects(key: str, value: object) -> None:
    alice, _ = new_pair()
    document = msgpack.unpackb(alice.to_bytes())
    document[key] = value
    with pytest.raises(StateError):
        Session.from_bytes(msgpack.packb(document))


def test_plaintext_size_limit() -> None:
    alice, bob = new_pair()
    envelope, alice = alice.encrypt(b"\x00" * MAX_PLAINTEXT_SIZE)
    assert len(envelope) <= MAX_ENVELOPE_SIZE
    assert bob.decrypt(envelope, NOW)[0] == b"\x00" * MAX_PLAINTEXT_SIZE
    with pytest.raises(ValueError):
        alice.encrypt(b"\x00" * (MAX_PLAINTEXT_SIZE + 1))


def test_signed_prekey_only_session() -> None:
    alice, bob = new_pair(one_time=False)
    envelope, alice = alice.encrypt(b"tanpa one-time prekey")
    assert bob.decrypt(envelope, NOW)[0] == b"tanpa one-time prekey"


def test_message_envelope_form() -> None:
    """An "m" envelope is the msgpack array that the strict decoder reads back unchanged."""
    alice, bob = new_pair()
    for text in (b"", b"x" * 60, b"y" * 300, b"z" * 70_000):
        envelope, alice = alice.encrypt(text)
        parsed = decode_envelope(envelope)
        assert isinstance(parsed, MessageEnvelope)
        assert envelope == msgpack.packb([1, "m", parsed.header, parsed.body], use_bin_type=True)
        plaintext, bob = bob.decrypt(envelope, NOW)
        assert plaintext == text


def test_decrypt_non_minimal_envelope() -> None:
    """An "m" envelope with a bin32 body, which only the strict decoder reads, still opens."""
    alice, bob = new_pair()
    envelope, alice = alice.encrypt(b"pesan")
    parsed = decode_envelope(envelope)
    body = parsed.body
    rewritten = envelope[:70] + b"\xc6" + len(body).to_bytes(4, "big") + body
    assert rewritten != envelope
    assert bob.decrypt(rewritten, NOW)[0] == b"pesan"
    assert bob.decrypt(envelope, NOW)[0] == b"pesan"


def test_associated_data_cached() -> None:
    alice, bob = new_pair()
    expected = b"\x01" + alice.local_identity.ed25519 + bob.local_identity.ed25519
    assert alice.associated_data == expected
    assert bob.associated_data == expected
    restored = Session.from_bytes(bob.to_bytes())
    assert restored.associated_data == expected
    _, evolved = alice.encrypt(b"x")
    assert evolved.associated_data == expected


def test_evolve_leaves_original() -> None:
    alice, bob = new_pair()
    warm_up, alice = alice.encrypt(b"new sending chain")
    _, bob = bob.decrypt(warm_up, NOW)
    alice_before, bob_before = alice.to_bytes(), bob.to_bytes()
    envelope, alice_after = alice.encrypt(b"x")
    _, bob_after = bob.decrypt(envelope, NOW)
    assert alice.to_bytes() == alice_before
    assert bob.to_bytes() == bob_before
    assert alice_after.ratchet is not alice.ratchet
    assert bob_after.ratchet.receiving_number == bob.ratchet.receiving_number + 1
    assert alice_after == Session.from_bytes(alice_after.to_bytes())
