"""Load the risk cue phrases and find them in a message.

``risk-cues.toml`` lists phrases that highlight a message and suggest the risk card to the
guru BK, in groups such as thoughts of self-harm. Its spelling table maps informal words to
standard words before matching. Matching compares whole words after :func:`split_words`
has normalized accents, digits used as letters and repeated letters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .content_reader import TomlTable, check_format, check_unique, open_document
from .kopasta import LocalizedText

RISK_CUES_FILE = "risk-cues.toml"

_LETTER_FOR_DIGIT = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "6": "g",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
    }
)
_RAW_WORD = re.compile(r"[a-z0-9@$]+")
_LETTER = re.compile(r"[a-z]")
_REPEATED_CHARACTER = re.compile(r"(.)\1+")
MIN_PHRASE_LETTERS = 3


def split_words(text: str) -> list[str]:
    """Split ``text`` into normalized words for risk cue matching.

    The steps: drop accents and zero-width characters, casefold, split on anything but
    ASCII letters, digits, ``@`` and ``$``. In a word that has a letter, a final ``2``
    repeats the word (Indonesian reduplication, "teman2"), other digits and ``@$`` become
    the letters they stand for ("m4t1" is "mati"), and a run of one character counts once.
    Words without a letter, such as "112", stay as they are.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf")).casefold()

    words: list[str] = []
    for raw in _RAW_WORD.findall(plain):
        if not _LETTER.search(raw):
            words.append(raw)
            continue

        repeated = raw.endswith("2")
        stem = raw[:-1] if repeated else raw
        word = _REPEATED_CHARACTER.sub(r"\1", stem.translate(_LETTER_FOR_DIGIT))
        words.extend((word, word) if repeated else (word,))
    return words


@dataclass(frozen=True)
class RiskCueGroup:
    """A named group of risk cue phrases, such as thoughts of self-harm."""

    key: str
    label: LocalizedText
    phrases: tuple[str, ...]
    """Phrases as the file writes them, which :meth:`RiskCues.match` returns."""


@dataclass(frozen=True)
class RiskCues:
    """The risk cue phrases and the informal spellings folded into standard words."""

    groups: tuple[RiskCueGroup, ...]
    spelling: Mapping[str, tuple[str, ...]]
    """Each informal word mapped to the standard word or words it replaces."""
    _index: dict[str, list[tuple[tuple[str, ...], str]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Index the normalized phrases by their first word, so matching a message costs
        # one lookup per word instead of one comparison per phrase.
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for group in self.groups:
            for phrase in group.phrases:
                words = self.normalize(phrase)
                index.setdefault(words[0], []).append((words, phrase))
        object.__setattr__(self, "_index", index)

    def normalize(self, text: str) -> tuple[str, ...]:
        """Return the words of ``text`` after :func:`split_words` and the spelling table."""
        words: list[str] = []
        for word in split_words(text):
            words.extend(self.spelling.get(word, (word,)))
        return tuple(words)

    def match(self, text: str) -> list[str]:
        """Return the phrases that occur in ``text`` as whole words, in order of first occurrence.

        A match is a hint for the guru BK to look at the message, not a judgement.
        """
        words = self.normalize(text)

        found: list[str] = []
        for start, word in enumerate(words):
            for phrase_words, phrase in self._index.get(word, ()):
                end = start + len(phrase_words)
                if words[start:end] == phrase_words and phrase not in found:
                    found.append(phrase)
        return found

    def group_of(self, phrase: str) -> RiskCueGroup:
        """Return the group that lists ``phrase``.

        Raises:
            KeyError: no group lists it.
        """
        for group in self.groups:
            if phrase in group.phrases:
                return group
        raise KeyError(f"no risk cue group lists {phrase!r}")


def load_risk_cues(override: Path | None = None) -> RiskCues:
    """Load the risk cue phrases and spellings from ``override``, or the packaged default.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid, or two phrases are
            the same after normalization.
    """
    document, file = open_document(RISK_CUES_FILE, override)
    root = TomlTable(document, file, "")
    check_format(root)

    spelling = _read_spelling(root)
    group_tables = [entry.keyed() for entry in root.tables("group")]
    groups = tuple(
        RiskCueGroup(entry.identifier(), entry.text("label"), tuple(entry.strings("phrases")))
        for entry in group_tables
    )
    check_unique(group_tables, [group.key for group in groups])
    for entry in group_tables:
        entry.finish()
    root.finish()

    cues = RiskCues(groups=(), spelling=spelling)
    first_seen: dict[tuple[str, ...], str] = {}
    for entry, group in zip(group_tables, groups, strict=True):
        for number, phrase in enumerate(group.phrases, start=1):
            words = cues.normalize(phrase)
            if sum(len(_LETTER.findall(word)) for word in words) < MIN_PHRASE_LETTERS:
                entry.fail(
                    f"phrases[{number}]",
                    f"phrase {phrase!r} is too short to match safely; give at least {MIN_PHRASE_LETTERS} letters",
                )
            if words in first_seen:
                entry.fail(
                    f"phrases[{number}]",
                    f"phrase {phrase!r} is the same as {first_seen[words]!r} after normalization; remove one",
                )
            first_seen[words] = phrase

    return RiskCues(groups=groups, spelling=spelling)


def _read_spelling(root: TomlTable) -> dict[str, tuple[str, ...]]:
    """Read the [[spelling]] entries into a map from informal word to standard words."""
    if root.get("spelling") is None:
        return {}

    spelling: dict[str, tuple[str, ...]] = {}
    standards: list[tuple[TomlTable, tuple[str, ...]]] = []
    for entry in root.tables("spelling"):
        standard = tuple(split_words(entry.string("standard")))
        if not standard:
            entry.fail("standard", "has no letters or digits; write the standard word")
        standards.append((entry, standard))

        for number, variant in enumerate(entry.strings("variants"), start=1):
            words = split_words(variant)
            if len(words) != 1:
                entry.fail(f"variants[{number}]", f"variant {variant!r} must be one word")
            if words[0] in spelling or (words[0],) == standard:
                entry.fail(
                    f"variants[{number}]",
                    f"variant {variant!r} is listed twice or equals its standard word; remove it",
                )
            spelling[words[0]] = standard
        entry.finish()

    # One pass of replacement only, so a standard word must not itself be a variant.
    for entry, standard in standards:
        for word in standard:
            if word in spelling:
                entry.fail(
                    "standard",
                    f"{word!r} is a variant of {' '.join(spelling[word])!r}; write that word instead",
                )
    return spelling


@functools.cache
def _packaged_risk_cues() -> RiskCues:
    return load_risk_cues()


def match_risk_cues(text: str, cues: RiskCues | None = None) -> list[str]:
    """Return the risk cue phrases found in ``text``, using the packaged list unless ``cues`` is given.

    Pass the school's list, from :func:`.content_files.load_content`, when it has one.
    """
    if cues is None:
        cues = _packaged_risk_cues()
    return cues.match(text)
