"""Tests for konsel.protocol.x3dh and konsel.protocol.prekeys."""

import msgpack
import pytest

from konsel.protocol import x3dh
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    HandshakeError,
    PrekeyNotFoundError,
    StateError,
)
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import (
    MAX_SIGNED_PREKEYS,
    PrekeyBundle,
    PrekeyStore,
    decode_one_time_prekey,
)

NOW = 1_780_000_000


@pytest.fixture
def alice() -> IdentityKeyPair:
    return IdentityKeyPair.generate()


@pytest.fixture
def bob() -> IdentityKeyPair:
    return IdentityKeyPair.generate()


@pytest.fixture
def store(bob: IdentityKeyPair) -> PrekeyStore:
    return PrekeyStore.create(bob, NOW, one_time_count=3)


def run_handshake(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore, one_time_id: int | None
) -> tuple[x3dh.InitiatorHandshake, x3dh.ResponderHandshake]:
    bundle = PrekeyBundle.decode(store.bundle(bob, one_time_id).encode())
    sent = x3dh.initiate(alice, bundle)
    received = x3dh.respond(
        bob,
        store,
        sent.ephemeral_public,
        sent.signed_prekey_id,
        sent.one_time_prekey_id,
        sent.sealed_identity,
    )
    return sent, received


def test_shared_keys_agree(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    sent, received = run_handshake(alice, bob, store, 1)
    assert sent.shared == received.shared
    assert received.initiator_identity == alice.public
    assert sent.associated_data == received.associated_data
    assert sent.associated_data == b"\x01" + alice.public.ed25519 + bob.public.ed25519
    assert sent.remote_ratchet_key == store.current_signed_prekey.public_key
    assert received.ratchet_private_key == store.current_signed_prekey.private_key


def test_shared_keys_distinct(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    sent, _ = run_handshake(alice, bob, store, 1)
    keys = {
        sent.shared.root_key,
        sent.shared.initiator_header_key,
        sent.shared.responder_next_header_key,
    }
    assert len(keys) == 3


def test_signed_prekey_only(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    sent, received = run_handshake(alice, bob, store, None)
    assert sent.shared == received.shared
    assert sent.one_time_prekey_id is None
    assert received.store == store


def test_one_time_prekey_consumed(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    _, received = run_handshake(alice, bob, store, 2)
    assert sorted(received.store.one_time_prekeys) == [1, 3]
    assert sorted(store.one_time_prekeys) == [1, 2, 3]
    with pytest.raises(PrekeyNotFoundError) as caught:
        received.store.consume_one_time_prekey(2)
    assert (caught.value.kind, caught.value.prekey_id) == ("one-time", 2)


def test_sealed_identity_hidden(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    sent, _ = run_handshake(alice, bob, store, 1)
    assert len(sent.sealed_identity) == x3dh.SEALED_IDENTITY_SIZE
    assert alice.public.ed25519 not in sent.sealed_identity
    assert alice.public.x25519 not in sent.sealed_identity


def test_sealed_identity_tampered(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    bundle = store.bundle(bob, 1)
    sent = x3dh.initiate(alice, bundle)
    for index in (0, 20, 47):
        sealed = bytearray(sent.sealed_identity)
        sealed[index] ^= 0x01
        with pytest.raises(AuthenticationError):
            x3dh.respond(bob, store, sent.ephemeral_public, sent.signed_prekey_id, 1, bytes(sealed))


def test_unknown_prekeys(alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore) -> None:
    sent = x3dh.initiate(alice, store.bundle(bob, 1))
    with pytest.raises(PrekeyNotFoundError):
        x3dh.respond(bob, store, sent.ephemeral_public, 99, 1, sent.sealed_identity)
    with pytest.raises(PrekeyNotFoundError):
        x3dh.respond(
            bob, store, sent.ephemeral_public, sent.signed_prekey_id, 99, sent.sealed_identity
        )


def test_wrong_one_time_prekey(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    """Naming another one-time prekey gives different keys, so the first message cannot decrypt."""
    sent = x3dh.initiate(alice, store.bundle(bob, 1))
    received = x3dh.respond(
        bob, store, sent.ephemeral_public, sent.signed_prekey_id, 2, sent.sealed_identity
    )
    assert received.shared != sent.shared


def test_low_order_ephemeral(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    with pytest.raises(HandshakeError):
        x3dh.respond(
            bob, store, b"\x00" * 32, store.current_signed_prekey.prekey_id, None, b"\x00" * 48
        )


def test_bundle_round_trip(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    for one_time_id in (1, None):
        bundle = store.bundle(bob, one_time_id)
        assert PrekeyBundle.decode(bundle.encode()) == bundle


def test_bundle_bad_signature(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    document = msgpack.unpackb(store.bundle(bob, 1).encode())
    document["spk_signature"] = bytes(64)
    with pytest.raises(HandshakeError):
        PrekeyBundle.decode(msgpack.packb(document))
    document = msgpack.unpackb(store.bundle(bob, 1).encode())
    document["identity"] = IdentityKeyPair.generate().public.ed25519
    with pytest.raises(HandshakeError):
        PrekeyBundle.decode(msgpack.packb(document))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spk", b"\x01" * 31),
        ("spk_id", -1),
        ("spk_id", 2**32),
        ("spk_signature", b"\x00" * 63),
        ("identity", b"\x01" + b"\x00" * 31),
        ("opk", None),
        ("opk_id", "1"),
        ("v", 2),
        ("t", "store"),
    ],
)
def test_bundle_malformed(
    bob: IdentityKeyPair, store: PrekeyStore, key: str, value: object
) -> None:
    document = msgpack.unpackb(store.bundle(bob, 1).encode())
    document[key] = value
    with pytest.raises(DecodeError):
        PrekeyBundle.decode(msgpack.packb(document))


def test_bundle_with_relay_record(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    """A signed-only bundle plus one uploaded one-time prekey record makes a full bundle."""
    records = store.one_time_prekey_records()
    assert [decode_one_time_prekey(record)[0] for record in records] == [1, 2, 3]
    signed_only = store.bundle(bob, None).encode()
    bundle = PrekeyBundle.decode(signed_only, one_time_prekey=records[1])
    assert bundle == store.bundle(bob, 2)

    sent = x3dh.initiate(alice, bundle)
    received = x3dh.respond(
        bob, store, sent.ephemeral_public, sent.signed_prekey_id, 2, sent.sealed_identity
    )
    assert received.shared == sent.shared

    with pytest.raises(DecodeError):
        PrekeyBundle.decode(store.bundle(bob, 1).encode(), one_time_prekey=records[1])
    with pytest.raises(DecodeError):
        PrekeyBundle.decode(signed_only, one_time_prekey=records[1][:-1])


def test_bundles_one_per_prekey(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    bundles = store.bundles(bob)
    assert [bundle.one_time_prekey_id for bundle in bundles] == [1, 2, 3]
    for bundle in bundles:
        bundle.verify()


def test_ids_never_reused(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    _, after = store.consume_one_time_prekey(3)
    refilled = after.add_one_time_prekeys(2)
    assert sorted(refilled.one_time_prekeys) == [1, 2, 4, 5]


def test_rotation_keeps_previous(
    alice: IdentityKeyPair, bob: IdentityKeyPair, store: PrekeyStore
) -> None:
    old_bundle = store.bundle(bob, 1)
    rotated = store.rotate_signed_prekey(bob, NOW + 1)
    assert rotated.current_signed_prekey.prekey_id == 2
    sent = x3dh.initiate(alice, old_bundle)
    received = x3dh.respond(bob, rotated, sent.ephemeral_public, 1, 1, sent.sealed_identity)
    assert received.shared == sent.shared

    for _ in range(MAX_SIGNED_PREKEYS):
        rotated = rotated.rotate_signed_prekey(bob, NOW + 2)
    with pytest.raises(PrekeyNotFoundError):
        rotated.signed_prekey(1)


def test_store_round_trip(bob: IdentityKeyPair, store: PrekeyStore) -> None:
    loaded = PrekeyStore.from_bytes(store.to_bytes())
    assert loaded == store
    assert loaded.bundle(bob, 2) == store.bundle(bob, 2)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("signed", []),
        ("signed", [[1, b"\x00" * 32, b"\x00" * 64]]),
        ("one_time", [[1, b"\x00" * 31]]),
        ("one_time", [["1", b"\x00" * 32]]),
        ("next_one_time_id", -1),
        ("next_one_time_id", 3),
        ("next_signed_id", 1),
        ("v", 9),
    ],
)
def test_store_load_rejects(store: PrekeyStore, key: str, value: object) -> None:
    document = msgpack.unpackb(store.to_bytes())
    document[key] = value
    with pytest.raises(StateError):
        PrekeyStore.from_bytes(msgpack.packb(document))
    with pytest.raises(StateError):
        PrekeyStore.from_bytes(store.to_bytes()[:-3])
