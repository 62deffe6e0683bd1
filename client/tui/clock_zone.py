"""The time zone that the app shows every time and date in, and writes reports in.

A profile chooses one of Indonesia's three zones in its settings (``time_zone``). The app
calls :func:`use` at start, and the chat, the KOPASTA panel and the report screen call
:func:`current_zone`, so no widget needs the setting passed in. The computer's own zone
is never used: a school server reached over SSH often runs on UTC, and the chat would
then show a different day than the panel and the report.

This module imports only the standard library, so the command line can read
:data:`TIME_ZONES` without loading the app.
"""

from __future__ import annotations

import datetime
import zoneinfo

DEFAULT_TIME_ZONE = "Asia/Jakarta"
"""Western Indonesian Time (WIB), the zone of a profile that has not chosen one."""

TIME_ZONES: dict[str, str] = {
    "WIB": "Asia/Jakarta",
    "WITA": "Asia/Makassar",
    "WIT": "Asia/Jayapura",
}
"""Indonesian abbreviation of each zone a profile can choose, mapped to its IANA name."""

_current = zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


def use(name: str) -> zoneinfo.ZoneInfo:
    """Show every later time in the zone ``name`` and return it.

    Raises:
        ValueError: ``name`` is not one of the IANA names in :data:`TIME_ZONES`.
    """
    global _current
    if name not in TIME_ZONES.values():
        choices = ", ".join(TIME_ZONES.values())
        raise ValueError(f"invalid time zone {name!r}; use one of {choices}")
    _current = zoneinfo.ZoneInfo(name)
    return _current


def current_zone() -> zoneinfo.ZoneInfo:
    """Return the zone in use."""
    return _current


def zoned(moment_ms: int) -> datetime.datetime:
    """Return a Unix time in milliseconds as an aware time in the zone in use."""
    return datetime.datetime.fromtimestamp(moment_ms / 1000, tz=_current)


def today() -> datetime.date:
    """Return today's date in the zone in use, whatever zone the computer's clock is in."""
    return datetime.datetime.now(_current).date()
