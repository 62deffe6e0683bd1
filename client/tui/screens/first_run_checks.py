"""Check the first-run form: display name, passphrase and relay address.

Each check returns ``None`` when the value is fine, or a :class:`Problem` with the catalog
key of the message and the values the message shows. The checks never return the
passphrase itself, so a problem can be logged or shown without leaking it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from konsel.client.core.passphrase import MAX_PASSPHRASE_BYTES
from konsel.protocol.content import MAX_DISPLAY_NAME_CHARS, MAX_RELAY_URL_CHARS

MIN_PASSPHRASE_CHARS = 8
"""Shortest passphrase the form accepts, counted in characters after NFC normalization."""

# The protocol rejects these characters in display names: every C0 and C1 control,
# the line and paragraph separators, and the bidirectional embeddings, overrides and
# isolates that could reorder the text a client shows next to the name.
_FORBIDDEN_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# The protocol's relay address pattern: ws:// or wss://, then printable ASCII, no spaces.
_RELAY_URL = re.compile(r"wss?://[\x21-\x7e]+")


@dataclass(frozen=True)
class Problem:
    """A rejected form value: the catalog key of its message and that message's fields."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def check_display_name(name: str) -> Problem | None:
    """Check a display name the way the protocol does, after trimming outer spaces."""
    trimmed = name.strip()
    if not trimmed:
        return Problem("start.first_run.errors.name_empty")
    if len(trimmed) > MAX_DISPLAY_NAME_CHARS:
        return Problem(
            "start.first_run.errors.name_too_long",
            {"length": len(trimmed), "limit": MAX_DISPLAY_NAME_CHARS},
        )
    if _FORBIDDEN_IN_NAME.search(trimmed):
        return Problem("start.first_run.errors.name_control")
    return None


def check_passphrase(passphrase: str, repeated: str) -> Problem | None:
    """Check the passphrase length and that both entries are the same."""
    normalized = unicodedata.normalize("NFC", passphrase)
    if len(normalized) < MIN_PASSPHRASE_CHARS:
        return Problem(
            "start.first_run.errors.passphrase_too_short", {"minimum": MIN_PASSPHRASE_CHARS}
        )
    # The store's key derivation limits the UTF-8 size, not the character count.
    if len(normalized.encode("utf-8")) > MAX_PASSPHRASE_BYTES:
        return Problem(
            "start.first_run.errors.passphrase_too_long", {"limit": MAX_PASSPHRASE_BYTES}
        )
    if unicodedata.normalize("NFC", repeated) != normalized:
        return Problem("start.first_run.errors.passphrase_mismatch")
    return None


def check_relay_url(url: str, *, required: bool) -> Problem | None:
    """Check a relay address: ws:// or wss:// with a host, at most the protocol's length.

    Args:
        url: the address as typed, outer spaces already removed.
        required: whether an empty address is a problem (it is for a counselor, who
            creates invitations that name the relay).
    """
    if not url:
        return Problem("start.first_run.errors.relay_missing") if required else None
    if len(url) > MAX_RELAY_URL_CHARS:
        return Problem(
            "start.first_run.errors.relay_too_long",
            {"length": len(url), "limit": MAX_RELAY_URL_CHARS},
        )
    if _RELAY_URL.fullmatch(url) is None or not _has_host(url):
        return Problem("start.first_run.errors.relay_invalid")
    return None


def _has_host(url: str) -> bool:
    try:
        parts = urlsplit(url)
        # Reading the port validates it: a port that is not a number raises ValueError.
        _ = parts.port
    except ValueError:
        return False
    return bool(parts.hostname)
