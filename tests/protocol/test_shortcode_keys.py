"""Tests of konsel.protocol.shortcode_keys: SPAKE2 inputs and the labelled key schedule."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from konsel.protocol.shortcode import ShortCode
from konsel.protocol.shortcode_keys import (
    confirmation_mac,
    derive_pairing_keys,
    spake2_identities,
    spake2_password,
)

SPAKE2_KEY = bytes(range(32))


def hkdf(label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(SPAKE2_KEY)


def test_password_is_words() -> None:
    assert spake2_password(ShortCode(7, ("kancil", "pelangi"))) == b"kancil-pelangi"
    assert spake2_password(ShortCode(7, ("kancil", "pelangi", "kuda"))) == b"kancil-pelangi-kuda"


def test_identities_carry_nameplate() -> None:
    assert spake2_identities(ShortCode(7, ("kancil", "pelangi"))) == (
        b"konsel/v1 pairing konselor 7",
        b"konsel/v1 pairing konseli 7",
    )
    assert (
        spake2_identities(ShortCode(999, ("kancil", "pelangi")))[1]
        == b"konsel/v1 pairing konseli 999"
    )


def test_keys_match_spec_labels() -> None:
    keys = derive_pairing_keys(SPAKE2_KEY)

    assert keys.confirm_offerer == hkdf(b"konsel/v1 pairing confirm konselor")
    assert keys.confirm_accepter == hkdf(b"konsel/v1 pairing confirm konseli")
    assert keys.invitation == hkdf(b"konsel/v1 pairing invitation")
    assert keys.reply == hkdf(b"konsel/v1 pairing reply")
    assert keys.verifier == hkdf(b"konsel/v1 pairing verifier")


def test_keys_all_distinct() -> None:
    keys = derive_pairing_keys(SPAKE2_KEY)
    assert len(set(keys)) == len(keys)
    assert all(len(key) == 32 for key in keys)


def test_confirmation_mac_order() -> None:
    pake_a = b"A" + bytes(32)
    pake_b = b"B" + bytes(range(32))

    mac = confirmation_mac(b"k" * 32, pake_a, pake_b)

    assert mac == hmac.digest(b"k" * 32, pake_a + pake_b, "sha256")
    assert mac != confirmation_mac(b"k" * 32, pake_b, pake_a)
