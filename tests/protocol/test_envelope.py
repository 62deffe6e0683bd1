"""Tests for konsel.protocol.envelope: encoding, strict decoding and message ids."""

import msgpack
import pytest

from konsel.protocol.envelope import (
    MAX_ENVELOPE_SIZE,
    InitialEnvelope,
    MessageEnvelope,
    decode_envelope,
    encode_envelope,
    message_id,
)
from konsel.protocol.errors import DecodeError, UnknownTypeError, UnsupportedVersionError

HEADER = bytes(range(64))
BODY = b"\xaa" * 33
MESSAGE = MessageEnvelope(HEADER, BODY)
INITIAL = InitialEnvelope(b"\x01" * 32, 7, 9, b"\x02" * 48, HEADER, BODY)


def test_message_round_trip() -> None:
    data = encode_envelope(MESSAGE)
    assert msgpack.unpackb(data) == [1, "m", HEADER, BODY]
    assert decode_envelope(data) == MESSAGE


def test_initial_round_trip() -> None:
    assert decode_envelope(encode_envelope(INITIAL)) == INITIAL


def test_initial_without_one_time_prekey() -> None:
    envelope = InitialEnvelope(b"\x01" * 32, 7, None, b"\x02" * 48, HEADER, BODY)
    data = encode_envelope(envelope)
    assert msgpack.unpackb(data)[4] is None
    assert decode_envelope(data) == envelope


def test_message_overhead() -> None:
    """Framing of an "m" envelope is 8 bytes for a body under 256 bytes."""
    assert len(encode_envelope(MESSAGE)) == len(HEADER) + len(BODY) + 8


def test_version_rejected() -> None:
    for version in (2, 0, True, 1.0, "1", None):
        with pytest.raises(UnsupportedVersionError):
            decode_envelope(msgpack.packb([version, "m", HEADER, BODY]))


def test_type_rejected() -> None:
    for tag in ("x", "M", "", 1, None, b"m"):
        with pytest.raises(UnknownTypeError):
            decode_envelope(msgpack.packb([1, tag, HEADER, BODY], use_bin_type=True))


@pytest.mark.parametrize(
    "items",
    [
        [1],
        [1, "m", HEADER],
        [1, "m", HEADER, BODY, b""],
        [1, "m", HEADER[:-1], BODY],
        [1, "m", HEADER + b"\x00", BODY],
        [1, "m", HEADER, b"\x00" * 16],
        [1, "m", "text", BODY],
        [1, "m", HEADER, [BODY]],
        [1, "i", b"\x01" * 32, 7, 9, b"\x02" * 48, HEADER],
        [1, "i", b"\x01" * 31, 7, 9, b"\x02" * 48, HEADER, BODY],
        [1, "i", b"\x01" * 32, -1, 9, b"\x02" * 48, HEADER, BODY],
        [1, "i", b"\x01" * 32, 2**32, 9, b"\x02" * 48, HEADER, BODY],
        [1, "i", b"\x01" * 32, 7, True, b"\x02" * 48, HEADER, BODY],
        [1, "i", b"\x01" * 32, 7, 9, b"\x02" * 47, HEADER, BODY],
        [1, "i", b"\x01" * 32, 7, 9, b"\x02" * 48, HEADER, BODY, None],
    ],
)
def test_malformed_rejected(items: list[object]) -> None:
    with pytest.raises(DecodeError):
        decode_envelope(msgpack.packb(items, use_bin_type=True))


def test_not_array_rejected() -> None:
    for value in ({"v": 1}, 1, b"bytes", "m"):
        with pytest.raises(DecodeError):
            decode_envelope(msgpack.packb(value, use_bin_type=True))


def test_trailing_bytes_rejected() -> None:
    with pytest.raises(DecodeError):
        decode_envelope(encode_envelope(MESSAGE) + b"\x00")


def test_size_cap() -> None:
    largest_body = b"\x00" * (MAX_ENVELOPE_SIZE - len(HEADER) - 11)
    data = encode_envelope(MessageEnvelope(HEADER, largest_body))
    assert len(data) == MAX_ENVELOPE_SIZE
    assert decode_envelope(data).body == largest_body
    with pytest.raises(DecodeError):
        decode_envelope(encode_envelope(MessageEnvelope(HEADER, largest_body + b"\x00")))


def test_message_id() -> None:
    data = encode_envelope(MESSAGE)
    assert len(message_id(data)) == 16
    assert message_id(data) == message_id(bytes(data))
    assert message_id(data) != message_id(encode_envelope(INITIAL))
