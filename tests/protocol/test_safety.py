"""Tests of konsel.protocol.safety: agreement, sensitivity to each key and the spec."""

from __future__ import annotations

import hashlib
import math

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol.safety import (
    PERSON_SAFETY_CODE,
    SAFETY_CODE_ITERATIONS,
    SafetyCode,
    safety_code,
)
from konsel.protocol.wordlist import load_words

KEY_A = bytes(32)
KEY_B = b"\x01" * 32

# Each safety code costs 65,536 BLAKE2b calls, so property tests draw few examples.
FEW_EXAMPLES = settings(max_examples=15, deadline=None)

keys = st.binary(min_size=32, max_size=32)


def spec_safety_code(key_a: bytes, key_b: bytes) -> tuple[list[str], list[str]]:
    """Compute a safety code straight from the construction in the module docstring."""
    low, high = sorted((key_a, key_b))
    digest = hashlib.blake2b(b"\x01" + low + high, person=b"konsel/v1 safety").digest()
    for _ in range(65_536 - 1):
        digest = hashlib.blake2b(digest + low + high, person=b"konsel/v1 safety").digest()

    groups = [f"{int.from_bytes(digest[i : i + 5], 'big') % 100_000:05d}" for i in range(0, 30, 5)]
    words = [load_words()[byte] for byte in digest[30:38]]
    return groups, words


def test_safety_code_known_answer() -> None:
    """Pins the version 1 output, so a change to the construction cannot go unnoticed."""
    code = safety_code(KEY_A, KEY_B)

    assert code.digits_text() == "55741 77622 74853 67967 04718 57838"
    assert code.words_text() == "dahlia spidol mutiara yoyo nuri kerang gambar palem"


def test_safety_code_matches_spec() -> None:
    signing_a = nacl.signing.SigningKey(b"\x11" * 32).verify_key.encode()
    signing_b = nacl.signing.SigningKey(b"\x22" * 32).verify_key.encode()
    groups, words = spec_safety_code(signing_a, signing_b)

    code = safety_code(signing_a, signing_b)

    assert list(code.digit_groups) == groups
    assert list(code.words) == words


def test_safety_code_constants() -> None:
    assert PERSON_SAFETY_CODE == b"konsel/v1 safety"
    assert len(PERSON_SAFETY_CODE) <= hashlib.blake2b.PERSON_SIZE
    assert SAFETY_CODE_ITERATIONS == 65_536


def test_safety_code_shape() -> None:
    code = safety_code(KEY_A, KEY_B)

    assert len(code.digit_groups) == 6
    assert all(len(group) == 5 and group.isdigit() for group in code.digit_groups)
    assert len(code.words) == 8
    assert set(code.words) <= set(load_words())
    assert code.digits_text().count(" ") == 5


def test_safety_code_bits_carried() -> None:
    """Six groups of five digits carry about 99.7 bits, eight words exactly 64."""
    assert 6 * math.log2(100_000) == pytest.approx(99.66, abs=0.01)
    assert 8 * math.log2(len(load_words())) == 64


@FEW_EXAMPLES
@given(keys, keys)
def test_safety_code_order_independent(key_a: bytes, key_b: bytes) -> None:
    if key_a == key_b:
        return

    assert safety_code(key_a, key_b) == safety_code(key_b, key_a)


def test_safety_code_both_sides_agree() -> None:
    """Two people with real Ed25519 keys compute the same code on their own devices."""
    counselor = nacl.signing.SigningKey.generate().verify_key.encode()
    student = nacl.signing.SigningKey.generate().verify_key.encode()

    on_counselor_device = safety_code(counselor, student)
    on_student_device = safety_code(student, counselor)

    assert on_counselor_device == on_student_device


@FEW_EXAMPLES
@given(keys, keys, st.integers(0, 255), st.booleans())
def test_safety_code_changes_with_either_key(
    key_a: bytes, key_b: bytes, bit: int, flip_first: bool
) -> None:
    if key_a == key_b:
        return
    original = safety_code(key_a, key_b)

    flipped = bytearray(key_a if flip_first else key_b)
    flipped[bit // 8] ^= 1 << (bit % 8)
    other = key_b if flip_first else key_a
    if bytes(flipped) == other:
        return
    changed = safety_code(bytes(flipped), other)

    assert changed.digit_groups != original.digit_groups
    assert changed.words != original.words


def test_safety_code_substituted_key_detected() -> None:
    """A man in the middle who swaps one key makes the two screens differ."""
    alice = nacl.signing.SigningKey(b"\x01" * 32).verify_key.encode()
    bob = nacl.signing.SigningKey(b"\x02" * 32).verify_key.encode()
    mallory = nacl.signing.SigningKey(b"\x03" * 32).verify_key.encode()

    alice_sees = safety_code(alice, mallory)
    bob_sees = safety_code(mallory, bob)

    assert alice_sees.digits_text() != bob_sees.digits_text()
    assert alice_sees.words_text() != bob_sees.words_text()


@pytest.mark.parametrize(
    ("key_a", "key_b", "message"),
    [
        (bytes(31), KEY_B, "key_a must be 32 bytes"),
        (KEY_A, bytes(33), "key_b must be 32 bytes"),
        (KEY_A, b"", "key_b must be 32 bytes"),
        ("0" * 32, KEY_B, "key_a must be 32 bytes"),
        (KEY_A, KEY_A, "both identity keys are the same"),
    ],
)
def test_safety_code_invalid_keys(key_a: bytes, key_b: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        safety_code(key_a, key_b)


def test_safety_code_text_forms() -> None:
    code = SafetyCode(digit_groups=("00001", "12345"), words=("kancil", "pelangi"))

    assert code.digits_text() == "00001 12345"
    assert code.words_text() == "kancil pelangi"
