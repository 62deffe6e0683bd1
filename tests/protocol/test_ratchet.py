"""Tests for konsel.protocol.ratchet and ratchet_state: the Double Ratchet with header encryption."""

import hashlib

import msgpack
import nacl.utils
import pytest

from konsel.protocol import ratchet
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    DuplicateMessageError,
    SessionError,
    StateError,
    TooManySkippedError,
)
from konsel.protocol.prekeys import x25519_keypair
from konsel.protocol.ratchet_state import (
    HEADER_SIZE,
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
    SKIPPED_KEY_MAX_AGE,
    SKIPPED_KEY_MAX_STEPS,
    Header,
    RatchetState,
    encode_header,
)
from konsel.protocol.x3dh import SharedKeys

AD = b"\x01" + b"A" * 32 + b"B" * 32
NOW = 1_780_000_000
Message = tuple[bytes, bytes]


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def make_pair() -> tuple[RatchetState, RatchetState]:
    shared = SharedKeys(nacl.utils.random(32), nacl.utils.random(32), nacl.utils.random(32))
    bob_private, bob_public = x25519_keypair(nacl.utils.random)
    alice = ratchet.initialize_initiator(shared, bob_public)
    bob = ratchet.initialize_responder(shared, bob_private)
    return alice, bob


def send(state: RatchetState, text: bytes) -> tuple[Message, RatchetState]:
    header, body, state = ratchet.encrypt(state, text, AD)
    return (header, body), state


def receive(state: RatchetState, message: Message, now: int = NOW) -> tuple[bytes, RatchetState]:
    return ratchet.decrypt(state, message[0], message[1], AD, now)


def burst(
    state: RatchetState, count: int, prefix: bytes = b"m"
) -> tuple[list[Message], RatchetState]:
    messages = []
    for index in range(count):
        message, state = send(state, prefix + str(index).encode())
        messages.append(message)
    return messages, state


def exchange(alice: RatchetState, bob: RatchetState) -> tuple[RatchetState, RatchetState]:
    """Run one reply from Bob and one message from Alice: one DH ratchet step on each side."""
    reply, bob = send(bob, b"reply")
    _, alice = receive(alice, reply)
    message, alice = send(alice, b"next")
    _, bob = receive(bob, message)
    return alice, bob


def test_ping_pong() -> None:
    alice, bob = make_pair()
    for round_number in range(4):
        message, alice = send(alice, b"from alice %d" % round_number)
        plaintext, bob = receive(bob, message)
        assert plaintext == b"from alice %d" % round_number
        reply, bob = send(bob, b"from bob %d" % round_number)
        plaintext, alice = receive(alice, reply)
        assert plaintext == b"from bob %d" % round_number
    assert bob.receive_steps == 4
    assert alice.receive_steps == 4


def test_sizes() -> None:
    alice, _ = make_pair()
    (header, body), _ = send(alice, b"x" * 60)
    assert len(header) == ratchet.HEADER_CIPHERTEXT_SIZE == 64
    assert len(body) == 64 + 16


def test_inputs_unchanged() -> None:
    alice, bob = make_pair()
    alice_before, bob_before = alice.to_bytes(), bob.to_bytes()
    message, _ = send(alice, b"hello")
    receive(bob, message)
    assert alice.to_bytes() == alice_before
    assert bob.to_bytes() == bob_before


def test_responder_cannot_send_first() -> None:
    _, bob = make_pair()
    with pytest.raises(SessionError):
        send(bob, b"too early")


def test_header_layout() -> None:
    header = Header(b"\x11" * 32, 5, 2**32 - 1, b"\x22" * 8)
    encoded = header.encode()
    assert len(encoded) == HEADER_SIZE == 48
    assert encoded[32:40] == b"\x00\x00\x00\x05\xff\xff\xff\xff"
    assert Header.decode(encoded) == header


def test_out_of_order_across_steps() -> None:
    alice, bob = make_pair()
    first, alice = burst(alice, 3, b"a1-")
    _, bob = receive(bob, first[2])
    reply, bob = send(bob, b"b1")
    _, alice = receive(alice, reply)
    second, alice = burst(alice, 3, b"a2-")

    assert receive(bob, second[1])[0] == b"a2-1"
    _, bob = receive(bob, second[1])
    for message, expected in [(first[0], b"a1-0"), (second[2], b"a2-2"), (first[1], b"a1-1")]:
        plaintext, bob = receive(bob, message)
        assert plaintext == expected
    plaintext, bob = receive(bob, second[0])
    assert plaintext == b"a2-0"
    assert bob.skipped == {}


def test_duplicate_rejected() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, 3)
    for message in messages:
        _, bob = receive(bob, message)
    before = bob.to_bytes()
    for message in messages:
        with pytest.raises(DuplicateMessageError):
            receive(bob, message)
    assert bob.to_bytes() == before


def test_duplicate_from_previous_chain() -> None:
    alice, bob = make_pair()
    message, alice = send(alice, b"old")
    _, bob = receive(bob, message)
    alice, bob = exchange(alice, bob)
    with pytest.raises(DuplicateMessageError):
        receive(bob, message)


def test_skip_cap_per_message() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, MAX_SKIP + 2)
    before = bob.to_bytes()
    with pytest.raises(TooManySkippedError) as caught:
        receive(bob, messages[MAX_SKIP + 1])
    assert (caught.value.needed, caught.value.cap) == (MAX_SKIP + 1, MAX_SKIP)
    assert bob.to_bytes() == before

    plaintext, bob = receive(bob, messages[MAX_SKIP])
    assert plaintext == b"m%d" % MAX_SKIP
    assert len(bob.skipped) == MAX_SKIP
    assert receive(bob, messages[0])[0] == b"m0"


def test_skip_cap_across_step() -> None:
    """Keys left in the old chain and keys before N in the new chain count together."""
    alice, bob = make_pair()
    first, alice = burst(alice, 600)
    _, bob = receive(bob, first[0])
    reply, bob = send(bob, b"reply")
    _, alice = receive(alice, reply)
    second, alice = burst(alice, 500)
    with pytest.raises(TooManySkippedError) as caught:
        receive(bob, second[499])
    assert caught.value.needed == 599 + 499
    plaintext, _ = receive(bob, second[400])
    assert plaintext == b"m400"


def test_total_cap_drops_oldest() -> None:
    alice, bob = make_pair()
    dropped: list[Message] = []
    kept: list[Message] = []
    for chain in range(3):
        messages, alice = burst(alice, 901, b"c%d-" % chain)
        _, bob = receive(bob, messages[900])
        (dropped if chain == 0 else kept).extend(messages[:900])
        reply, bob = send(bob, b"reply")
        _, alice = receive(alice, reply)
    assert len(bob.skipped) == MAX_SKIPPED_KEYS

    # The first 700 keys of chain 0 were dropped, the last 200 remain.
    with pytest.raises(DuplicateMessageError):
        receive(bob, dropped[699])
    assert receive(bob, dropped[700])[0] == b"c0-700"
    assert receive(bob, kept[-1])[0] == b"c2-899"


def test_expiry_by_steps() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, 2)
    _, bob = receive(bob, messages[1])
    for _ in range(SKIPPED_KEY_MAX_STEPS - 1):
        alice, bob = exchange(alice, bob)
    assert receive(bob, messages[0])[0] == b"m0"

    alice, bob = exchange(alice, bob)
    assert bob.skipped == {}
    with pytest.raises(DuplicateMessageError):
        receive(bob, messages[0])

    # One step later the chain's header key is forgotten as well.
    alice, bob = exchange(alice, bob)
    with pytest.raises(AuthenticationError):
        receive(bob, messages[0])


def test_expiry_by_age() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, 2)
    _, bob = receive(bob, messages[1], now=NOW)
    assert receive(bob, messages[0], now=NOW + SKIPPED_KEY_MAX_AGE)[0] == b"m0"
    with pytest.raises(DuplicateMessageError):
        receive(bob, messages[0], now=NOW + SKIPPED_KEY_MAX_AGE + 1)


def test_forged_header_rejected() -> None:
    alice, bob = make_pair()
    (header, body), alice = send(alice, b"hello")
    before = bob.to_bytes()
    with pytest.raises(AuthenticationError):
        ratchet.decrypt(bob, bytes(64), body, AD, NOW)
    with pytest.raises(AuthenticationError):
        ratchet.decrypt(bob, header, body, AD[:-1] + b"C", NOW)
    with pytest.raises(AuthenticationError):
        ratchet.decrypt(bob, header, body[:-1], AD, NOW)
    assert bob.to_bytes() == before
    assert receive(bob, (header, body))[0] == b"hello"


def test_header_moved_to_other_body() -> None:
    alice, bob = make_pair()
    (header_a, _), alice = send(alice, b"first")
    (_, body_b), alice = send(alice, b"second")
    with pytest.raises(AuthenticationError):
        ratchet.decrypt(bob, header_a, body_b, AD, NOW)


def test_state_round_trip() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, 5)
    _, bob = receive(bob, messages[4])
    alice, bob = exchange(alice, bob)
    for state in (alice, bob):
        loaded = RatchetState.from_bytes(state.to_bytes())
        assert loaded == state
        assert loaded.to_bytes() == state.to_bytes()
    assert len(bob.skipped) == 4


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rk", b"\x00" * 31),
        ("dhs", None),
        ("ns", -1),
        ("ns", True),
        ("skipped", [[b"\x00" * 32, 1, b"\x00" * 32, 0]]),
        ("skipped", [[b"\x00" * 32, 1, b"\x00" * 32, 0, "now"]]),
        ("previous_hkr", [b"\x00" * 32] * 6),
        ("t", "session"),
        ("v", 2),
    ],
)
def test_state_load_rejects(key: str, value: object) -> None:
    alice, _ = make_pair()
    document = msgpack.unpackb(alice.to_bytes())
    document[key] = value
    with pytest.raises(StateError):
        RatchetState.from_bytes(msgpack.packb(document))


def test_state_load_garbage() -> None:
    alice, _ = make_pair()
    for data in (b"", b"\x80", alice.to_bytes()[:-1], alice.to_bytes() + b"\x00"):
        with pytest.raises(StateError):
            RatchetState.from_bytes(data)


def test_header_nonce_value() -> None:
    body = bytes(range(80))
    expected = hashlib.blake2b(body, digest_size=24, person=b"konsel/v1 hnonce").digest()
    assert ratchet.header_nonce(body) == expected
    assert ratchet.header_nonce(body) == expected  # the shared template stays unchanged


def test_header_encoding_helpers() -> None:
    header = Header(b"\x11" * 32, 7, 2**32 - 1, b"\x22" * 8)
    assert encode_header(*header) == header.encode()
    for size in (0, 47, 49):
        with pytest.raises(DecodeError, match="expected 48 bytes"):
            Header.decode(b"\x00" * size)


def test_state_copy_independent() -> None:
    alice, bob = make_pair()
    messages, alice = burst(alice, 3)
    _, bob = receive(bob, messages[2])
    alice, bob = exchange(alice, bob)
    assert bob.skipped and bob.previous_receiving_header_keys

    duplicate = bob.copy()
    assert duplicate == bob
    assert duplicate.to_bytes() == bob.to_bytes()
    before = bob.to_bytes()
    duplicate.skipped.clear()
    duplicate.previous_receiving_header_keys.append(b"\x00" * 32)
    duplicate.receiving_number += 1
    assert bob.to_bytes() == before


def test_failed_decrypt_keeps_state() -> None:
    """Failures after the header opened, on the in-order path, leave the state unchanged."""
    alice, bob = make_pair()
    for _ in range(2):
        message, alice = send(alice, b"in order")
        _, bob = receive(bob, message)
    (header, body), alice = send(alice, b"next")
    before = bob.to_bytes()

    with pytest.raises(AuthenticationError):
        receive(bob, (header, body[:-1] + bytes([body[-1] ^ 1])))
    assert bob.to_bytes() == before

    key = bob.receiving_header_key
    assert key is not None
    opened = ratchet.open_header(key, header, body, AD)
    assert opened is not None and opened.message_number == bob.receiving_number

    assert receive(bob, (header, body))[0] == b"next"
    assert bob.to_bytes() == before
