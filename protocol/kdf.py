"""Key derivation for konsel: HKDF-SHA-256, the HMAC chain step and BLAKE2b hashes.

Every derivation uses its own label, and all labels live in this module, so a reader can
check in one place that no two derivations share an input domain. HKDF labels go into the
HKDF ``info`` parameter. BLAKE2b labels go into the ``person`` parameter, which BLAKE2b
limits to 16 bytes.
"""

from __future__ import annotations

import hashlib
import hmac

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
    next_chain_key = hmac.digest(chain_key, CHAIN_NEXT_KEY_INPUT, "sha256")
    message_key = hmac.digest(chain_key, CHAIN_MESSAGE_KEY_INPUT, "sha256")
    return next_chain_key, message_key


def body_key_and_nonce(message_key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Derive the XChaCha20-Poly1305 key (32 bytes) and nonce (24 bytes) of one message body.

    The header salt enters as the HKDF salt, so one message key used twice with fresh
    salts gives two unrelated (key, nonce) pairs.
    """
    output = hkdf_sha256(message_key, salt=salt, info=LABEL_MESSAGE_BODY, length=KEY_SIZE + 24)
    return output[:KEY_SIZE], output[KEY_SIZE:]


def blake2b_labelled(data: bytes, *, person: bytes, size: int) -> bytes:
    """Hash ``data`` with BLAKE2b of ``size`` bytes, domain-separated by ``person``."""
    return hashlib.blake2b(data, digest_size=size, person=person).digest()
