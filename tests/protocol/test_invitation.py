"""Tests of konsel.protocol.invitation: the binary form, field rules and error codes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from invitation_samples import INVITATION, NOW, invitation_fields

from konsel.protocol.codec import pack
from konsel.protocol.errors import DecodeError
from konsel.protocol.invitation import (
    MAX_BUNDLE_SIZE,
    MAX_DISPLAY_NAME_CHARS,
    MAX_INVITATION_SIZE,
    MAX_RELAY_URL_CHARS,
    MESSAGES,
    DamagedInvitationError,
    InvalidInvitationError,
    InvitationError,
    InvitationExpiredError,
    NotAnInvitationError,
    UnsupportedInvitationVersionError,
    decode_invitation,
)


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
    assert decode_invitation(invitation.encode(), now=NOW).relay_url == url


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
