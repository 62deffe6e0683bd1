"""Invitations: what a student's client needs to open a conversation with a counselor.

An :class:`Invitation` names the relay, the counselor's contact inbox, the counselor's
identity key and a prekey bundle. Its binary form is one msgpack map with the invitation
version under ``v`` and the type tag ``"invitation"`` under ``t``. The short-code
exchange sends this form encrypted, and :mod:`konsel.protocol.invitation_link` writes it
as a ``konsel://`` link.

Errors carry a stable ``code``, and :data:`MESSAGES` maps each code to the text shown to
the user, in Indonesian and English. The link errors are defined here too, so one table
covers every way of receiving an invitation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from .codec import Fields, Limits, pack, unpack
from .errors import (
    DamagedInvitationError,
    DecodeError,
    InvalidInvitationError,
    InvitationError,
    InvitationExpiredError,
    NotAnInvitationError,
    UnsupportedInvitationVersionError,
    UnsupportedVersionError,
)

__all__ = [
    "DamagedInvitationError",
    "InvalidInvitationError",
    "Invitation",
    "InvitationError",
    "InvitationExpiredError",
    "NotAnInvitationError",
    "UnsupportedInvitationVersionError",
]

INVITATION_VERSION = 1
SUPPORTED_INVITATION_VERSIONS = (1,)
INVITATION_TYPE = "invitation"

INBOX_ID_SIZE = 16
IDENTITY_KEY_SIZE = 32
MAX_BUNDLE_SIZE = 1024
MAX_RELAY_URL_CHARS = 256
MAX_DISPLAY_NAME_CHARS = 64
MAX_EXPIRES_AT = 2**64 - 1

MAX_INVITATION_SIZE = 2048
"""Maximum size in bytes of the binary form.

The largest version 1 invitation is 1,668 bytes (a 1 KiB bundle, a 256-character URL, a
64-character name of 4-byte characters and the largest expiry). The rest leaves room for keys a later minor
revision may add.
"""

INVITATION_LIMITS = Limits(
    max_input=MAX_INVITATION_SIZE,
    max_str=MAX_RELAY_URL_CHARS,
    max_bin=MAX_BUNDLE_SIZE,
    max_array=16,
    max_map=16,
    max_depth=2,
)

InvitationKind = Literal["one_time", "reusable"]
INVITATION_KINDS: frozenset[str] = frozenset({"one_time", "reusable"})

# Display names are one line: no control characters, no line or paragraph separators, and
# no bidirectional embeddings, overrides or isolates that could reorder nearby text.
_FORBIDDEN_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


MESSAGES: dict[str, dict[str, str]] = {
    "link_not_konsel": {
        "id": "Ini bukan tautan undangan konsel. Tautan undangan diawali konsel://.",
        "en": "This is not a konsel invitation link. Invitation links start with konsel://.",
    },
    "link_damaged": {
        "id": (
            "Tautan undangan rusak atau tidak lengkap. Salin ulang seluruh tautan, "
            "atau minta tautan baru kepada guru BK."
        ),
        "en": (
            "The invitation link is damaged or incomplete. Copy the whole link again, "
            "or ask the counselor for a new one."
        ),
    },
    "link_invalid": {
        "id": "Isi tautan undangan tidak sah. Minta tautan baru kepada guru BK.",
        "en": "The invitation link contains invalid data. Ask the counselor for a new one.",
    },
    "link_version": {
        "id": (
            "Tautan ini dibuat oleh versi konsel yang lebih baru. "
            "Perbarui aplikasi, lalu buka tautan ini lagi."
        ),
        "en": (
            "This link was made by a newer version of konsel. "
            "Update the app, then open the link again."
        ),
    },
    "link_expired": {
        "id": "Tautan undangan sudah kedaluwarsa. Minta tautan baru kepada guru BK.",
        "en": "The invitation link has expired. Ask the counselor for a new one.",
    },
}


@dataclass(frozen=True)
class Invitation:
    """A counselor's invitation to open a conversation.

    The constructor checks every field, so an instance always encodes to bytes that
    :func:`decode_invitation` accepts.

    Raises:
        InvalidInvitationError: a field breaks its rule. The error names the field.
    """

    relay_url: str
    """WebSocket URL of the relay: ``ws://`` or ``wss://``, a host, no user, query or fragment."""

    inbox_id: bytes
    """Send id of the counselor's contact inbox on that relay, 16 bytes."""

    identity_key: bytes
    """The counselor's Ed25519 identity public key, 32 bytes."""

    prekey_bundle: bytes
    """The counselor's encoded prekey bundle, 1 to 1,024 bytes, opaque to this module."""

    kind: InvitationKind
    """``one_time`` for a single student, ``reusable`` for a link shared with a class."""

    expires_at: int | None = None
    """Unix seconds from which the invitation is rejected, or ``None`` for no expiry."""

    display_name: str | None = None
    """The counselor's name as the student should see it, 1 to 64 characters."""

    def __post_init__(self) -> None:
        _check_relay_url(self.relay_url)
        _check_bytes(self.inbox_id, "inbox", size=INBOX_ID_SIZE)
        _check_bytes(self.identity_key, "ik", size=IDENTITY_KEY_SIZE)
        _check_bytes(self.prekey_bundle, "bundle", max_size=MAX_BUNDLE_SIZE)
        if self.kind not in INVITATION_KINDS:
            raise InvalidInvitationError(
                "kind", f"{self.kind!r} is not one of {sorted(INVITATION_KINDS)}"
            )
        if self.expires_at is not None:
            _check_expires_at(self.expires_at)
        if self.display_name is not None:
            _check_display_name(self.display_name)

    def encode(self) -> bytes:
        """Encode the binary form: one msgpack map."""
        fields: dict[str, Any] = {
            "v": INVITATION_VERSION,
            "t": INVITATION_TYPE,
            "relay": self.relay_url,
            "inbox": self.inbox_id,
            "ik": self.identity_key,
            "bundle": self.prekey_bundle,
            "kind": self.kind,
        }
        if self.expires_at is not None:
            fields["exp"] = self.expires_at
        if self.display_name is not None:
            fields["name"] = self.display_name
        return pack(fields)

    def check_not_expired(self, now: int) -> None:
        """Raise :class:`InvitationExpiredError` if the invitation has expired at ``now``.

        Args:
            now: the current time in unix seconds. The invitation is valid up to, but not
                including, ``expires_at``.
        """
        if self.expires_at is not None and now >= self.expires_at:
            raise InvitationExpiredError(self.expires_at, now)


def decode_invitation(data: bytes, *, now: int) -> Invitation:
    """Decode and check the binary form of an invitation.

    Args:
        data: untrusted bytes.
        now: the current time in unix seconds, for the expiry check.

    Raises:
        UnsupportedInvitationVersionError: ``v`` is not a version this code reads.
        InvalidInvitationError: the bytes are not a valid invitation. The error names
            the field.
        InvitationExpiredError: the invitation has expired at ``now``.
    """
    try:
        fields = Fields(unpack(data, INVITATION_LIMITS, where="invitation"), "invitation")
        version = fields.version("v", SUPPORTED_INVITATION_VERSIONS)
    except UnsupportedVersionError as error:
        raise UnsupportedInvitationVersionError(
            error.field, error.version, error.supported
        ) from None
    except DecodeError as error:
        raise InvalidInvitationError(error.field, error.reason) from None

    try:
        invitation = _read_fields(fields, version)
    except InvalidInvitationError:
        raise
    except DecodeError as error:
        raise InvalidInvitationError(error.field, error.reason) from None

    invitation.check_not_expired(now)
    return invitation


def _read_fields(fields: Fields, version: int) -> Invitation:
    # Version 1 is the only version so far; a later one dispatches on ``version`` here.
    del version
    if fields.string("t", max_len=32) != INVITATION_TYPE:
        raise InvalidInvitationError(fields.where + ".t", f"expected {INVITATION_TYPE!r}")

    expires_at = fields.integer("exp", max_value=MAX_EXPIRES_AT) if fields.has("exp") else None
    display_name = (
        fields.string("name", max_len=MAX_DISPLAY_NAME_CHARS) if fields.has("name") else None
    )
    return Invitation(
        relay_url=fields.string("relay", max_len=MAX_RELAY_URL_CHARS),
        inbox_id=fields.binary("inbox", size=INBOX_ID_SIZE),
        identity_key=fields.binary("ik", size=IDENTITY_KEY_SIZE),
        prekey_bundle=fields.binary("bundle", max_size=MAX_BUNDLE_SIZE),
        kind="one_time" if fields.choice("kind", INVITATION_KINDS) == "one_time" else "reusable",
        expires_at=expires_at,
        display_name=display_name,
    )


def _check_relay_url(url: object) -> None:
    if not isinstance(url, str):
        raise InvalidInvitationError("relay", f"expected str, got {type(url).__name__}")
    if not 1 <= len(url) <= MAX_RELAY_URL_CHARS:
        raise InvalidInvitationError(
            "relay", f"length {len(url)} is outside 1..{MAX_RELAY_URL_CHARS}"
        )
    if not url.isascii() or not url.isprintable() or " " in url:
        raise InvalidInvitationError("relay", "URL must be printable ASCII without spaces")

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidInvitationError("relay", f"invalid URL ({error})") from None

    if not url.startswith(("ws://", "wss://")):
        raise InvalidInvitationError("relay", "URL scheme must be ws:// or wss://")
    if not parts.hostname:
        raise InvalidInvitationError("relay", "URL has no host")
    if "@" in parts.netloc:
        raise InvalidInvitationError("relay", "URL must not contain a user name or password")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidInvitationError("relay", "URL must not contain a query or fragment")
    if port == 0:
        raise InvalidInvitationError("relay", "URL port 0 is not allowed")


def _check_bytes(
    value: object, field: str, *, size: int | None = None, max_size: int | None = None
) -> None:
    if not isinstance(value, bytes):
        raise InvalidInvitationError(field, f"expected bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise InvalidInvitationError(field, f"expected {size} bytes, got {len(value)}")
    if max_size is not None and not 1 <= len(value) <= max_size:
        raise InvalidInvitationError(field, f"length {len(value)} is outside 1..{max_size}")


def _check_expires_at(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInvitationError("exp", f"expected int, got {type(value).__name__}")
    if not 0 <= value <= MAX_EXPIRES_AT:
        raise InvalidInvitationError("exp", f"{value} is outside 0..{MAX_EXPIRES_AT}")


def _check_display_name(value: object) -> None:
    if not isinstance(value, str):
        raise InvalidInvitationError("name", f"expected str, got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_DISPLAY_NAME_CHARS:
        raise InvalidInvitationError(
            "name", f"length {len(value)} is outside 1..{MAX_DISPLAY_NAME_CHARS}"
        )
    forbidden = _FORBIDDEN_IN_NAME.search(value)
    if forbidden is not None:
        raise InvalidInvitationError(
            "name", f"character U+{ord(forbidden.group()):04X} is not allowed in a name"
        )
    if value.isspace():
        raise InvalidInvitationError("name", "name contains only whitespace")
