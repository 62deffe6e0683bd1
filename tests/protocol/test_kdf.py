"""Tests for konsel.protocol.kdf: HKDF against RFC 5869, the chain step and the labels."""

import hashlib
import hmac

import pytest

from konsel.protocol import kdf

# RFC 5869, appendix A, test cases 1-3 (HKDF with SHA-256).
RFC5869_CASES = [
    (
        "0b" * 22,
        "000102030405060708090a0b0c",
        "f0f1f2f3f4f5f6f7f8f9",
        42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    ),
    (
        bytes(range(0x00, 0x50)).hex(),
        bytes(range(0x60, 0xB0)).hex(),
        bytes(range(0xB0, 0x100)).hex(),
        82,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
        "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
        "cc30c58179ec3e87c14c01d5c1f3434f1d87",
    ),
    (
        "0b" * 22,
        "",
        "",
        42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    ),
]


@pytest.mark.parametrize(("ikm", "salt", "info", "length", "okm"), RFC5869_CASES)
def test_hkdf_rfc5869(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    output = kdf.hkdf_sha256(
        bytes.fromhex(ikm), salt=bytes.fromhex(salt), info=bytes.fromhex(info), length=length
    )
    assert output.hex() == okm


def test_hkdf_none_salt_is_zero_salt() -> None:
    with_none = kdf.hkdf_sha256(b"ikm", salt=None, info=b"x", length=32)
    with_zeros = kdf.hkdf_sha256(b"ikm", salt=bytes(32), info=b"x", length=32)
    assert with_none == with_zeros


def test_root_step_splits_hkdf_output() -> None:
    root_key, dh_output = bytes(range(32)), bytes(range(32, 64))
    expected = kdf.hkdf_sha256(dh_output, salt=root_key, info=kdf.LABEL_ROOT, length=96)
    new_root, chain_key, next_header_key = kdf.root_step(root_key, dh_output)
    assert new_root == expected[:32]
    assert chain_key == expected[32:64]
    assert next_header_key == expected[64:]


def test_root_step_prefix_matches_64_bytes() -> None:
    """The first 64 bytes equal a 64-byte derivation, as a ratchet without header keys uses."""
    root_key, dh_output = b"\x07" * 32, b"\x09" * 32
    short = kdf.hkdf_sha256(dh_output, salt=root_key, info=kdf.LABEL_ROOT, length=64)
    new_root, chain_key, _ = kdf.root_step(root_key, dh_output)
    assert new_root + chain_key == short


def test_chain_step_uses_hmac_constants() -> None:
    chain_key = b"\x42" * 32
    next_chain_key, message_key = kdf.chain_step(chain_key)
    assert next_chain_key == hmac.new(chain_key, b"\x02", hashlib.sha256).digest()
    assert message_key == hmac.new(chain_key, b"\x01", hashlib.sha256).digest()
    assert next_chain_key != message_key


def test_body_key_depends_on_salt() -> None:
    key_a, nonce_a = kdf.body_key_and_nonce(b"\x01" * 32, b"\x00" * 8)
    key_b, nonce_b = kdf.body_key_and_nonce(b"\x01" * 32, b"\x00" * 7 + b"\x01")
    assert (len(key_a), len(nonce_a)) == (32, 24)
    assert key_a != key_b
    assert nonce_a != nonce_b


def test_labels_distinct() -> None:
    labels = [
        kdf.LABEL_X3DH_ROOT,
        kdf.LABEL_X3DH_HEADER_KEY,
        kdf.LABEL_X3DH_NEXT_HEADER_KEY,
        kdf.LABEL_SEALED_IDENTITY,
        kdf.LABEL_ROOT,
        kdf.LABEL_MESSAGE_BODY,
        kdf.LABEL_SIGNED_PREKEY,
    ]
    persons = [kdf.PERSON_FINGERPRINT, kdf.PERSON_HEADER_NONCE, kdf.PERSON_MESSAGE_ID]
    assert len(set(labels)) == len(labels)
    assert len(set(persons)) == len(persons)
    assert all(label.startswith(b"konsel/v1 ") for label in labels + persons)


def test_blake2b_person_separates() -> None:
    first = kdf.blake2b_labelled(b"data", person=kdf.PERSON_MESSAGE_ID, size=16)
    second = kdf.blake2b_labelled(b"data", person=kdf.PERSON_FINGERPRINT, size=16)
    assert first != second
    assert first == hashlib.blake2b(b"data", digest_size=16, person=kdf.PERSON_MESSAGE_ID).digest()


# Key sizes around the 64-byte SHA-256 block, where HMAC switches from padding the key to
# hashing it first (RFC 2104).
HMAC_KEY_SIZES = [0, 1, 8, 31, 32, 33, 63, 64, 65, 100, 200]


@pytest.mark.parametrize("size", HMAC_KEY_SIZES)
def test_chain_step_matches_hmac(size: int) -> None:
    chain_key = bytes((size + index) % 256 for index in range(size))
    next_chain_key, message_key = kdf.chain_step(chain_key)
    assert next_chain_key == hmac.digest(chain_key, kdf.CHAIN_NEXT_KEY_INPUT, "sha256")
    assert message_key == hmac.digest(chain_key, kdf.CHAIN_MESSAGE_KEY_INPUT, "sha256")


@pytest.mark.parametrize("salt_size", HMAC_KEY_SIZES)
def test_body_key_matches_hkdf(salt_size: int) -> None:
    """The HMAC-based body derivation equals cryptography's HKDF for every salt size."""
    for seed in range(20):
        message_key = hashlib.sha256(b"message key %d" % seed).digest()
        salt = hashlib.shake_256(b"salt %d" % seed).digest(salt_size) if salt_size else b""
        expected = kdf.hkdf_sha256(
            message_key, salt=salt, info=kdf.LABEL_MESSAGE_BODY, length=kdf.KEY_SIZE + 24
        )
        key, nonce = kdf.body_key_and_nonce(message_key, salt)
        assert key == expected[: kdf.KEY_SIZE]
        assert nonce == expected[kdf.KEY_SIZE :]
        assert len(nonce) == kdf.BODY_NONCE_SIZE


def test_body_key_fixed_vector() -> None:
    """A fixed input, computed with RFC 5869's three HMAC steps written out by hand."""
    message_key, salt = bytes(range(32)), bytes(range(8))
    prk = hmac.digest(salt, message_key, "sha256")
    first = hmac.digest(prk, kdf.LABEL_MESSAGE_BODY + b"\x01", "sha256")
    second = hmac.digest(prk, first + kdf.LABEL_MESSAGE_BODY + b"\x02", "sha256")
    assert kdf.body_key_and_nonce(message_key, salt) == (first, second[:24])
