"""Settings kept outside the encrypted store, because they are needed before unlocking.

Only the display language, the idle-lock time and the time zone live here, in
``settings.json`` in the profile folder (mode 0600). Nothing personal goes in this file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from konsel.client.core.profile import create_private_file

from .catalog import DEFAULT_LANGUAGE, LANGUAGES
from .clock_zone import DEFAULT_TIME_ZONE, TIME_ZONES

logger = logging.getLogger("konsel.client.tui.settings")

SETTINGS_FILE = "settings.json"
MAX_SETTINGS_BYTES = 4096
DEFAULT_IDLE_LOCK_MINUTES = 10
MAX_IDLE_LOCK_MINUTES = 24 * 60


@dataclass
class Settings:
    """The language, the idle minutes before the app locks (0 turns it off) and the time zone."""

    language: str = DEFAULT_LANGUAGE
    idle_lock_minutes: int = DEFAULT_IDLE_LOCK_MINUTES
    time_zone: str = DEFAULT_TIME_ZONE
    """IANA name of the zone for every time shown and every report written (WIB, WITA or WIT)."""


def load_settings(profile_dir: Path) -> Settings:
    """Read the settings of a profile; a missing or damaged file gives the defaults."""
    path = profile_dir / SETTINGS_FILE
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return Settings()
    except OSError as error:
        logger.warning("cannot read %s (%s); using default settings", path.name, error)
        return Settings()
    if len(raw) > MAX_SETTINGS_BYTES:
        logger.warning("%s is larger than %d bytes; using defaults", path.name, MAX_SETTINGS_BYTES)
        return Settings()
    try:
        data = json.loads(raw)
    except ValueError:
        logger.warning("%s is not valid JSON; using default settings", path.name)
        return Settings()
    return _validated(data)


def save_settings(profile_dir: Path, settings: Settings) -> None:
    """Write the settings atomically with mode 0600."""
    profile_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = profile_dir / SETTINGS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    create_private_file(temporary)
    temporary.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _validated(data: object) -> Settings:
    settings = Settings()
    if not isinstance(data, dict):
        return settings
    language = data.get("language")
    if language in LANGUAGES:
        settings.language = language
    minutes = data.get("idle_lock_minutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool):
        settings.idle_lock_minutes = max(0, min(minutes, MAX_IDLE_LOCK_MINUTES))
    time_zone = data.get("time_zone")
    if isinstance(time_zone, str) and time_zone in TIME_ZONES.values():
        settings.time_zone = time_zone
    elif time_zone is not None:
        logger.warning(
            "%s: unknown time zone %.40r; using %s", SETTINGS_FILE, time_zone, DEFAULT_TIME_ZONE
        )
    return settings
