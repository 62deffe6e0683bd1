"""Short pairing codes such as ``7-kancil-pelangi`` that people can read aloud and type.

A code is a nameplate (a number from 1 to 999) followed by two or three words from the
Indonesian word list. The nameplate is public: the relay uses it to bring the two clients
to the same rendezvous. The words are the secret: each carries 8 bits, so two words give
16 bits and three words 24 bits, and the SPAKE2 exchange in
:mod:`konsel.protocol.shortcode_exchange` lets an attacker test only one guess per
nameplate.

Parsing is tolerant of how people type: case, extra spaces, and spaces, dashes,
underscores, dots or commas in place of hyphens. A word that is not in the list raises
:class:`UnknownWordError`, which names the word and suggests the list word within two
edits of it, if exactly one list word is closest.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .errors import KonselError
from .shortcode_errors import (
    MalformedCodeError,
    NameplateRangeError,
    UnknownWordError,
)
from .wordlist import bytes_to_words, load_words, word_to_byte

MIN_NAMEPLATE = 1
MAX_NAMEPLATE = 999
MIN_WORDS = 2
MAX_WORDS = 3
DEFAULT_WORDS = 2

MAX_SUGGESTION_DISTANCE = 2
"""Largest edit distance at which :class:`UnknownWordError` suggests a list word."""

MAX_CODE_CHARS = 128
"""Maximum length of the text that :func:`parse_code` reads. A real code has at most 30 characters."""

_MAX_TYPED_WORD_CHARS = 32

# Hyphens, spaces and what phones and word processors turn them into: en and em dashes,
# non-breaking spaces, and a dot or comma a user may type between words.
_SEPARATORS = re.compile(r"[\s\-_.,\u2010-\u2015]+")
_DIGITS = re.compile("[0-9]+")


@dataclass(frozen=True)
class ShortCode:
    """A parsed short code: the nameplate and the secret words.

    Raises:
        NameplateRangeError: ``nameplate`` is outside 1..999.
        MalformedCodeError: there are not two or three words.
        UnknownWordError: a word is not in the word list.
    """

    nameplate: int
    """Public rendezvous number, 1 to 999."""

    words: tuple[str, ...]
    """Two or three lowercase words from the word list: the secret part."""

    def __post_init__(self) -> None:
        _check_nameplate(self.nameplate)
        if not MIN_WORDS <= len(self.words) <= MAX_WORDS:
            raise MalformedCodeError(
                "code", f"{len(self.words)} words, expected {MIN_WORDS} to {MAX_WORDS}"
            )
        for position, word in enumerate(self.words):
            _check_word(word, position)

    def __str__(self) -> str:
        return format_code(self)

    @property
    def secret_bits(self) -> int:
        """Number of secret bits in the words: 8 per word."""
        return 8 * len(self.words)


def generate_code(
    nameplate: int | None = None,
    *,
    word_count: int = DEFAULT_WORDS,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> ShortCode:
    """Generate a code with random words.

    Args:
        nameplate: the number the relay assigned, or ``None`` to pick one at random.
        word_count: two or three words.
        random_bytes: source of randomness, ``secrets.token_bytes`` unless a test
            passes a deterministic one.
    """
    if not MIN_WORDS <= word_count <= MAX_WORDS:
        raise MalformedCodeError(
            "word_count", f"{word_count} words, expected {MIN_WORDS} to {MAX_WORDS}"
        )
    if nameplate is None:
        # The nameplate is public, so the bias of 4 random bytes modulo 999 (below
        # 2^-22) does not matter.
        nameplate = MIN_NAMEPLATE + int.from_bytes(random_bytes(4), "big") % MAX_NAMEPLATE

    words = bytes_to_words(random_bytes(word_count))
    return ShortCode(nameplate, words)


def format_code(code: ShortCode) -> str:
    """Format a code as people write it: ``7-kancil-pelangi``."""
    return "-".join([str(code.nameplate), *code.words])


def parse_code(text: str) -> ShortCode:
    """Parse a code as a user typed it.

    Raises:
        MalformedCodeError: the text is empty, too long, lacks the leading number, or
            has too few or too many words.
        NameplateRangeError: the number is outside 1..999.
        UnknownWordError: a word is not in the list. The error suggests the closest
            list word when exactly one is within two edits.
    """
    if not isinstance(text, str):
        raise MalformedCodeError("code", f"expected str, got {type(text).__name__}")
    if len(text) > MAX_CODE_CHARS:
        raise MalformedCodeError(
            "code", f"{len(text)} characters exceeds the limit of {MAX_CODE_CHARS}"
        )

    parts = [part for part in _SEPARATORS.split(text.strip().lower()) if part]
    if not parts:
        raise MalformedCodeError("code", "code is empty")
    if _DIGITS.fullmatch(parts[0]) is None:
        raise MalformedCodeError("code", f"code must start with a number, not {parts[0]!r}")

    nameplate = int(parts[0])
    _check_nameplate(nameplate)

    words = tuple(parts[1:])
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        raise MalformedCodeError("code", f"{len(words)} words, expected {MIN_WORDS} to {MAX_WORDS}")
    return ShortCode(nameplate, words)


def suggest_word(typed: str) -> str | None:
    """Return the list word closest to ``typed``, if it is unique and within two edits.

    Distance is the optimal string alignment distance: inserting, deleting or changing a
    letter, or swapping two neighbouring letters, each count as one edit.
    """
    typed = typed.lower()
    if len(typed) > _MAX_TYPED_WORD_CHARS:
        return None

    best_distance = MAX_SUGGESTION_DISTANCE + 1
    best_words: list[str] = []
    for word in load_words():
        # The distance is at least the difference in length, so skip words that are too
        # short or too long to come within the limit.
        if abs(len(word) - len(typed)) > MAX_SUGGESTION_DISTANCE:
            continue
        distance = edit_distance(typed, word)
        if distance < best_distance:
            best_distance = distance
            best_words = [word]
        elif distance == best_distance:
            best_words.append(word)

    # Two equally close words would make any suggestion a coin toss.
    return best_words[0] if len(best_words) == 1 else None


def edit_distance(first: str, second: str) -> int:
    """Return the optimal string alignment distance between two strings."""
    rows = len(first) + 1
    columns = len(second) + 1
    table = [[0] * columns for _ in range(rows)]
    for i in range(rows):
        table[i][0] = i
    for j in range(columns):
        table[0][j] = j

    for i in range(1, rows):
        for j in range(1, columns):
            cost = 0 if first[i - 1] == second[j - 1] else 1
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + cost,
            )
            swapped = (
                i > 1 and j > 1 and first[i - 1] == second[j - 2] and first[i - 2] == second[j - 1]
            )
            if swapped:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[rows - 1][columns - 1]


def _check_nameplate(nameplate: object) -> None:
    if isinstance(nameplate, bool) or not isinstance(nameplate, int):
        raise NameplateRangeError("nameplate", f"expected int, got {type(nameplate).__name__}")
    if not MIN_NAMEPLATE <= nameplate <= MAX_NAMEPLATE:
        raise NameplateRangeError(
            "nameplate", f"{nameplate} is outside {MIN_NAMEPLATE}..{MAX_NAMEPLATE}"
        )


def _check_word(word: object, position: int) -> None:
    if not isinstance(word, str):
        raise MalformedCodeError(f"words[{position}]", f"expected str, got {type(word).__name__}")
    try:
        word_to_byte(word)
    except KonselError:
        raise UnknownWordError(word.lower(), position, suggest_word(word)) from None
    if word != word.strip().lower():
        # Only the canonical spelling may live in a ShortCode, because the words are the
        # SPAKE2 password and both sides must feed it the same bytes.
        raise MalformedCodeError(f"words[{position}]", f"{word!r} is not lowercase")
