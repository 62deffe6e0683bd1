"""Key derivation for konsel: HKDF-SHA-256, the HMAC chain step and BLAKE2b hashes.

Every derivation uses its own label, and all labels live in this module, so a reader can
check in one place that no two derivations share an input domain. HKDF labels go into the
HKDF ``info`` parameter. BLAKE2b labels go into the ``person`` parameter, which BLAKE2b
limits to 16 bytes.

The two derivations that run for every message, :func:`chain_step` and
:func:`body_key_and_nonce`, build HMAC-SHA-256 (RFC 2104) from ``hashlib.sha256`` states
instead of calling ``hmac.digest`` or ``cryptography``'s HKDF, because one keyed state
then serves both HMACs that share a key. On CPython 3.11.7 with OpenSSL 3.0 (2-core
x86_64, timeit) a chain step takes 1.5 us instead of 2.9 us, and the body derivation
2.4 us instead of 3.0 us. The output is the same, and tests/protocol/test_kdf.py compares
it with ``hmac`` and with ``cryptography``'s HKDF.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# HKDF info labels.
LABEL_X3DH_ROOT = b"konsel/v1 x3dh root key"
LABEL_X3DH_HEADER_KEY = b"konsel/v1 x3dh initiator header key"
LABEL_X3DH_NEXT_HEADER_KEY = b"konsel/v1 x3dh responder next header key"
LABEL_SEALED_IDENTITY = b"konsel/v1 sealed identity"
LABEL_ROOT = b"konsel/v1 root"
LABEL_MESSAGE_BODY = b"konsel/v1 message body"

# Signed prekey signatures cover this label followed by the prekey id and public key.
LABEL_SIGNED_PREKEY = b"konsel/v1 signed prekey"

# BLAKE2b person labels (at most 16 bytes each).
PERSON_FINGERPRINT = b"konsel/v1 fprint"
PERSON_HEADER_NONCE = b"konsel/v1 hnonce"
PERSON_MESSAGE_ID = b"konsel/v1 msg id"

# Inputs of the HMAC chain step. They are the single bytes that the Double Ratchet
# specification recommends, so the chain matches other implementations byte for byte.
CHAIN_MESSAGE_KEY_INPUT = b"\x01"
CHAIN_NEXT_KEY_INPUT = b"\x02"

KEY_SIZE = 32
"""Size in bytes of every symmetric key: root, chain, message and header keys."""

X3DH_PREFIX = b"\xff" * 32
"""Bytes placed before the DH outputs in the X3DH KDF input, as in the X3DH specification."""

_ALL_PERSONS = (PERSON_FINGERPRINT, PERSON_HEADER_NONCE, PERSON_MESSAGE_ID)
assert all(len(person) <= hashlib.blake2b.PERSON_SIZE for person in _ALL_PERSONS)

BODY_NONCE_SIZE = 24
"""Size in bytes of the XChaCha20-Poly1305 nonce of a message body."""

_sha256 = hashlib.sha256
_SHA256_BLOCK_SIZE = 64
_ZEROS_TO_BLOCK = bytes(_SHA256_BLOCK_SIZE - KEY_SIZE)

# HMAC (RFC 2104) XORs the key block with the bytes 0x36 (ipad) and 0x5c (opad). These
# tables let bytes.translate XOR every byte of the block in one call.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))

# HKDF-Expand input of output blocks T(1) and T(2): T(i) = HMAC(PRK, T(i-1) || info || i).
_BODY_EXPAND_FIRST = LABEL_MESSAGE_BODY + b"\x01"
_BODY_EXPAND_SECOND = LABEL_MESSAGE_BODY + b"\x02"


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """Derive ``length`` bytes with HKDF-SHA-256 (RFC 5869).

    Args:
        ikm: input key material.
        salt: HKDF salt; ``None`` means 32 zero bytes, as RFC 5869 defines.
        info: the label of this derivation.
        length: number of output bytes, at most 255 * 32.
    """
    derivation = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info)
    return derivation.derive(ikm)


def root_step(root_key: bytes, dh_output: bytes) -> tuple[bytes, bytes, bytes]:
    """Advance the root chain with one DH output.

    Returns:
        The new root key, the new chain key and the next header key, 32 bytes each, taken
        in that order from 96 bytes of HKDF output with salt = root key and ikm = DH output.
        The first 64 bytes equal what a Double Ratchet without header encryption derives
        with the same label, because HKDF output for a shorter length is a prefix.
    """
    output = hkdf_sha256(dh_output, salt=root_key, info=LABEL_ROOT, length=3 * KEY_SIZE)
    return output[:KEY_SIZE], output[KEY_SIZE : 2 * KEY_SIZE], output[2 * KEY_SIZE :]


def chain_step(chain_key: bytes) -> tuple[bytes, bytes]:
    """Advance a sending or receiving chain by one message.

    Returns:
        The next chain key, HMAC-SHA-256(chain key, 0x02), and the message key,
        HMAC-SHA-256(chain key, 0x01).
    """
    # Zero-padding is the common case of the key block, done inline to save a call.
    block = chain_key.ljust(_SHA256_BLOCK_SIZE, b"\x00")
    if len(block) > _SHA256_BLOCK_SIZE:
        block = _hmac_key_block(chain_key)
    next_inner = _sha256(block.translate(_INNER_PAD))
    next_outer = _sha256(block.translate(_OUTER_PAD))
    message_inner, message_outer = next_inner.copy(), next_outer.copy()

    next_inner.update(CHAIN_NEXT_KEY_INPUT)
    next_outer.update(next_inner.digest())
    message_inner.update(CHAIN_MESSAGE_KEY_INPUT)
    message_outer.update(message_inner.digest())
    return next_outer.digest(), message_outer.digest()


def body_key_and_nonce(message_key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Derive the XChaCha20-Poly1305 key (32 bytes) and nonce (24 bytes) of one message body.

    The derivation is HKDF-SHA-256 with ikm = message key, salt = the header salt and
    info = :data:`LABEL_MESSAGE_BODY`, 56 bytes long, written out as its three HMACs. The
    header salt enters as the HKDF salt, so one message key used twice with fresh salts
    gives two unrelated (key, nonce) pairs.
    """
    # HKDF-Extract: PRK = HMAC(salt, ikm).
    block = salt.ljust(_SHA256_BLOCK_SIZE, b"\x00")
    if len(block) > _SHA256_BLOCK_SIZE:
        block = _hmac_key_block(salt)
    inner_digest = _sha256(block.translate(_INNER_PAD) + message_key).digest()
    pseudorandom_key = _sha256(block.translate(_OUTER_PAD) + inner_digest).digest()

    # HKDF-Expand: T(1) = HMAC(PRK, info || 0x01) is the key, and the first 24 bytes of
    # T(2) = HMAC(PRK, T(1) || info || 0x02) are the nonce. PRK is a 32-byte digest, so
    # 32 zero bytes pad it to the block.
    block = pseudorandom_key + _ZEROS_TO_BLOCK
    second_inner = _sha256(block.translate(_INNER_PAD))
    second_outer = _sha256(block.translate(_OUTER_PAD))
    first_inner, first_outer = second_inner.copy(), second_outer.copy()

    first_inner.update(_BODY_EXPAND_FIRST)
    first_outer.update(first_inner.digest())
    body_key = first_outer.digest()
    second_inner.update(body_key + _BODY_EXPAND_SECOND)
    second_outer.update(second_inner.digest())
    return body_key, second_outer.digest()[:BODY_NONCE_SIZE]


def blake2b_labelled(data: bytes, *, person: bytes, size: int) -> bytes:
    """Hash ``data`` with BLAKE2b of ``size`` bytes, domain-separated by ``person``."""
    return hashlib.blake2b(data, digest_size=size, person=person).digest()


def _hmac_key_block(key: bytes) -> bytes:
    """Return the HMAC-SHA-256 key block (RFC 2104), which gets XORed with ipad and opad.

    HMAC(key, message) = SHA-256(block XOR opad || SHA-256(block XOR ipad || message)).
    """
    # A key longer than the 64-byte block is hashed first, and a shorter one is zero-padded.
    if len(key) > _SHA256_BLOCK_SIZE:
        key = _sha256(key).digest()
    return key.ljust(_SHA256_BLOCK_SIZE, b"\x00")
