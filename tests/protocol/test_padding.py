"""Tests for konsel.protocol.padding: Padmé sizes, round trips and strict unpadding."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol.errors import DecodeError
from konsel.protocol.padding import pad, padme, unpad


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (2, 2), (7, 7), (8, 8), (9, 10), (61, 64), (100, 104), (257, 272), (1000, 1024)],
)
def test_padme_known_sizes(length: int, expected: int) -> None:
    assert padme(length) == expected


def test_padme_rejects_zero() -> None:
    with pytest.raises(ValueError):
        padme(0)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**7))
def test_padme_bounds(length: int) -> None:
    padded = padme(length)
    assert padded >= length
    assert padme(padded) == padded


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=256, max_value=10**7))
def test_padme_overhead_large(length: int) -> None:
    overhead = padme(length + 1) - length
    assert overhead / length <= 0.12


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_pad_round_trip(plaintext: bytes) -> None:
    padded = pad(plaintext)
    assert len(padded) == padme(len(plaintext) + 1)
    assert unpad(padded) == plaintext


def test_pad_trailing_zeros_kept() -> None:
    plaintext = b"abc\x00\x00\x80\x00"
    assert unpad(pad(plaintext)) == plaintext


@pytest.mark.parametrize(
    "padded",
    [
        b"",
        b"\x00" * 8,
        b"abc",
        b"abcdefg\x81",
        b"abcdefgh\x80\x00\x00",
        b"abcdefghi\x80" + b"\x00" * 6,
        b"abc\x80\x01\x00\x00",
    ],
)
def test_unpad_rejects_malformed(padded: bytes) -> None:
    with pytest.raises(DecodeError):
        unpad(padded)
