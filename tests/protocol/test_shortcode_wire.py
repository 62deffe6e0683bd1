"""Tests of konsel.protocol.shortcode_wire: encoding and strict decoding of pairing messages."""

from __future__ import annotations

from typing import Any

import pytest

from konsel.protocol.codec import pack
from konsel.protocol.errors import DecodeError, UnknownTypeError, UnsupportedVersionError
from konsel.protocol.shortcode_wire import (
    MAX_INVITATION_BOX_SIZE,
    MAX_REPLY_BOX_SIZE,
    CancelMessage,
    ConfirmMessage,
    PairingMessage,
    PakeMessage,
    SealedMessage,
    decode_pairing_message,
)

MESSAGES: list[PairingMessage] = [
    PakeMessage(b"A" + bytes(range(32))),
    ConfirmMessage(bytes(range(32))),
    SealedMessage("invitation", bytes(24), bytes(MAX_INVITATION_BOX_SIZE)),
    SealedMessage("reply", bytes(range(24)), bytes(16)),
    CancelMessage(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: type(message).__name__)
def test_round_trip(message: PairingMessage) -> None:
    assert decode_pairing_message(message.encode()) == message


def test_encoding_fields() -> None:
    assert PakeMessage(b"B" + bytes(32)).encode() == pack(
        {"v": 1, "t": "pake", "msg": b"B" + bytes(32)}
    )
    assert CancelMessage().encode() == pack({"v": 1, "t": "cancel"})


def test_ignores_unknown_keys() -> None:
    data = pack({"v": 1, "t": "confirm", "mac": bytes(32), "later": [1, 2]})
    assert decode_pairing_message(data) == ConfirmMessage(bytes(32))


def test_rejects_version() -> None:
    with pytest.raises(UnsupportedVersionError):
        decode_pairing_message(pack({"v": 2, "t": "cancel"}))


def test_rejects_type() -> None:
    with pytest.raises(UnknownTypeError):
        decode_pairing_message(pack({"v": 1, "t": "hello"}))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"t": "pake", "msg": bytes(32)}, "pairing.msg"),
        ({"t": "pake"}, "pairing.msg"),
        ({"t": "confirm", "mac": bytes(31)}, "pairing.mac"),
        ({"t": "confirm", "mac": "x" * 32}, "pairing.mac"),
        ({"t": "invitation", "nonce": bytes(23), "box": bytes(16)}, "pairing.nonce"),
        ({"t": "reply", "nonce": bytes(24), "box": bytes(MAX_REPLY_BOX_SIZE + 1)}, "pairing.box"),
        ({"t": "reply", "nonce": bytes(24), "box": bytes(15)}, "box"),
    ],
)
def test_rejects_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_pairing_message(pack({"v": 1, **fields}))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "data", [b"", b"\x91\x01", b"\xc1", pack([1, "pake"]), pack({"v": 1, "t": "cancel"}) + b"\x00"]
)
def test_rejects_malformed(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_pairing_message(data)


def test_rejects_oversized_input() -> None:
    data = pack({"v": 1, "t": "cancel", "pad": bytes(MAX_INVITATION_BOX_SIZE + 512)})
    with pytest.raises(DecodeError):
        decode_pairing_message(data)


def test_constructor_rejects() -> None:
    with pytest.raises(ValueError):
        PakeMessage(bytes(32))
    with pytest.raises(ValueError):
        SealedMessage("hello", bytes(24), bytes(16))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SealedMessage("invitation", bytes(24), bytes(MAX_INVITATION_BOX_SIZE + 1))
