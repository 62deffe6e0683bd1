"""Wire form of encrypted messages: msgpack arrays that start with a version and a type.

Three envelope types exist::

    [1, "m", header_ct, body_ct]
    [1, "i", ephemeral_pub, spk_id, opk_id_or_nil, sealed_identity, header_ct, body_ct]
    [1, "r", nonce, timestamp, signature]

"m" carries a ratchet message. "i" carries a ratchet message together with the X3DH
fields the responder needs to start the session. "r" is a renew request: a counselor's
signed request that the konseli start a new session (signed and checked in
:mod:`.renew_request`). It is no ratchet message, so :func:`decode_envelope` rejects it
and :func:`decode_renew_request_envelope` reads it. The relay forwards envelopes as
opaque bytes; :func:`message_id` lets clients drop duplicates without decrypting.

Every message passes through here, so "m" envelopes are built and parsed by slicing bytes
instead of through msgpack. The encoder writes the bytes that msgpack writes. The parser
accepts only input that the strict msgpack decoder accepts with the same result, and
hands any other input to the strict decoder, which raises the usual errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import PROTOCOL_VERSION
from .aead import AEAD_TAG_SIZE
from .codec import Limits, pack, unpack
from .errors import DecodeError, UnknownTypeError, UnsupportedVersionError
from .kdf import PERSON_MESSAGE_ID, blake2b_labelled
from .padding import padme
from .ratchet import HEADER_CIPHERTEXT_SIZE
from .x3dh import SEALED_IDENTITY_SIZE

MAX_ENVELOPE_SIZE = 256 * 1024
"""Largest envelope accepted, in bytes. A counseling text message needs a few hundred
bytes. The margin leaves room for longer content types, but one message cannot take
over the relay's or a client's memory."""

TYPE_MESSAGE = "m"
TYPE_INITIAL = "i"
TYPE_RENEW_REQUEST = "r"
RENEW_NONCE_SIZE = 16
SIGNATURE_SIZE = 64
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

# msgpack framing of an "m" envelope: fixarray of 4 (0x94), positive fixint version,
# fixstr of 1 byte (0xa1) with the type, then two bin items. A bin item of length L is
# 0xc4 u8, 0xc5 u16 or 0xc6 u32 (big-endian) followed by L bytes, and msgpack writes the
# shortest of the three that fits L.
_MESSAGE_START = bytes([0x94, PROTOCOL_VERSION, 0xA1]) + TYPE_MESSAGE.encode()
_BIN8, _BIN16, _BIN32 = 0xC4, 0xC5, 0xC6
_BIN8_PREFIXES = [bytes([_BIN8, length]) for length in range(256)]
_MESSAGE_HEADER_START = _MESSAGE_START + _BIN8_PREFIXES[HEADER_CIPHERTEXT_SIZE]
_HEADER_END = len(_MESSAGE_HEADER_START) + HEADER_CIPHERTEXT_SIZE
_MIN_MESSAGE_SIZE = _HEADER_END + 2 + MIN_BODY_SIZE


# A renew request is always written as msgpack writes it: fixarray of 5, the version,
# and the fixstr "r". The prefix tells it apart from "m" (fixarray of 4) and "i"
# (fixarray of 8) without a parse.
_RENEW_REQUEST_START = bytes([0x95, PROTOCOL_VERSION, 0xA1]) + TYPE_RENEW_REQUEST.encode()
_RENEW_REQUEST_LIMITS = Limits(
    max_input=MAX_ENVELOPE_SIZE,
    max_str=8,
    max_bin=SIGNATURE_SIZE,
    max_array=5,
    max_map=0,
    max_depth=1,
)


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


@dataclass(frozen=True)
class RenewRequestEnvelope:
    """A signed request to start a new session: random nonce, Unix seconds and signature."""

    nonce: bytes
    timestamp: int
    signature: bytes


Envelope = MessageEnvelope | InitialEnvelope
"""The envelopes a session decrypts; a renew request is not one of them."""


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialize an envelope as a msgpack array."""
    if isinstance(envelope, MessageEnvelope):
        return encode_message_envelope(envelope.header, envelope.body)
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


def encode_message_envelope(header: bytes, body: bytes) -> bytes:
    """Serialize an "m" envelope into the bytes that ``pack([1, "m", header, body])`` returns."""
    if len(header) == HEADER_CIPHERTEXT_SIZE and len(body) <= 0xFF:
        return _MESSAGE_HEADER_START + header + _BIN8_PREFIXES[len(body)] + body
    return _MESSAGE_START + _bin_prefix(len(header)) + header + _bin_prefix(len(body)) + body


def decode_envelope(data: bytes) -> Envelope:
    """Parse an envelope, checking every field's type and size.

    Raises:
        UnsupportedVersionError: the first element is not a version this code speaks.
        UnknownTypeError: the second element is not "m" or "i".
        DecodeError: anything else is malformed or the input exceeds MAX_ENVELOPE_SIZE.
    """
    message = split_message_envelope(data)
    if message is not None:
        return MessageEnvelope(header=message[0], body=message[1])
    return _decode_envelope_strict(data)


def split_message_envelope(data: bytes) -> tuple[bytes, bytes] | None:
    """Return the header and body of a valid "m" envelope, or None for other input.

    The fast path of :func:`decode_envelope`. It reads the layout that
    :func:`encode_message_envelope` writes, with the body in any of the three msgpack bin
    formats, and returns the fields that :func:`decode_envelope` returns for that input.
    None means that the input needs :func:`decode_envelope`, which accepts it or raises
    the error that names the fault.
    """
    if type(data) is not bytes or not data.startswith(_MESSAGE_HEADER_START):
        return None
    size = len(data)
    if not _MIN_MESSAGE_SIZE <= size <= MAX_ENVELOPE_SIZE:
        return None

    # The body's bin format byte, then its length in 1, 2 or 4 bytes.
    body_format = data[_HEADER_END]
    if body_format == _BIN8:
        body_start = _HEADER_END + 2
        body_size = data[_HEADER_END + 1]
    elif body_format in (_BIN16, _BIN32):
        body_start = _HEADER_END + (3 if body_format == _BIN16 else 5)
        body_size = int.from_bytes(data[_HEADER_END + 1 : body_start], "big")
    else:
        return None

    # Truncated input fails this check too, because body_start alone is then past the end.
    if body_size < MIN_BODY_SIZE or body_start + body_size != size:
        return None
    return data[len(_MESSAGE_HEADER_START) : _HEADER_END], data[body_start:]


def _decode_envelope_strict(data: bytes) -> Envelope:
    # The general decoder: msgpack with limits, then a check of every field.
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


def encode_renew_request_envelope(request: RenewRequestEnvelope) -> bytes:
    """Serialize a renew request as ``[1, "r", nonce, timestamp, signature]``.

    Raises:
        ValueError: a field has the wrong size or the timestamp is outside 0..2**64-1.
    """
    if len(request.nonce) != RENEW_NONCE_SIZE or len(request.signature) != SIGNATURE_SIZE:
        raise ValueError(
            f"renew request needs a {RENEW_NONCE_SIZE}-byte nonce and a "
            f"{SIGNATURE_SIZE}-byte signature"
        )
    if not 0 <= request.timestamp <= 2**64 - 1:
        raise ValueError(f"renew request timestamp {request.timestamp} is outside 0..2**64-1")
    return pack(
        [PROTOCOL_VERSION, TYPE_RENEW_REQUEST, request.nonce, request.timestamp, request.signature]
    )


def is_renew_request(data: bytes) -> bool:
    """Return whether ``data`` starts like a renew request envelope (no other type does)."""
    return data.startswith(_RENEW_REQUEST_START)


def decode_renew_request_envelope(data: bytes) -> RenewRequestEnvelope:
    """Parse a renew request envelope, checking every field's type and size.

    Raises:
        UnsupportedVersionError: the first element is not a version this code speaks.
        UnknownTypeError: the second element is not "r".
        DecodeError: anything else is malformed, not in the canonical msgpack form, or
            the input exceeds MAX_ENVELOPE_SIZE.
    """
    items = unpack(data, _RENEW_REQUEST_LIMITS, where="envelope")
    if not isinstance(items, list) or len(items) < 2:
        raise DecodeError("envelope", "expected an array starting with version and type")

    version, tag = items[0], items[1]
    if isinstance(version, bool) or not isinstance(version, int) or version != PROTOCOL_VERSION:
        raise UnsupportedVersionError("envelope[0]", version, (PROTOCOL_VERSION,))
    if tag != TYPE_RENEW_REQUEST:
        raise UnknownTypeError("envelope[1]", tag)
    _check_length(items, 5, TYPE_RENEW_REQUEST)

    timestamp = items[3]
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise DecodeError("envelope[3] (timestamp)", "expected an integer in 0..2**64-1")
    request = RenewRequestEnvelope(
        nonce=_binary(items, 2, "nonce", RENEW_NONCE_SIZE),
        timestamp=timestamp,
        signature=_binary(items, 4, "signature", SIGNATURE_SIZE),
    )
    # One request has one byte form, so its message id is stable for duplicate detection.
    if encode_renew_request_envelope(request) != data:
        raise DecodeError("envelope", "renew request is not in the canonical msgpack form")
    return request


def message_id(envelope: bytes) -> bytes:
    """Hash envelope bytes to a 16-byte id (BLAKE2b-128, person "konsel/v1 msg id")."""
    return blake2b_labelled(envelope, person=PERSON_MESSAGE_ID, size=MESSAGE_ID_SIZE)


def _bin_prefix(length: int) -> bytes:
    if length <= 0xFF:
        return _BIN8_PREFIXES[length]
    if length <= 0xFFFF:
        return bytes([_BIN16]) + length.to_bytes(2, "big")
    return bytes([_BIN32]) + length.to_bytes(4, "big")


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
