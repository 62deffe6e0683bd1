"""Tests for konsel.protocol.envelope: encoding, strict decoding and message ids."""

from collections.abc import Callable

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol import envelope
from konsel.protocol.envelope import (
    MAX_ENVELOPE_SIZE,
    Envelope,
    InitialEnvelope,
    MessageEnvelope,
    decode_envelope,
    encode_envelope,
    encode_message_envelope,
    message_id,
    split_message_envelope,
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


def outcome(decoder: Callable[[bytes], Envelope], data: bytes) -> object:
    """Return what ``decoder`` returns, or the type and text of the error it raises."""
    try:
        return decoder(data)
    except DecodeError as error:
        return (type(error), str(error))


def assert_same_as_strict(data: bytes) -> None:
    expected = outcome(envelope._decode_envelope_strict, data)
    assert outcome(decode_envelope, data) == expected
    split = split_message_envelope(data)
    if split is not None:
        assert expected == MessageEnvelope(*split)


def bin_item(value: bytes, marker: int) -> bytes:
    """Encode a bin item with the given format byte (0xc4, 0xc5 or 0xc6), minimal or not."""
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}[marker]
    return bytes([marker]) + len(value).to_bytes(width, "big") + value


BODY_SIZES = [0, 1, 16, 17, 33, 255, 256, 65535, 65536, 70000]


@pytest.mark.parametrize("size", BODY_SIZES)
def test_message_encoding_matches_msgpack(size: int) -> None:
    body = bytes(index % 251 for index in range(size))
    for header in (HEADER, b"", HEADER[:63], HEADER * 5):
        expected = msgpack.packb([1, "m", header, body], use_bin_type=True)
        assert encode_message_envelope(header, body) == expected
        assert encode_envelope(MessageEnvelope(header, body)) == expected


@pytest.mark.parametrize("size", BODY_SIZES)
def test_fast_decode_body_formats(size: int) -> None:
    """Every bin format of the body, minimal or not, decodes as the strict decoder does."""
    body = bytes(index % 251 for index in range(size))
    for marker in (0xC4, 0xC5, 0xC6):
        if size > {0xC4: 0xFF, 0xC5: 0xFFFF, 0xC6: 2**32 - 1}[marker]:
            continue
        data = b"\x94\x01\xa1m" + bin_item(HEADER, 0xC4) + bin_item(body, marker)
        assert_same_as_strict(data)
        if size >= 17:
            assert split_message_envelope(data) == (HEADER, body)


def test_fast_decode_hostile() -> None:
    """Truncations, extensions and every changed byte give the strict decoder's outcome."""
    data = encode_message_envelope(HEADER, BODY)
    cases = [data[:length] for length in range(len(data) + 1)]
    cases += [data + extra for extra in (b"\x00", b"\xc0", data)]
    for index in range(len(data)):
        for value in (0x00, 0x01, 0x7F, 0x80, 0xC4, 0xC5, 0xC6, 0xFF, data[index] ^ 0x01):
            cases.append(data[:index] + bytes([value]) + data[index + 1 :])
    for case in cases:
        assert_same_as_strict(case)


def test_fast_decode_length_fields() -> None:
    """Declared body lengths that disagree with the input size fall back to the strict decoder."""
    head = b"\x94\x01\xa1m" + bin_item(HEADER, 0xC4)
    for marker, width in ((0xC4, 1), (0xC5, 2), (0xC6, 4)):
        for declared in (0, 16, 17, 32, 33, 34, 2 ** (8 * width) - 1):
            data = head + bytes([marker]) + declared.to_bytes(width, "big") + BODY
            assert_same_as_strict(data)


def test_fast_decode_other_inputs() -> None:
    data = encode_message_envelope(HEADER, BODY)
    for other in (bytearray(data), memoryview(data)):
        assert split_message_envelope(other) is None  # type: ignore[arg-type]
        assert decode_envelope(other) == MESSAGE  # type: ignore[arg-type]
    assert split_message_envelope(encode_envelope(INITIAL)) is None
    assert_same_as_strict(encode_envelope(INITIAL))
    assert_same_as_strict(b"")


def test_fast_decode_size_cap() -> None:
    largest_body = b"\x00" * (MAX_ENVELOPE_SIZE - len(HEADER) - 11)
    data = encode_message_envelope(HEADER, largest_body)
    assert split_message_envelope(data) == (HEADER, largest_body)
    too_large = encode_message_envelope(HEADER, largest_body + b"\x00")
    assert split_message_envelope(too_large) is None
    assert_same_as_strict(too_large)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.integers(0, 160), st.binary(max_size=4))
def test_fast_decode_random(body: bytes, position: int, inserted: bytes) -> None:
    data = encode_message_envelope(HEADER, body)
    assert_same_as_strict(data)
    assert_same_as_strict(data[:position] + inserted + data[position + len(inserted) :])
    assert_same_as_strict(data[:position] + inserted + data[position:])
