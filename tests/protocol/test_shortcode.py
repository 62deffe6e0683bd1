"""Tests of konsel.protocol.shortcode: generating, parsing and formatting short codes."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol.errors import InvalidContentError, WordListError
from konsel.protocol.shortcode import (
    MAX_CODE_CHARS,
    MAX_NAMEPLATE,
    MIN_NAMEPLATE,
    ShortCode,
    edit_distance,
    format_code,
    generate_code,
    parse_code,
    suggest_word,
)
from konsel.protocol.shortcode_errors import (
    MalformedCodeError,
    NameplateRangeError,
    UnknownWordError,
)
from konsel.protocol.wordlist import load_words


def counting_bytes(start: int = 0) -> Callable[[int], bytes]:
    """Return a deterministic ``random_bytes`` that yields consecutive byte values."""
    counter = itertools.count(start)

    def random_bytes(size: int) -> bytes:
        return bytes(next(counter) % 256 for _ in range(size))

    return random_bytes


def test_generate_deterministic() -> None:
    code = generate_code(7, random_bytes=counting_bytes(99))
    words = load_words()

    assert code == ShortCode(7, (words[99], words[100]))
    assert format_code(code) == f"7-{words[99]}-{words[100]}"
    assert code.secret_bits == 16


def test_generate_three_words() -> None:
    code = generate_code(999, word_count=3)
    assert len(code.words) == 3
    assert code.secret_bits == 24
    assert parse_code(str(code)) == code


def test_generate_random_nameplate() -> None:
    nameplates = {generate_code().nameplate for _ in range(200)}
    assert all(MIN_NAMEPLATE <= nameplate <= MAX_NAMEPLATE for nameplate in nameplates)
    assert len(nameplates) > 100


def test_generate_nameplate_edges() -> None:
    low = generate_code(random_bytes=lambda size: bytes(size))
    high = generate_code(
        random_bytes=lambda size: b"\x00\x00\x03\xe6"[:size] if size == 4 else bytes(size)
    )
    assert low.nameplate == 1
    assert high.nameplate == 999


@pytest.mark.parametrize("word_count", [0, 1, 4])
def test_generate_word_count_rejected(word_count: int) -> None:
    with pytest.raises(MalformedCodeError):
        generate_code(5, word_count=word_count)


def test_format_parse_round_trip() -> None:
    code = ShortCode(7, ("kancil", "pelangi"))
    assert format_code(code) == "7-kancil-pelangi"
    assert str(code) == "7-kancil-pelangi"
    assert parse_code("7-kancil-pelangi") == code


@pytest.mark.parametrize(
    "typed",
    [
        "7 kancil pelangi",
        "  7   KANCIL - Pelangi  ",
        "7–kancil—pelangi",
        "7_kancil.pelangi",
        "7, kancil, pelangi",
        "007-kancil-pelangi",
        "7-\tkancil\n-pelangi",
        "7\u00a0kancil\u00a0pelangi",
        "-7-kancil-pelangi-",
    ],
)
def test_parse_tolerant(typed: str) -> None:
    assert parse_code(typed) == ShortCode(7, ("kancil", "pelangi"))


@pytest.mark.parametrize(
    ("typed", "word", "suggestion"),
    [
        ("7-kancl-pelangi", "kancl", "kancil"),
        ("7-kancli-pelangi", "kancli", "kancil"),
        ("7-kancil-pelangy", "pelangy", "pelangi"),
        ("7-kancil-pelanggi", "pelanggi", "pelangi"),
        ("7-KANCILL-pelangi", "kancill", "kancil"),
    ],
)
def test_parse_suggests_word(typed: str, word: str, suggestion: str) -> None:
    with pytest.raises(UnknownWordError) as caught:
        parse_code(typed)

    assert caught.value.word == word
    assert caught.value.suggestion == suggestion
    assert caught.value.code == "code_word_suggestion"
    assert repr(suggestion) in str(caught.value)


def test_parse_unknown_word_position() -> None:
    with pytest.raises(UnknownWordError) as caught:
        parse_code("7-kancil-pelangy")
    assert caught.value.position == 1
    assert "word 2" in str(caught.value)


def test_parse_unknown_word_no_suggestion() -> None:
    with pytest.raises(UnknownWordError) as caught:
        parse_code("7-kancil-xyzxyzq")

    assert caught.value.suggestion is None
    assert caught.value.code == "code_word"
    assert isinstance(caught.value, WordListError)


@pytest.mark.parametrize(
    "typed", ["7-kancil", "7", "7-kancil-pelangi-kuda-bakso", "7 kancil pelangi kuda bakso"]
)
def test_parse_wrong_word_count(typed: str) -> None:
    with pytest.raises(MalformedCodeError) as caught:
        parse_code(typed)
    assert caught.value.code == "code_format"
    assert isinstance(caught.value, InvalidContentError)


@pytest.mark.parametrize(
    "typed", ["", "   ", "---", "kancil-pelangi-7", "tujuh-kancil-pelangi", "7a-kancil-pelangi"]
)
def test_parse_missing_number(typed: str) -> None:
    with pytest.raises(MalformedCodeError):
        parse_code(typed)


@pytest.mark.parametrize(
    "typed", ["0-kancil-pelangi", "1000-kancil-pelangi", "99999999-kancil-pelangi"]
)
def test_parse_number_out_of_range(typed: str) -> None:
    with pytest.raises(NameplateRangeError) as caught:
        parse_code(typed)
    assert caught.value.code == "code_number"


def test_parse_number_edges() -> None:
    assert parse_code("1-kancil-pelangi").nameplate == 1
    assert parse_code("999-kancil-pelangi").nameplate == 999


def test_parse_non_ascii_digits() -> None:
    with pytest.raises(MalformedCodeError):
        parse_code("٧-kancil-pelangi")


def test_parse_too_long() -> None:
    with pytest.raises(MalformedCodeError, match="exceeds"):
        parse_code("7-kancil-" + " " * MAX_CODE_CHARS + "pelangi")


@pytest.mark.parametrize(
    ("nameplate", "words", "error"),
    [
        (0, ("kancil", "pelangi"), NameplateRangeError),
        (True, ("kancil", "pelangi"), NameplateRangeError),
        (7, ("kancil",), MalformedCodeError),
        (7, ("Kancil", "pelangi"), MalformedCodeError),
        (7, ("kancil", "pelangi "), MalformedCodeError),
        (7, ("kancil", "bukan"), UnknownWordError),
    ],
)
def test_constructor_rejects(
    nameplate: int, words: tuple[str, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ShortCode(nameplate, words)


@pytest.mark.parametrize(
    ("first", "second", "distance"),
    [
        ("", "", 0),
        ("kancil", "kancil", 0),
        ("kancil", "kancl", 1),
        ("kancil", "kancli", 1),
        ("kancil", "kancilx", 1),
        ("kancil", "xancix", 2),
        ("abc", "", 3),
        ("ca", "abc", 3),
    ],
)
def test_edit_distance(first: str, second: str, distance: int) -> None:
    assert edit_distance(first, second) == distance
    assert edit_distance(second, first) == distance


def test_suggest_every_list_word_one_edit() -> None:
    """A list word with its middle letter dropped, or its first two letters swapped, is suggested back."""
    words = load_words()
    for word in words:
        middle = len(word) // 2
        typos = [word[:middle] + word[middle + 1 :], word[1] + word[0] + word[2:]]
        for typo in typos:
            suggestion = suggest_word(typo)
            if suggestion is None:
                # Allowed only when another list word is just as close.
                closest = min(edit_distance(typo, other) for other in words if other != word)
                assert closest <= 1, typo
            else:
                assert suggestion == word, typo


def test_suggest_too_far() -> None:
    assert suggest_word("qqqqqqqq") is None
    assert suggest_word("k" * 100) is None


codes = st.builds(
    ShortCode,
    nameplate=st.integers(min_value=MIN_NAMEPLATE, max_value=MAX_NAMEPLATE),
    words=st.lists(st.sampled_from(load_words()), min_size=2, max_size=3).map(tuple),
)


@settings(max_examples=200)
@given(codes, st.sampled_from(["-", " ", " - ", "  "]), st.booleans())
def test_round_trip_random(code: ShortCode, separator: str, upper: bool) -> None:
    typed = separator.join([str(code.nameplate), *code.words])
    if upper:
        typed = typed.upper()
    assert parse_code(typed) == code
    assert parse_code(format_code(code)) == code
