"""Tests for konsel.protocol.identity: keys, X25519 form, fingerprints and serialization."""

import msgpack
import nacl.bindings as sodium
import pytest

from konsel.protocol.errors import StateError
from konsel.protocol.identity import IdentityKeyPair, IdentityPublicKey


def test_identity_round_trip() -> None:
    identity = IdentityKeyPair.generate()
    loaded = IdentityKeyPair.from_bytes(identity.to_bytes())
    assert loaded.public == identity.public
    assert loaded.x25519_private == identity.x25519_private


def test_public_round_trip() -> None:
    public = IdentityKeyPair.generate().public
    assert IdentityPublicKey.from_bytes(public.to_bytes()) == public


def test_seed_is_deterministic() -> None:
    first = IdentityKeyPair(b"\x01" * 32)
    second = IdentityKeyPair(b"\x01" * 32)
    assert first.public == second.public
    assert first.public != IdentityKeyPair(b"\x02" * 32).public


def test_x25519_forms_agree() -> None:
    alice, bob = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    shared_ab = sodium.crypto_scalarmult(alice.x25519_private, bob.public.x25519)
    shared_ba = sodium.crypto_scalarmult(bob.x25519_private, alice.public.x25519)
    assert shared_ab == shared_ba
    assert sodium.crypto_scalarmult_base(alice.x25519_private) == alice.public.x25519


def test_sign_verify() -> None:
    identity = IdentityKeyPair.generate()
    signature = identity.sign(b"message")
    assert len(signature) == 64
    assert identity.public.verify(b"message", signature)
    assert not identity.public.verify(b"messagE", signature)
    assert not identity.public.verify(b"message", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not identity.public.verify(b"message", signature[:63])
    assert not IdentityKeyPair.generate().public.verify(b"message", signature)


def test_fingerprint_stable_and_distinct() -> None:
    public = IdentityKeyPair(b"\x05" * 32).public
    assert len(public.fingerprint()) == 32
    assert public.fingerprint() == IdentityKeyPair(b"\x05" * 32).public.fingerprint()
    assert public.fingerprint() != IdentityKeyPair(b"\x06" * 32).public.fingerprint()
    assert public.fingerprint() != public.ed25519


def test_private_repr_hides_seed() -> None:
    identity = IdentityKeyPair(b"\x07" * 32)
    assert "0707" not in repr(identity)
    assert identity.public.fingerprint()[:4].hex() in repr(identity)


def test_public_rejects_bad_point() -> None:
    with pytest.raises(ValueError):
        IdentityPublicKey(b"\x00" * 31)
    with pytest.raises(ValueError):
        # The identity point has small order, which libsodium refuses to convert.
        IdentityPublicKey(b"\x01" + b"\x00" * 31)


@pytest.mark.parametrize(
    "document",
    [
        {"t": "identity", "v": 1, "seed": b"\x01" * 31},
        {"t": "identity", "v": 2, "seed": b"\x01" * 32},
        {"t": "identity-public", "v": 1, "seed": b"\x01" * 32},
        {"t": "identity", "v": 1},
        {"t": "identity", "v": True, "seed": b"\x01" * 32},
        {"t": "identity", "v": 1, "seed": "x" * 32},
    ],
)
def test_identity_load_rejects(document: dict[str, object]) -> None:
    with pytest.raises(StateError):
        IdentityKeyPair.from_bytes(msgpack.packb(document))


@pytest.mark.parametrize(
    "data", [b"", b"\xc1", b"\x90", IdentityKeyPair(b"\x01" * 32).to_bytes()[:-1]]
)
def test_identity_load_garbage(data: bytes) -> None:
    with pytest.raises(StateError):
        IdentityKeyPair.from_bytes(data)


def test_public_load_rejects_bad_point() -> None:
    document = {"t": "identity-public", "v": 1, "ed25519": b"\x01" + b"\x00" * 31}
    with pytest.raises(StateError):
        IdentityPublicKey.from_bytes(msgpack.packb(document))
