"""SPAKE2 inputs and the key schedule of the short-code pairing exchange.

The counselor is SPAKE2 side A and the student side B. The password is the code's words,
and each side's identity is a label followed by the nameplate. Every key that the
exchange uses is derived from the SPAKE2 key with HKDF-SHA-256 and its own label.
"""

from __future__ import annotations

import hmac
from typing import NamedTuple

from .kdf import KEY_SIZE, hkdf_sha256
from .shortcode import ShortCode

# NOTE: these labels belong with the others in kdf.py once its owner moves them there.
# SPAKE2 identities; the decimal nameplate follows after one space.
SPAKE2_ID_OFFERER = b"konsel/v1 pairing konselor"
SPAKE2_ID_ACCEPTER = b"konsel/v1 pairing konseli"

# HKDF info labels; each key is HKDF-SHA-256(SPAKE2 key, no salt, label), 32 bytes.
LABEL_CONFIRM_OFFERER = b"konsel/v1 pairing confirm konselor"
LABEL_CONFIRM_ACCEPTER = b"konsel/v1 pairing confirm konseli"
LABEL_INVITATION_KEY = b"konsel/v1 pairing invitation"
LABEL_REPLY_KEY = b"konsel/v1 pairing reply"
LABEL_VERIFIER = b"konsel/v1 pairing verifier"


class PairingKeys(NamedTuple):
    """The keys derived from one SPAKE2 key, 32 bytes each."""

    confirm_offerer: bytes
    confirm_accepter: bytes
    invitation: bytes
    reply: bytes
    verifier: bytes


def spake2_password(code: ShortCode) -> bytes:
    """Return the SPAKE2 password: the code's words joined by hyphens, in ASCII."""
    return "-".join(code.words).encode("ascii")


def spake2_identities(code: ShortCode) -> tuple[bytes, bytes]:
    """Return the SPAKE2 identities of side A (counselor) and side B (student)."""
    suffix = f" {code.nameplate}".encode("ascii")
    return SPAKE2_ID_OFFERER + suffix, SPAKE2_ID_ACCEPTER + suffix


def derive_pairing_keys(spake2_key: bytes) -> PairingKeys:
    """Derive the confirmation, encryption and verifier keys from the SPAKE2 key."""

    def derive(label: bytes) -> bytes:
        return hkdf_sha256(spake2_key, salt=None, info=label, length=KEY_SIZE)

    return PairingKeys(
        confirm_offerer=derive(LABEL_CONFIRM_OFFERER),
        confirm_accepter=derive(LABEL_CONFIRM_ACCEPTER),
        invitation=derive(LABEL_INVITATION_KEY),
        reply=derive(LABEL_REPLY_KEY),
        verifier=derive(LABEL_VERIFIER),
    )


def confirmation_mac(key: bytes, offerer_pake: bytes, accepter_pake: bytes) -> bytes:
    """Compute HMAC-SHA-256 over both SPAKE2 messages, counselor's first."""
    return hmac.digest(key, offerer_pake + accepter_pake, "sha256")
