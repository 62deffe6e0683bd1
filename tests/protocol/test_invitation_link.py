"""Tests of konsel.protocol.invitation_link: link round trips, pasted text and typo detection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invitation_samples import ALPHABET, INVITATION, NOW, invitation_fields

from konsel.protocol.codec import pack
from konsel.protocol.errors import UnsupportedVersionError
from konsel.protocol.invitation import (
    MAX_BUNDLE_SIZE,
    DamagedInvitationError,
    InvalidInvitationError,
    Invitation,
    InvitationExpiredError,
    NotAnInvitationError,
    UnsupportedInvitationVersionError,
)
from konsel.protocol.invitation_link import (
    LINK_SCHEME,
    MAX_LINK_CHARS,
    MAX_PASTED_CHARS,
    binary_to_link,
    decode_link,
    encode_link,
)


def test_link_round_trip() -> None:
    link = encode_link(INVITATION)

    assert link.startswith(LINK_SCHEME)
    assert set(link[len(LINK_SCHEME) :]) <= set(ALPHABET)
    assert decode_link(link, now=NOW) == INVITATION


@pytest.mark.parametrize(
    "transform",
    [
        str.upper,
        lambda link: "  " + link + "\n",
        lambda link: "\n".join(link[i : i + 60] for i in range(0, len(link), 60)),
        lambda link: "\r\n".join(link[i : i + 40] for i in range(0, len(link), 40)),
        lambda link: LINK_SCHEME + "-".join(_groups(link[len(LINK_SCHEME) :], 4)),
        lambda link: LINK_SCHEME + " ".join(_groups(link[len(LINK_SCHEME) :], 5)).upper(),
        lambda link: link.replace("0", "o").replace("1", "l"),
        lambda link: link.replace("1", "I").replace("0", "O"),
        lambda link: link[:20] + "\u00ad" + link[20:40] + "\u2010" + link[40:],
    ],
    ids=[
        "upper",
        "padded",
        "lf",
        "crlf",
        "hyphens",
        "spaced-upper",
        "lookalike",
        "lookalike-upper",
        "soft-hyphen",
    ],
)
def test_link_pasted_variants(transform: Any) -> None:
    assert decode_link(transform(encode_link(INVITATION)), now=NOW) == INVITATION


def _groups(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_link_every_substitution_detected() -> None:
    """Every one-character change to a digit of another value is reported as damage."""
    link = encode_link(INVITATION)
    start = len(LINK_SCHEME)
    checked = 0

    for position in range(start, len(link)):
        original = ALPHABET.index(link[position])
        for replacement in ALPHABET:
            if ALPHABET.index(replacement) == original:
                continue
            typo = link[:position] + replacement + link[position + 1 :]
            with pytest.raises(DamagedInvitationError):
                decode_link(typo, now=NOW)
            checked += 1

    assert checked == (len(link) - start) * 31


@pytest.mark.parametrize("bad_character", ["u", "!", "/", "é", "=", "_"])
def test_link_foreign_character(bad_character: str) -> None:
    link = encode_link(INVITATION)
    for position in (len(LINK_SCHEME), len(link) // 2, len(link) - 1):
        typo = link[:position] + bad_character + link[position + 1 :]
        with pytest.raises(DamagedInvitationError):
            decode_link(typo, now=NOW)


def test_link_every_neighbour_swap_detected() -> None:
    link = encode_link(INVITATION)
    swaps = 0
    for position in range(len(LINK_SCHEME), len(link) - 1):
        if link[position] == link[position + 1]:
            continue
        swapped = link[:position] + link[position + 1] + link[position] + link[position + 2 :]
        with pytest.raises(DamagedInvitationError):
            decode_link(swapped, now=NOW)
        swaps += 1
    assert swaps > 0


def test_link_every_truncation_detected() -> None:
    link = encode_link(INVITATION)
    for length in range(len(LINK_SCHEME), len(link)):
        with pytest.raises(DamagedInvitationError):
            decode_link(link[:length], now=NOW)


def test_link_extra_character_detected() -> None:
    link = encode_link(INVITATION)
    for position in range(len(LINK_SCHEME), len(link) + 1, 7):
        longer = link[:position] + "q" + link[position:]
        with pytest.raises(DamagedInvitationError):
            decode_link(longer, now=NOW)


def test_link_nonzero_spare_bits() -> None:
    """A last digit that only changes the unused low bits is still a typo."""
    link = binary_to_link(INVITATION.encode())
    spare_bits = (len(link) - len(LINK_SCHEME)) * 5 % 8
    assert spare_bits > 0

    last_value = ALPHABET.index(link[-1])
    typo = link[:-1] + ALPHABET[last_value ^ 1]
    with pytest.raises(DamagedInvitationError, match="unused bits"):
        decode_link(typo, now=NOW)


@pytest.mark.parametrize(
    "text",
    ["", "https://konsel.example/undangan", "konsel:/abc", "7-kancil-pelangi", "konsel//abc"],
)
def test_link_not_konsel(text: str) -> None:
    with pytest.raises(NotAnInvitationError) as caught:
        decode_link(text, now=NOW)
    assert caught.value.code == "link_not_konsel"


def test_link_empty_payload() -> None:
    with pytest.raises(DamagedInvitationError):
        decode_link(LINK_SCHEME, now=NOW)


def test_link_too_long() -> None:
    with pytest.raises(DamagedInvitationError, match="exceeds"):
        decode_link(LINK_SCHEME + "0" * (MAX_LINK_CHARS + 1), now=NOW)
    with pytest.raises(DamagedInvitationError, match="exceeds"):
        decode_link(" " * (MAX_PASTED_CHARS + 1), now=NOW)


def test_link_future_version() -> None:
    link = binary_to_link(pack(invitation_fields(v=2, relay=..., later=b"new")))

    with pytest.raises(UnsupportedInvitationVersionError) as caught:
        decode_link(link, now=NOW)

    assert caught.value.code == "link_version"
    assert caught.value.version == 2
    assert isinstance(caught.value, UnsupportedVersionError)


def test_link_expired() -> None:
    link = encode_link(INVITATION)
    assert INVITATION.expires_at is not None

    assert decode_link(link, now=INVITATION.expires_at - 1) == INVITATION
    with pytest.raises(InvitationExpiredError) as caught:
        decode_link(link, now=INVITATION.expires_at)
    assert caught.value.code == "link_expired"
    assert caught.value.expires_at == INVITATION.expires_at


def test_link_checksum_ok_fields_invalid() -> None:
    link = binary_to_link(pack(invitation_fields(relay="https://relay.example")))
    with pytest.raises(InvalidInvitationError) as caught:
        decode_link(link, now=NOW)
    assert caught.value.code == "link_invalid"


def test_link_checksum_ok_not_msgpack() -> None:
    with pytest.raises(InvalidInvitationError):
        decode_link(binary_to_link(b"\xc1\x00\x01"), now=NOW)


invitations = st.builds(
    Invitation,
    relay_url=st.sampled_from(["ws://127.0.0.1:9000", "wss://relay.example/k"]),
    inbox_id=st.binary(min_size=16, max_size=16),
    identity_key=st.binary(min_size=32, max_size=32),
    prekey_bundle=st.binary(min_size=1, max_size=MAX_BUNDLE_SIZE),
    kind=st.sampled_from(["one_time", "reusable"]),
    expires_at=st.none() | st.integers(min_value=NOW + 1, max_value=2**64 - 1),
    display_name=st.none()
    | st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=64
    ).filter(
        lambda name: (
            not name.isspace()
            and not any("\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069" for c in name)
        )
    ),
)


@settings(max_examples=60, deadline=None)
@given(invitations)
def test_link_round_trip_random(invitation: Invitation) -> None:
    link = encode_link(invitation)
    assert len(link) <= MAX_LINK_CHARS
    assert decode_link(link, now=NOW) == invitation
