"""Tests of konsel.protocol.wordlist and the rules that the word list file must follow."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konsel.protocol.errors import DecodeError
from konsel.protocol.wordlist import (
    BITS_PER_WORD,
    WORD_COUNT,
    WordListError,
    bytes_to_words,
    load_words,
    parse_words,
    word_to_byte,
    words_to_bytes,
)

# Pairs of consonants that differ only in voicing, and digraphs that are one sound. Over a
# phone line these are easy to confuse, so no two words may differ only by one of them.
VOICING_PAIRS = str.maketrans("bdgjvz", "ptkcfs")


def within_one_edit(first: str, second: str) -> bool:
    """Return whether the Levenshtein distance of the two words is at most 1."""
    if abs(len(first) - len(second)) > 1:
        return False
    if len(first) > len(second):
        first, second = second, first

    i = j = edits = 0
    while i < len(first) and j < len(second):
        if first[i] == second[j]:
            i += 1
            j += 1
            continue
        edits += 1
        if edits > 1:
            return False
        if len(first) == len(second):
            i += 1
        j += 1
    return edits + (len(second) - j) <= 1


def sound_key(word: str) -> str:
    """Spell a word with voiced and unvoiced consonants merged, and ng, ny as one letter."""
    return word.replace("ng", "N").replace("ny", "Y").translate(VOICING_PAIRS)


def word_pairs() -> list[tuple[str, str]]:
    return list(itertools.combinations(load_words(), 2))


def test_within_one_edit_helper() -> None:
    """The distance helper matches hand-computed Levenshtein distances."""
    assert within_one_edit("kucing", "kucing")
    assert within_one_edit("kucing", "kuning")
    assert within_one_edit("apel", "apelx")
    assert within_one_edit("xapel", "apel")
    assert within_one_edit("sapi", "sap")
    assert not within_one_edit("kucing", "kuning_")
    assert not within_one_edit("sapi", "tapir")
    assert not within_one_edit("kapal", "kapur")
    assert not within_one_edit("ab", "ba")


def test_words_count_and_bits() -> None:
    words = load_words()

    assert len(words) == WORD_COUNT == 2**BITS_PER_WORD
    assert len(set(words)) == WORD_COUNT


def test_words_shape() -> None:
    for word in load_words():
        assert re.fullmatch(r"[a-z]{4,8}", word), word


def test_words_file_sorted_one_per_line() -> None:
    """The file is sorted, one word per line, so a reviewer can check it by eye."""
    text = resources.files("konsel.protocol").joinpath("data", "kata.txt").read_text("ascii")
    lines = text.split("\n")

    assert lines[-1] == "", "file must end with one newline"
    assert lines[:-1] == sorted(lines[:-1])
    assert tuple(lines[:-1]) == load_words()


def test_words_edit_distance_at_least_two() -> None:
    close = [(a, b) for a, b in word_pairs() if within_one_edit(a, b)]

    assert close == []


def test_words_distinct_first_four_letters() -> None:
    prefixes: dict[str, str] = {}
    for word in load_words():
        assert word[:4] not in prefixes, f"{word} and {prefixes[word[:4]]}"
        prefixes[word[:4]] = word


def test_words_no_prefix_of_another() -> None:
    prefixed = [(a, b) for a, b in word_pairs() if a.startswith(b) or b.startswith(a)]

    assert prefixed == []


def test_words_no_voicing_confusion() -> None:
    """No two words differ by one edit once b/p, d/t, g/k, j/c, v/f and z/s are merged."""
    close = [(a, b) for a, b in word_pairs() if within_one_edit(sound_key(a), sound_key(b))]

    assert close == []


def test_bytes_words_known_answer() -> None:
    """The file order fixes the encoding: byte 0 is the first word, byte 255 the last."""
    assert bytes_to_words(b"\x00\x01\xfe\xff") == ("alpukat", "amplop", "yoyo", "zebra")
    assert words_to_bytes(["alpukat", "zebra"]) == b"\x00\xff"


def test_bytes_words_every_byte() -> None:
    every_byte = bytes(range(256))
    words = bytes_to_words(every_byte)

    assert words == load_words()
    assert words_to_bytes(words) == every_byte


@given(st.binary(max_size=64))
def test_bytes_words_round_trip(data: bytes) -> None:
    words = bytes_to_words(data)

    assert len(words) == len(data)
    assert words_to_bytes(words) == data


def test_word_to_byte_normalizes() -> None:
    assert word_to_byte("  Kancil ") == word_to_byte("kancil")
    assert word_to_byte("PELANGI") == load_words().index("pelangi")


@pytest.mark.parametrize(
    "word", ["kancill", "kanci", "", "kambing", "kancil-pelangi", "ｋａｎｃｉｌ"]
)
def test_word_to_byte_unknown(word: str) -> None:
    with pytest.raises(DecodeError, match="not in the word list") as caught:
        word_to_byte(word)

    assert caught.value.field == "word"


def test_words_to_bytes_names_position() -> None:
    with pytest.raises(DecodeError) as caught:
        words_to_bytes(["kancil", "pelangi", "kancl"])

    assert caught.value.field == "words[2]"
    assert "'kancl'" in caught.value.reason


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda words: words[:-1], "has 255 words"),
        (lambda words: [*words, "zzzzzz"], "has 257 words"),
        (lambda words: [*words[:-1], words[0]], "contains a word twice"),
        (lambda words: [*words[:-1], "Zebra"], "word 256 ('Zebra')"),
        (lambda words: [*words[:-1], "zeb"], "word 256 ('zeb')"),
        (lambda words: [*words[:-1], "zebrazebr"], "word 256"),
        (lambda words: [*words[:-1], "kelapa2"], "word 256"),
    ],
)
def test_parse_words_damaged(edit: Callable[[list[str]], list[str]], reason: str) -> None:
    words = edit(list(load_words()))

    with pytest.raises(WordListError, match=re.escape(reason)):
        parse_words("\n".join(words) + "\n")


def test_parse_words_accepts_bundled_text() -> None:
    text = "\n".join(load_words()) + "\n"

    assert parse_words(text) == load_words()
