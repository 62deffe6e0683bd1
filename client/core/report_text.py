"""Format dates, times and typed text for the Markdown report.

Dates follow Indonesian usage ("Kamis, 3 Desember 2026") with day and month names
written here, so the output does not depend on the system locale. Times are shown as
"09.05 WIB" in Indonesian and "09:05 WIB" in English.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

from .kopasta import Language

_DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip

# Abbreviations Indonesians use for their three time zones. Other zones show their tz
# database abbreviation, or the UTC offset when the database has none.
_ZONE_NAMES = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}

EMPTY = "-"
"""Text the report shows for a value that was not filled in."""

LIST_INDENT = "  "
"""Indentation that keeps a continued line inside its list item."""


def format_date(moment: datetime.date, language: Language) -> str:
    """Format a date as "Kamis, 3 Desember 2026" (or "Thursday, 3 December 2026")."""
    day = _DAYS[language][moment.weekday()]
    month = _MONTHS[language][moment.month - 1]
    return f"{day}, {moment.day} {month} {moment.year}"


def zone_name(moment: datetime.datetime) -> str:
    """Return the zone abbreviation of an aware time, such as WIB, WITA or WIT."""
    key = getattr(moment.tzinfo, "key", None)
    if key in _ZONE_NAMES:
        return _ZONE_NAMES[key]
    name = moment.tzname() or ""
    if name and name[0] not in "+-":
        return name
    offset = moment.utcoffset() or datetime.timedelta()
    hours, remainder = divmod(abs(offset) // datetime.timedelta(minutes=1), 60)
    sign = "-" if offset < datetime.timedelta() else "+"
    return f"UTC{sign}{hours:02d}:{remainder:02d}"


def format_time(moment: datetime.datetime, language: Language) -> str:
    """Format the time of day as "09.05 WIB" (Indonesian) or "09:05 WIB" (English)."""
    separator = "." if language == "id" else ":"
    return f"{moment.hour:02d}{separator}{moment.minute:02d} {zone_name(moment)}"


def format_moment(moment: datetime.datetime, language: Language) -> str:
    """Format a date with its time, such as "Kamis, 3 Desember 2026, 09.05 WIB"."""
    return f"{format_date(moment, language)}, {format_time(moment, language)}"


# ---------------------------------------------------------------------------------------
# Escaping typed text

_ALWAYS_ESCAPED = frozenset("\\`*_[]<>&|~#")
_LINE_START_ESCAPED = frozenset(">+-=")
_ORDERED_LIST_START = re.compile(r"(\d{1,9})([.)])")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape_text(value: str, indent: str = "") -> str:
    """Escape typed text so that Markdown shows it literally, one hard line break per line.

    Backslash escapes cover the characters that start emphasis, code, links, images, HTML,
    entities and table cells anywhere in a line, and those that start a block (heading,
    quote, list, setext underline) at its start. A "." between two letters or digits, a ":"
    before "//" and every "@" are escaped too, so renderers that turn bare addresses into
    links (GitHub, markdown-it's linkify) leave them as text. Control and bidirectional
    formatting characters become U+FFFD. Blank lines are dropped and each remaining line
    continues the same paragraph, indented by ``indent`` so a list item stays one item.
    """
    cleaned = _replace_controls(value.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_escape_line(line.strip()) for line in cleaned.split("\n") if line.strip()]
    if not lines:
        return EMPTY
    return ("\\\n" + indent).join(lines)


def _replace_controls(value: str) -> str:
    characters = []
    for character in value:
        if character == "\t":
            characters.append(" ")
        elif character != "\n" and (
            unicodedata.category(character) == "Cc" or character in _BIDI_CONTROLS
        ):
            characters.append("\ufffd")
        else:
            characters.append(character)
    return "".join(characters)


def _escape_line(line: str) -> str:
    escaped: list[str] = []
    for position, character in enumerate(line):
        before = line[position - 1] if position > 0 else ""
        after = line[position + 1] if position + 1 < len(line) else ""
        if (
            character in _ALWAYS_ESCAPED
            or character == "@"
            or (character == "." and before.isalnum() and after.isalnum())
            or (character == ":" and line.startswith("//", position + 1))
            or (position == 0 and character in _LINE_START_ESCAPED)
        ):
            escaped.append("\\")
        escaped.append(character)
    result = "".join(escaped)

    ordered = _ORDERED_LIST_START.match(result)
    if ordered is not None:
        result = f"{ordered.group(1)}\\{result[ordered.end(1) :]}"
    return result
