"""Messages of the short-code pairing exchange, as they travel through a relay rendezvous.

The relay passes these messages between the two clients without reading them. Each is
one msgpack map with the pairing version under ``v`` and a type tag under ``t``:

==============  ===================================================================
``t``           fields
==============  ===================================================================
``pake``        ``msg``: bin, 33 bytes, the SPAKE2 message (side byte and element)
``confirm``     ``mac``: bin, 32 bytes, the HMAC-SHA-256 key confirmation
``invitation``  ``nonce``: bin, 24 bytes, and ``box``: XChaCha20-Poly1305 ciphertext
``reply``       ``nonce``: bin, 24 bytes, and ``box``: XChaCha20-Poly1305 ciphertext
``cancel``      no fields
==============  ===================================================================

:func:`decode_pairing_message` decodes through the codec with :data:`PAIRING_LIMITS` and
ignores keys it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .codec import Fields, Limits, pack, unpack
from .errors import InvalidContentError
from .invitation import MAX_INVITATION_SIZE

PAIRING_VERSION = 1
SUPPORTED_PAIRING_VERSIONS = (1,)

PAKE_MESSAGE_SIZE = 33
"""Size of a SPAKE2 message: one side byte (``A`` or ``B``) and a 32-byte Ed25519 point."""

MAC_SIZE = 32
NONCE_SIZE = 24
AEAD_TAG_SIZE = 16

MAX_REPLY_SIZE = 2048
"""Maximum size of the student's reply plaintext, which this module treats as opaque."""

MAX_INVITATION_BOX_SIZE = MAX_INVITATION_SIZE + AEAD_TAG_SIZE
MAX_REPLY_BOX_SIZE = MAX_REPLY_SIZE + AEAD_TAG_SIZE

# Binaries may be a little longer than any field allows, so that an over-long box reaches
# the field check and the error names the field instead of the whole input.
_MAX_BIN = max(MAX_INVITATION_BOX_SIZE, MAX_REPLY_BOX_SIZE) + 64

PAIRING_LIMITS = Limits(
    max_input=_MAX_BIN + 256,
    max_str=64,
    max_bin=_MAX_BIN,
    max_array=16,
    max_map=16,
    max_depth=2,
)

SealedType = Literal["invitation", "reply"]
PAIRING_TYPES: frozenset[str] = frozenset({"pake", "confirm", "invitation", "reply", "cancel"})


@dataclass(frozen=True)
class PakeMessage:
    """A SPAKE2 message, as the ``spake2`` package's ``start()`` returns it."""

    body: bytes

    def __post_init__(self) -> None:
        _check_size(self.body, "msg", size=PAKE_MESSAGE_SIZE)

    def encode(self) -> bytes:
        """Encode as a ``pake`` message."""
        return _pack("pake", {"msg": self.body})


@dataclass(frozen=True)
class ConfirmMessage:
    """A key confirmation MAC that proves the sender derived the same SPAKE2 key."""

    mac: bytes

    def __post_init__(self) -> None:
        _check_size(self.mac, "mac", size=MAC_SIZE)

    def encode(self) -> bytes:
        """Encode as a ``confirm`` message."""
        return _pack("confirm", {"mac": self.mac})


@dataclass(frozen=True)
class SealedMessage:
    """An encrypted invitation (counselor to student) or reply (student to counselor)."""

    kind: SealedType
    nonce: bytes
    box: bytes

    def __post_init__(self) -> None:
        if self.kind not in ("invitation", "reply"):
            raise InvalidContentError("t", f"{self.kind!r} is not 'invitation' or 'reply'")
        _check_size(self.nonce, "nonce", size=NONCE_SIZE)
        _check_size(self.box, "box", max_size=_max_box_size(self.kind))

    def encode(self) -> bytes:
        """Encode as an ``invitation`` or ``reply`` message."""
        return _pack(self.kind, {"nonce": self.nonce, "box": self.box})


@dataclass(frozen=True)
class CancelMessage:
    """A notice that the sender stopped the exchange; it carries no fields."""

    def encode(self) -> bytes:
        """Encode as a ``cancel`` message."""
        return _pack("cancel", {})


PairingMessage = PakeMessage | ConfirmMessage | SealedMessage | CancelMessage


def decode_pairing_message(data: bytes) -> PairingMessage:
    """Decode one pairing message received from the rendezvous.

    Raises:
        DecodeError: the bytes are not a valid pairing message. The error names the
            field; ``UnsupportedVersionError`` and ``UnknownTypeError`` are subclasses.
    """
    fields = Fields(unpack(data, PAIRING_LIMITS, where="pairing"), "pairing")
    fields.version("v", SUPPORTED_PAIRING_VERSIONS)
    tag = fields.type_tag("t", PAIRING_TYPES)

    if tag == "pake":
        return PakeMessage(fields.binary("msg", size=PAKE_MESSAGE_SIZE))
    if tag == "confirm":
        return ConfirmMessage(fields.binary("mac", size=MAC_SIZE))
    if tag == "cancel":
        return CancelMessage()

    kind: SealedType = "invitation" if tag == "invitation" else "reply"
    nonce = fields.binary("nonce", size=NONCE_SIZE)
    box = fields.binary("box", max_size=_max_box_size(kind))
    return SealedMessage(kind, nonce, box)


def _max_box_size(kind: SealedType) -> int:
    return MAX_INVITATION_BOX_SIZE if kind == "invitation" else MAX_REPLY_BOX_SIZE


def _pack(tag: str, body: dict[str, Any]) -> bytes:
    return pack({"v": PAIRING_VERSION, "t": tag, **body})


def _check_size(
    value: object, field: str, *, size: int | None = None, max_size: int | None = None
) -> None:
    if not isinstance(value, bytes):
        raise InvalidContentError(field, f"expected bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise InvalidContentError(field, f"expected {size} bytes, got {len(value)}")
    if max_size is not None and not AEAD_TAG_SIZE <= len(value) <= max_size:
        raise InvalidContentError(
            field, f"length {len(value)} is outside {AEAD_TAG_SIZE}..{max_size}"
        )
