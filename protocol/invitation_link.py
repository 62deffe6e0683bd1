"""Invitation links: ``konsel://`` and the invitation's binary form, in base32, with a CRC-32.

A counselor shares a link as text or as a QR code. The link is ``konsel://`` followed by
the binary form of an :class:`~konsel.protocol.invitation.Invitation` and its 4-byte CRC-32,
written in lowercase Crockford base32.

Reading a link is tolerant of what happens to pasted text: case, spaces, hyphens and line
breaks are ignored, and Crockford's look-alike letters (``o`` for ``0``, ``i`` and ``l``
for ``1``) are accepted. A typo is reported as a damaged link. CRC-32 detects every
single-character substitution and every swap of two neighbouring characters with
certainty, because each changes a burst of at most 32 bits.

The checksum only catches accidents. Anyone who can change a link can recompute it, so a
link is as trustworthy as the channel it came through.
"""

from __future__ import annotations

import re
import zlib

from .invitation import (
    MAX_INVITATION_SIZE,
    DamagedInvitationError,
    Invitation,
    NotAnInvitationError,
    decode_invitation,
)

CHECKSUM_SIZE = 4
LINK_SCHEME = "konsel://"

MAX_LINK_CHARS = len(LINK_SCHEME) + -(-(MAX_INVITATION_SIZE + CHECKSUM_SIZE) * 8 // 5)
"""Maximum length of a link once separators are removed: the scheme plus the base32 digits."""

MAX_PASTED_CHARS = 2 * MAX_LINK_CHARS
"""Maximum length of pasted text, separators included, that :func:`decode_link` reads."""


# Crockford base32: digits and lowercase letters without i, l, o and u.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DIGIT_VALUES = {char: value for value, char in enumerate(_ALPHABET)}
_DIGIT_VALUES.update({"o": 0, "i": 1, "l": 1})

# Separators that a user, a mail client or a chat app may put into a pasted link.
_SEPARATORS = re.compile(r"[\s\-\u00ad\u2010-\u2015]+")


def decode_link(text: str, *, now: int) -> Invitation:
    """Read an invitation link as a user pasted or typed it.

    Case, whitespace, line breaks and hyphens anywhere in ``text`` are ignored.

    Args:
        text: untrusted text.
        now: the current time in unix seconds, for the expiry check.

    Raises:
        NotAnInvitationError: the text does not start with ``konsel://``.
        DamagedInvitationError: a character is outside the alphabet, the link is cut
            short or the checksum does not match.
        UnsupportedInvitationVersionError: the link was made by a newer konsel.
        InvalidInvitationError: the checksum matches but a field breaks its rule.
        InvitationExpiredError: the invitation has expired at ``now``.
    """
    if not isinstance(text, str):
        raise NotAnInvitationError(f"expected str, got {type(text).__name__}")
    if len(text) > MAX_PASTED_CHARS:
        raise DamagedInvitationError(
            f"{len(text)} characters exceeds the limit of {MAX_PASTED_CHARS}"
        )

    compact = _SEPARATORS.sub("", text).lower()
    if not compact.startswith(LINK_SCHEME):
        raise NotAnInvitationError(f"does not start with {LINK_SCHEME}")
    if len(compact) > MAX_LINK_CHARS:
        raise DamagedInvitationError(
            f"{len(compact)} characters exceeds the limit of {MAX_LINK_CHARS}"
        )

    payload = _base32_decode(compact[len(LINK_SCHEME) :])
    if len(payload) <= CHECKSUM_SIZE:
        raise DamagedInvitationError("link is too short")

    binary, checksum = payload[:-CHECKSUM_SIZE], payload[-CHECKSUM_SIZE:]
    if _checksum(binary) != checksum:
        raise DamagedInvitationError("checksum mismatch")
    return decode_invitation(binary, now=now)


def encode_link(invitation: Invitation) -> str:
    """Encode the link form: ``konsel://`` and base32 of the binary form and its CRC-32."""
    return binary_to_link(invitation.encode())


def binary_to_link(binary: bytes) -> str:
    """Write any bytes as a link without checking them, as :func:`encode_link` does for an invitation."""
    return LINK_SCHEME + _base32_encode(binary + _checksum(binary))


def _checksum(binary: bytes) -> bytes:
    # Little-endian, so the checksum bytes continue the bit order that CRC-32 reads, and
    # the burst-detection guarantee also covers errors that straddle data and checksum.
    return zlib.crc32(binary).to_bytes(CHECKSUM_SIZE, "little")


def _base32_encode(data: bytes) -> str:
    """Encode ``data`` in lowercase Crockford base32, most significant bit first, no padding."""
    bit_count = len(data) * 8
    digit_count = -(-bit_count // 5)
    number = int.from_bytes(data, "big") << (digit_count * 5 - bit_count)

    digits = [_ALPHABET[(number >> (5 * i)) & 31] for i in range(digit_count - 1, -1, -1)]
    return "".join(digits)


def _base32_decode(text: str) -> bytes:
    """Decode lowercase Crockford base32 written by :func:`_base32_encode`.

    Raises:
        DamagedInvitationError: a character is outside the alphabet, the number of
            digits cannot come from whole bytes, or the unused low bits are not zero.
    """
    number = 0
    for position, char in enumerate(text):
        value = _DIGIT_VALUES.get(char)
        if value is None:
            raise DamagedInvitationError(f"character {char!r} at position {position} is not base32")
        number = (number << 5) | value

    byte_count, spare_bits = divmod(len(text) * 5, 8)
    if spare_bits >= 5:
        raise DamagedInvitationError(f"{len(text)} base32 digits do not form whole bytes")
    if number & ((1 << spare_bits) - 1):
        raise DamagedInvitationError("unused bits at the end are not zero")
    return (number >> spare_bits).to_bytes(byte_count, "big")
