"""Wire form of encrypted messages: msgpack arrays that start with a version and a type.

Two envelope types exist::

    [1, "m", header_ct, body_ct]
    [1, "i", ephemeral_pub, spk_id, opk_id_or_nil, sealed_identity, header_ct, body_ct]

"m" carries a ratchet message. "i" carries a ratchet message together with the X3DH
fields the responder needs to start the session. The relay forwards envelopes as opaque
bytes; :func:`message_id` lets clients drop duplicates without decrypting.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import PROTOCOL_VERSION
from .codec import Limits, pack, unpack
from .errors import DecodeError, UnknownTypeError, UnsupportedVersionError
from .kdf import PERSON_MESSAGE_ID, blake2b_labelled
from .padding import padme
from .ratchet import AEAD_TAG_SIZE, HEADER_CIPHERTEXT_SIZE
from .x3dh import SEALED_IDENTITY_SIZE

MAX_ENVELOPE_SIZE = 256 * 1024
"""Largest envelope accepted, in bytes. A counseling text message needs a few hundred
bytes. The margin leaves room for longer content types, but one message cannot take
over the relay's or a client's memory."""

TYPE_MESSAGE = "m"
TYPE_INITIAL = "i"
MESSAGE_ID_SIZE = 16
KEY_SIZE = 32
MIN_BODY_SIZE = 1 + AEAD_TAG_SIZE
"""A body contains at least the one-byte padding marker and the tag."""

# Bytes an "i" envelope adds around the padded body: array, version, type, ephemeral key,
# two u32 ids, sealed identity, header and the bin32 length prefix of the body.
_MAX_FRAMING = 1 + 1 + 2 + (2 + KEY_SIZE) + 5 + 5 + (2 + SEALED_IDENTITY_SIZE)
_MAX_FRAMING += (2 + HEADER_CIPHERTEXT_SIZE) + 5 + AEAD_TAG_SIZE

MAX_PLAINTEXT_SIZE = 240 * 1024
"""Largest plaintext a session encrypts; its padded envelope stays within the size cap."""
assert padme(MAX_PLAINTEXT_SIZE + 1) + _MAX_FRAMING <= MAX_ENVELOPE_SIZE

_LIMITS = Limits(
    max_input=MAX_ENVELOPE_SIZE,
    max_str=8,
    max_bin=MAX_ENVELOPE_SIZE,
    max_array=8,
    max_map=0,
    max_depth=1,
)
_KNOWN_TYPES = frozenset({TYPE_MESSAGE, TYPE_INITIAL})


@dataclass(frozen=True)
class MessageEnvelope:
    """A ratchet message: encrypted header (64 bytes) and body ciphertext."""

    header: bytes
    body: bytes


@dataclass(frozen=True)
class InitialEnvelope:
    """A ratchet message sent before the initiator received a reply, with the X3DH fields."""

    ephemeral_public: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None
    sealed_identity: bytes
    header: bytes
    body: bytes


Envelope = MessageEnvelope | InitialEnvelope


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialize an envelope as a msgpack array."""
    if isinstance(envelope, MessageEnvelope):
        return pack([PROTOCOL_VERSION, TYPE_MESSAGE, envelope.header, envelope.body])
    return pack(
        [
            PROTOCOL_VERSION,
            TYPE_INITIAL,
            envelope.ephemeral_public,
            envelope.signed_prekey_id,
            envelope.one_time_prekey_id,
            envelope.sealed_identity,
            envelope.header,
            envelope.body,
        ]
    )


def decode_envelope(data: bytes) -> Envelope:
    """Parse an envelope, checking every field's type and size.

    Raises:
        UnsupportedVersionError: the first element is not a version this code speaks.
        UnknownTypeError: the second element is not "m" or "i".
        DecodeError: anything else is malformed or the input exceeds MAX_ENVELOPE_SIZE.
    """
    items = unpack(data, _LIMITS, where="envelope")
    if not isinstance(items, list) or len(items) < 2:
        raise DecodeError("envelope", "expected an array starting with version and type")

    version, tag = items[0], items[1]
    if isinstance(version, bool) or not isinstance(version, int) or version != PROTOCOL_VERSION:
        raise UnsupportedVersionError("envelope[0]", version, (PROTOCOL_VERSION,))
    if not isinstance(tag, str) or tag not in _KNOWN_TYPES:
        raise UnknownTypeError("envelope[1]", tag)

    if tag == TYPE_MESSAGE:
        _check_length(items, 4, tag)
        return MessageEnvelope(header=_header(items, 2), body=_body(items, 3))

    _check_length(items, 8, tag)
    return InitialEnvelope(
        ephemeral_public=_binary(items, 2, "ephemeral_pub", KEY_SIZE),
        signed_prekey_id=_u32(items, 3, "spk_id"),
        one_time_prekey_id=None if items[4] is None else _u32(items, 4, "opk_id"),
        sealed_identity=_binary(items, 5, "sealed_identity", SEALED_IDENTITY_SIZE),
        header=_header(items, 6),
        body=_body(items, 7),
    )


def message_id(envelope: bytes) -> bytes:
    """Hash envelope bytes to a 16-byte id (BLAKE2b-128, person "konsel/v1 msg id")."""
    return blake2b_labelled(envelope, person=PERSON_MESSAGE_ID, size=MESSAGE_ID_SIZE)


def _check_length(items: list[object], expected: int, tag: str) -> None:
    if len(items) != expected:
        raise DecodeError("envelope", f'"{tag}" envelope needs {expected} items, got {len(items)}')


def _binary(items: list[object], index: int, name: str, size: int) -> bytes:
    value = items[index]
    if not isinstance(value, bytes) or len(value) != size:
        raise DecodeError(f"envelope[{index}] ({name})", f"expected bin of {size} bytes")
    return value


def _header(items: list[object], index: int) -> bytes:
    return _binary(items, index, "header_ct", HEADER_CIPHERTEXT_SIZE)


def _body(items: list[object], index: int) -> bytes:
    value = items[index]
    if not isinstance(value, bytes) or len(value) < MIN_BODY_SIZE:
        raise DecodeError(
            f"envelope[{index}] (body_ct)", f"expected bin of at least {MIN_BODY_SIZE} bytes"
        )
    return value


def _u32(items: list[object], index: int, name: str) -> int:
    value = items[index]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32 - 1:
        raise DecodeError(f"envelope[{index}] ({name})", "expected an integer in 0..4294967295")
    return value
