"""The Indonesian word list that turns bytes into words people can read aloud.

The list (``data/kata.txt``) contains exactly 256 words, so each word carries exactly 8
bits, and word ``i`` of the file encodes the byte value ``i``. Safety codes and short
pairing codes such as ``7-kancil-pelangi`` use it. The words are lowercase ASCII, 4 to 8
letters, and any two differ in at least two letters, start with different four letters
and are not prefixes of each other, so a single misheard or mistyped letter gives an
unknown word instead of a wrong one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

from .errors import DecodeError, WordListError

WORD_COUNT = 256
BITS_PER_WORD = 8
MIN_WORD_LENGTH = 4
MAX_WORD_LENGTH = 8

_WORD_FILE = "kata.txt"
_WORD_SHAPE = re.compile(f"[a-z]{{{MIN_WORD_LENGTH},{MAX_WORD_LENGTH}}}")


# NOTE: local until errors.py gains it. A damaged word list is an installation fault,
# not bad input from a peer.
@functools.cache
def load_words() -> tuple[str, ...]:
    """Load and verify the bundled word list, in file order.

    Raises:
        WordListError: the file is missing or breaks a rule of :func:`parse_words`.
    """
    try:
        package = resources.files(__package__ or "konsel.protocol")
        text = package.joinpath("data", _WORD_FILE).read_text("ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise WordListError(f"cannot read the word list {_WORD_FILE}: {error}") from error
    return parse_words(text)


def parse_words(text: str) -> tuple[str, ...]:
    """Split a word list file into words and verify its count, uniqueness and shape.

    Raises:
        WordListError: the text does not contain exactly 256 distinct words of
            4 to 8 lowercase ASCII letters.
    """
    words = tuple(text.split())
    if len(words) != WORD_COUNT:
        raise WordListError(f"{_WORD_FILE} has {len(words)} words, expected {WORD_COUNT}")
    if len(set(words)) != WORD_COUNT:
        raise WordListError(f"{_WORD_FILE} contains a word twice")

    for position, word in enumerate(words, start=1):
        if _WORD_SHAPE.fullmatch(word) is None:
            raise WordListError(
                f"{_WORD_FILE} word {position} ({word!r}) is not "
                f"{MIN_WORD_LENGTH} to {MAX_WORD_LENGTH} lowercase ASCII letters"
            )
    return words


@functools.cache
def _word_indexes() -> dict[str, int]:
    return {word: index for index, word in enumerate(load_words())}


def bytes_to_words(data: bytes) -> tuple[str, ...]:
    """Encode each byte of ``data`` as one word."""
    words = load_words()
    return tuple(words[byte] for byte in data)


def word_to_byte(word: str, *, field: str = "word") -> int:
    """Return the byte value that ``word`` encodes, ignoring case and surrounding spaces.

    Raises:
        DecodeError: ``word`` is not in the list. The error names ``field``.
    """
    normalized = word.strip().lower()
    index = _word_indexes().get(normalized)
    if index is None:
        raise DecodeError(field, f"{normalized!r} is not in the word list")
    return index


def words_to_bytes(words: Iterable[str]) -> bytes:
    """Decode words typed or heard by a person back into bytes, one byte per word.

    Raises:
        DecodeError: a word is not in the list. The error names its position, such as
            ``words[2]``.
    """
    return bytes(word_to_byte(word, field=f"words[{i}]") for i, word in enumerate(words))
