"""Tests of konsel.protocol.invitation: binary and link forms, typo detection and errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol.codec import pack
from konsel.protocol.errors import DecodeError, UnsupportedVersionError
from konsel.protocol.invitation import (
    LINK_SCHEME,
    MAX_BUNDLE_SIZE,
    MAX_DISPLAY_NAME_CHARS,
    MAX_INVITATION_SIZE,
    MAX_LINK_CHARS,
    MAX_PASTED_CHARS,
    MAX_RELAY_URL_CHARS,
    MESSAGES,
    DamagedInvitationError,
    InvalidInvitationError,
    Invitation,
    InvitationError,
    InvitationExpiredError,
    NotAnInvitationError,
    UnsupportedInvitationVersionError,
    binary_to_link,
    decode_invitation,
    decode_link,
)

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
NOW = 1_800_000_000

INVITATION = Invitation(
    relay_url="wss://relay.sman1.sch.id/konsel",
    inbox_id=bytes(range(16)),
    identity_key=bytes(range(32, 64)),
    prekey_bundle=bytes(range(64, 128)),
    kind="one_time",
    expires_at=NOW + 3600,
    display_name="Bu Sari (guru BK)",
)


def invitation_fields(**changes: Any) -> dict[str, Any]:
    """Return the binary form of INVITATION as a map, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "v": 1,
        "t": "invitation",
        "relay": INVITATION.relay_url,
        "inbox": INVITATION.inbox_id,
        "ik": INVITATION.identity_key,
        "bundle": INVITATION.prekey_bundle,
        "kind": INVITATION.kind,
        "exp": INVITATION.expires_at,
        "name": INVITATION.display_name,
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not ...}


def test_binary_round_trip() -> None:
    assert decode_invitation(INVITATION.encode(), now=NOW) == INVITATION


def test_binary_optional_fields_absent() -> None:
    minimal = dataclasses.replace(INVITATION, expires_at=None, display_name=None, kind="reusable")
    encoded = minimal.encode()

    assert decode_invitation(encoded, now=NOW) == minimal
    assert b"exp" not in encoded
    assert b"name" not in encoded


def test_binary_nil_optional_fields() -> None:
    data = pack(invitation_fields(exp=None, name=None))
    decoded = decode_invitation(data, now=NOW)
    assert decoded.expires_at is None
    assert decoded.display_name is None


def test_binary_ignores_unknown_keys() -> None:
    data = pack(invitation_fields(later={"x": 1}))
    assert decode_invitation(data, now=NOW) == INVITATION


def test_binary_matches_fields() -> None:
    assert INVITATION.encode() == pack(invitation_fields())


def test_link_round_trip() -> None:
    link = INVITATION.to_link()

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
    assert decode_link(transform(INVITATION.to_link()), now=NOW) == INVITATION


def _groups(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_link_every_substitution_detected() -> None:
    """Every one-character change to a digit of another value is reported as damage."""
    link = INVITATION.to_link()
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
    link = INVITATION.to_link()
    for position in (len(LINK_SCHEME), len(link) // 2, len(link) - 1):
        typo = link[:position] + bad_character + link[position + 1 :]
        with pytest.raises(DamagedInvitationError):
            decode_link(typo, now=NOW)


def test_link_every_neighbour_swap_detected() -> None:
    link = INVITATION.to_link()
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
    link = INVITATION.to_link()
    for length in range(len(LINK_SCHEME), len(link)):
        with pytest.raises(DamagedInvitationError):
            decode_link(link[:length], now=NOW)


def test_link_extra_character_detected() -> None:
    link = INVITATION.to_link()
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
    link = INVITATION.to_link()
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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"t": "reply"}, "invitation.t"),
        ({"inbox": ...}, "invitation.inbox"),
        ({"inbox": bytes(15)}, "invitation.inbox"),
        ({"ik": bytes(33)}, "invitation.ik"),
        ({"bundle": b""}, "bundle"),
        ({"bundle": "text"}, "invitation.bundle"),
        ({"kind": "forever"}, "invitation.kind"),
        ({"exp": -1}, "invitation.exp"),
        ({"exp": True}, "invitation.exp"),
        ({"name": ""}, "name"),
        ({"name": "Bu Sari\nadmin"}, "name"),
        ({"relay": "ws://"}, "relay"),
    ],
)
def test_binary_rejects_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInvitationError) as caught:
        decode_invitation(pack(invitation_fields(**changes)), now=NOW)
    assert caught.value.field == field


def test_binary_too_large() -> None:
    data = pack(invitation_fields(later=bytes(MAX_INVITATION_SIZE)))
    with pytest.raises(InvalidInvitationError, match="exceeds"):
        decode_invitation(data, now=NOW)


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8765",
        "wss://[::1]:443/konsel",
        "wss://relay.example",
        "ws://relay.example/a/b",
        "wss://" + "a" * (MAX_RELAY_URL_CHARS - 6),
    ],
)
def test_relay_url_accepted(url: str) -> None:
    invitation = dataclasses.replace(INVITATION, relay_url=url)
    assert decode_link(invitation.to_link(), now=NOW).relay_url == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://relay.example",
        "ftp://relay.example",
        "relay.example",
        "wss://",
        "wss://:443",
        "wss://user:secret@relay.example",
        "wss://relay.example/?token=1",
        "wss://relay.example/#x",
        "wss://relay.example:99999",
        "wss://relay.example:0",
        "wss://relay.example/a b",
        "wss://relay.example/\x00",
        "wss://rélay.example",
        "WSS://relay.example",
        "wss://" + "a" * (MAX_RELAY_URL_CHARS - 5),
    ],
)
def test_relay_url_rejected(url: str) -> None:
    with pytest.raises(InvalidInvitationError) as caught:
        dataclasses.replace(INVITATION, relay_url=url)
    assert caught.value.field == "relay"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inbox_id": bytes(17)}, "inbox"),
        ({"identity_key": bytes(31)}, "ik"),
        ({"identity_key": "k" * 32}, "ik"),
        ({"prekey_bundle": bytes(MAX_BUNDLE_SIZE + 1)}, "bundle"),
        ({"kind": "sekali"}, "kind"),
        ({"expires_at": 2**64}, "exp"),
        ({"display_name": "x" * (MAX_DISPLAY_NAME_CHARS + 1)}, "name"),
        ({"display_name": "   "}, "name"),
        ({"display_name": "Bu \u202eiraS"}, "name"),
        ({"display_name": "Bu\u2028Sari"}, "name"),
    ],
)
def test_constructor_rejects(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInvitationError) as caught:
        dataclasses.replace(INVITATION, **changes)
    assert caught.value.field == field


def test_errors_have_codes_in_both_languages() -> None:
    error_classes = [
        NotAnInvitationError,
        DamagedInvitationError,
        InvalidInvitationError,
        UnsupportedInvitationVersionError,
        InvitationExpiredError,
    ]
    codes = {error_class.code for error_class in error_classes}

    assert codes == set(MESSAGES)
    for code in codes:
        assert MESSAGES[code]["id"].strip()
        assert MESSAGES[code]["en"].strip()
        assert MESSAGES[code]["id"] != MESSAGES[code]["en"]


def test_errors_share_base() -> None:
    for error_class in (NotAnInvitationError, DamagedInvitationError, InvalidInvitationError):
        assert issubclass(error_class, InvitationError)
        assert issubclass(error_class, DecodeError)
    assert issubclass(InvitationExpiredError, InvitationError)


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
    link = invitation.to_link()
    assert len(link) <= MAX_LINK_CHARS
    assert decode_link(link, now=NOW) == invitation
