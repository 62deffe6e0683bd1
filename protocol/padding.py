"""Padmé padding of message plaintexts before encryption.

Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
with PURBs", PETS 2019) rounds a length L up so that only the top bits of L survive: with
E = floor(log2 L) and S = floor(log2 E) + 1, the low E - S bits are cleared by rounding up.
The added bytes are fewer than L / 2**S, which is below 1/16 of L for L >= 256, and a
padded length reveals only O(log log L) bits of the true length.

The padded form is ``plaintext || 0x80 || 0x00 ...`` with total length ``padme(len + 1)``.
"""

from __future__ import annotations

from .errors import DecodeError

PAD_MARKER = 0x80
"""Byte appended after the plaintext; the zero bytes after it fill up to the padded size."""
_MARKER_BYTE = bytes([PAD_MARKER])


def padme(length: int) -> int:
    """Return the Padmé-rounded size of ``length`` (``length`` >= 1)."""
    if length < 1:
        raise ValueError(f"padme needs a length of at least 1, got {length}")

    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    low_bits = exponent - mantissa_bits
    mask = (1 << low_bits) - 1
    return (length + mask) & ~mask


def pad(plaintext: bytes) -> bytes:
    """Append the 0x80 marker and zero bytes up to ``padme(len(plaintext) + 1)``."""
    return (plaintext + _MARKER_BYTE).ljust(padme(len(plaintext) + 1), b"\x00")


def unpad(padded: bytes) -> bytes:
    """Remove padding added by :func:`pad`, accepting only the exact form it produces.

    Raises:
        DecodeError: no marker, a non-zero byte after the marker, or a total size that
            is not the Padmé size of the plaintext it carries.
    """
    marker_index = len(padded.rstrip(b"\x00")) - 1
    if marker_index < 0 or padded[marker_index] != PAD_MARKER:
        raise DecodeError("padding", "missing 0x80 marker after the plaintext")

    if padme(marker_index + 1) != len(padded):
        raise DecodeError(
            "padding",
            f"padded size {len(padded)} does not match plaintext size {marker_index}",
        )
    return padded[:marker_index]
