"""Read a content file and walk its TOML tables with checks that name the bad key.

A file a school edits is never trusted: every loader checks the whole file and raises
:class:`ContentFileError` naming the file, the key path and what to fix. Key paths count
array entries from 1 and name an entry by its ``key`` once that is known, for example
``penjajagan.field[risk_level].label.en``. The loaders of each file build on
:func:`open_document` and :class:`TomlTable`.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NoReturn

from .kopasta import LocalizedText

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_CHARS = 2000
MAX_ENTRIES = 300

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")

# The national suicide line 500-454 closed in 2014. A list that still shows it sends a
# pupil in crisis to a dead number, so every content file that contains it is rejected.
CLOSED_LINE_PATTERN = re.compile(r"500\D{0,3}454")

# Characters that could rewrite the terminal or reorder text on screen. Newline and tab
# are the only control characters a text may contain.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ContentFileError(Exception):
    """A content file that is missing, unreadable or invalid.

    Attributes:
        file: the override path, or the packaged file's name.
        key_path: dotted path of the bad value, empty when the whole file is at fault.
        problem: what is wrong and what to change.
    """

    # NOTE: kept out of client/core/errors.py, whose tree covers the local store only.
    code = "content_file_invalid"

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        self.file = file
        self.key_path = key_path
        self.problem = problem
        where = f"{file}, key {key_path}" if key_path else file
        super().__init__(f"invalid content file {where}: {problem}")


def open_document(name: str, override: Path | None) -> tuple[dict[str, Any], str]:
    """Read the override file if given, else the packaged default, and return it with its label."""
    if override is not None:
        return _read_document(override, str(override)), str(override)

    resource = importlib.resources.files("konsel.client").joinpath("data", name)
    label = f"{name} (packaged default)"
    return _read_document(resource, label), label


def _read_document(source: Traversable | Path, label: str) -> dict[str, Any]:
    """Parse one TOML file of at most MAX_FILE_BYTES."""
    try:
        with source.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ContentFileError(label, "", "file not found; check the path") from None
    except OSError as error:
        raise ContentFileError(
            label, "", f"cannot be read ({error.strerror}); check its permissions"
        ) from None

    if len(data) > MAX_FILE_BYTES:
        raise ContentFileError(label, "", f"larger than {MAX_FILE_BYTES} bytes; shorten it")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContentFileError(
            label, "", f"not valid UTF-8 at byte {error.start}; save the file as UTF-8"
        ) from None

    closed_line = CLOSED_LINE_PATTERN.search(text)
    if closed_line is not None:
        line = text.count("\n", 0, closed_line.start()) + 1
        raise ContentFileError(
            label, "", f"line {line} lists the suicide line that closed in 2014; remove it"
        )

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ContentFileError(label, "", f"invalid TOML: {error}; fix the syntax there") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ContentFileError(
            label, "", "arrays or tables are nested too deeply; flatten them"
        ) from None


class TomlTable:
    """One TOML table being read, which remembers its file and key path for errors."""

    def __init__(self, data: Mapping[str, Any], file: str, path: str) -> None:
        self.data = data
        self.file = file
        self.path = path
        self._known: set[str] = set()

    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise ContentFileError for ``key`` of this table."""
        raise ContentFileError(self.file, self.join(key), problem)

    def join(self, key: str) -> str:
        """Return the key path of ``key`` inside this table."""
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def get(self, key: str) -> Any:
        """Return the raw value of ``key``, or None when it is absent."""
        self._known.add(key)
        return self.data.get(key)

    def require(self, key: str, expected: type, description: str) -> Any:
        """Return the value of ``key`` after checking that it is present and of ``expected`` type."""
        value = self.get(key)
        if value is None:
            self.fail(key, f"missing; add {description}")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            self.fail(key, f"expected {description}, found {type(value).__name__}")
        return value

    def string(self, key: str) -> str:
        value: str = self.require(key, str, "a text in double quotes")
        _check_text(value, self, key)
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.get(key) is not None else None

    def identifier(self, key: str = "key") -> str:
        value = self.string(key)
        if not KEY_PATTERN.fullmatch(value):
            self.fail(key, f"invalid key {value!r}; use 1-40 lowercase letters, digits or _")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if self.get(key) is None:
            return default
        value: bool = self.require(key, bool, "true or false")
        return value

    def text(self, key: str) -> LocalizedText:
        """Read ``key`` as a table with an Indonesian (id) and an English (en) text."""
        table = self.table(key)
        text = table.own_text()
        table.finish()
        return text

    def own_text(self) -> LocalizedText:
        """Read this table's own ``id`` and ``en`` texts."""
        return LocalizedText(id=self.string("id"), en=self.string("en"))

    def table(self, key: str) -> TomlTable:
        value = self.require(key, dict, "a table")
        return TomlTable(value, self.file, self.join(key))

    def tables(self, key: str) -> list[TomlTable]:
        """Read ``key`` as a non-empty array of tables."""
        entries = self.require(key, list, f"a list of [[{key}]] tables")
        if not 1 <= len(entries) <= MAX_ENTRIES:
            self.fail(key, f"has {len(entries)} entries; give 1 to {MAX_ENTRIES}")

        tables = []
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict):
                self.fail(f"{key}[{number}]", "expected a table")
            tables.append(TomlTable(entry, self.file, self.join(f"{key}[{number}]")))
        return tables

    def strings(self, key: str) -> list[str]:
        """Read ``key`` as a non-empty list of texts."""
        values = self.require(key, list, "a list of texts")
        if not 1 <= len(values) <= MAX_ENTRIES:
            self.fail(key, f"has {len(values)} entries; give 1 to {MAX_ENTRIES}")
        for number, value in enumerate(values, start=1):
            if not isinstance(value, str):
                self.fail(f"{key}[{number}]", "expected a text in double quotes")
            _check_text(value, self, f"{key}[{number}]")
        return list(values)

    def keyed(self) -> TomlTable:
        """Return this entry renamed by its ``key``, so that later errors name it."""
        key = self.identifier()
        base = self.path.rsplit("[", 1)[0]
        renamed = TomlTable(self.data, self.file, f"{base}[{key}]")
        renamed._known = self._known
        return renamed

    def finish(self) -> None:
        """Reject keys this table does not define, which are usually misspellings."""
        unknown = sorted(set(self.data) - self._known)
        if unknown:
            known = ", ".join(sorted(self._known))
            self.fail(unknown[0], f"unknown key; check its spelling (known keys here: {known})")


def _check_text(value: str, table: TomlTable, key: str) -> None:
    """Check one text: not blank, not too long, no terminal control characters."""
    if not value.strip():
        table.fail(key, "empty text; write the text or remove the entry")
    if len(value) > MAX_TEXT_CHARS:
        table.fail(key, f"text has {len(value)} characters; shorten it to {MAX_TEXT_CHARS}")
    for character in value:
        is_control = unicodedata.category(character) == "Cc" and character not in "\n\t"
        if is_control or character in _BIDI_CONTROLS:
            table.fail(key, f"contains control character U+{ord(character):04X}; remove it")


def check_format(root: TomlTable) -> None:
    """Reject a file whose ``format`` is missing or other than FORMAT_VERSION."""
    version = root.require("format", int, "format = 1")
    if version != FORMAT_VERSION:
        root.fail("format", f"format {version} is not supported; this konsel-chat reads format 1")


def check_unique(tables: Sequence[TomlTable], keys: Sequence[str]) -> None:
    """Reject a key that appears twice among sibling entries."""
    seen: set[str] = set()
    for table, key in zip(tables, keys, strict=True):
        if key in seen:
            table.fail("key", f"duplicate key {key!r}; give each entry its own key")
        seen.add(key)


def check_required_keys(
    parent: TomlTable, list_key: str, keys: Sequence[str], required: Sequence[str]
) -> None:
    """Reject ``list_key`` of ``parent`` when no entry has one of the ``required`` keys."""
    missing = [key for key in required if key not in keys]
    if missing:
        parent.fail(list_key, f"no entry with key {missing[0]!r}; every file must keep it")
