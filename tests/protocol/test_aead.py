"""Tests for konsel.protocol.aead: XChaCha20-Poly1305 through direct libsodium calls."""

import nacl.bindings as sodium
import pytest

from konsel.protocol import aead
from konsel.protocol.errors import AuthenticationError

AD = b"\x01" + b"A" * 32 + b"B" * 32


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_aead_matches_pynacl() -> None:
    """The direct libsodium calls give PyNaCl's bytes and accept PyNaCl's ciphertexts."""
    key, nonce = bytes(range(32)), bytes(range(100, 124))
    for size in (0, 1, 48, 64, 1000):
        plaintext = bytes(index % 256 for index in range(size))
        for associated_data in (b"", AD):
            expected = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
                plaintext, associated_data, nonce, key
            )
            assert aead.aead_encrypt(plaintext, associated_data, nonce, key) == expected
            assert aead.aead_decrypt(expected, associated_data, nonce, key) == plaintext


def test_aead_decrypt_rejects() -> None:
    key, nonce = b"\x01" * 32, b"\x02" * 24
    sealed = aead.aead_encrypt(b"rahasia", AD, nonce, key)
    forgeries = [
        (flip(sealed, 0), AD, nonce, key),
        (flip(sealed, len(sealed) - 1), AD, nonce, key),
        (sealed[:-1], AD, nonce, key),
        (sealed[:15], AD, nonce, key),
        (b"", AD, nonce, key),
        (sealed, AD + b"x", nonce, key),
        (sealed, b"", nonce, key),
        (sealed, AD, flip(nonce, 0), key),
        (sealed, AD, nonce, flip(key, 0)),
    ]
    for ciphertext, associated_data, used_nonce, used_key in forgeries:
        with pytest.raises(AuthenticationError):
            aead.aead_decrypt(ciphertext, associated_data, used_nonce, used_key)


@pytest.mark.parametrize(("key_size", "nonce_size"), [(31, 24), (33, 24), (32, 23), (32, 25)])
def test_aead_rejects_sizes(key_size: int, nonce_size: int) -> None:
    key, nonce = b"\x01" * key_size, b"\x02" * nonce_size
    with pytest.raises(ValueError, match="must be"):
        aead.aead_encrypt(b"x", AD, nonce, key)
    with pytest.raises(ValueError, match="must be"):
        aead.aead_decrypt(b"\x00" * 32, AD, nonce, key)
