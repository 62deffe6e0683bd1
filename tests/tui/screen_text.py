"""Read what a running app shows, as plain text, and find words that no catalog gave.

The check behind "every string on screen comes from a catalog": a word on screen must
appear in a string the catalog returned during the test, in the user's own data (names,
message bodies), or in the counseling content files. A word cut off with "…" counts when
it starts such a word, and so does a word cut off by the right edge of the screen.
"""

from __future__ import annotations

import io
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any

from rich.console import Console
from textual.app import App

WORD = re.compile(r"([^\W\d_]{3,})(…?)")


def screen_text(app: App[Any]) -> str:
    """Return the current screen of a running app as plain text lines."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    render = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(render)
    return console.export_text(styles=False)


def content_words() -> set[str]:
    """Return every word of the counseling content files shipped in client/data."""
    words: set[str] = set()
    folder = resources.files("konsel.client.data")
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            _collect(tomllib.loads(entry.read_text(encoding="utf-8")), words)
    return words


def words_outside(text: str, allowed_texts: Iterable[str]) -> list[str]:
    """Return the words of ``text`` that occur in none of ``allowed_texts``."""
    allowed = {match.group(1).casefold() for s in allowed_texts for match in WORD.finditer(s)}
    strays = []
    for match in WORD.finditer(text):
        word, cut = match.group(1).casefold(), match.group(2)
        if word in allowed:
            continue
        at_edge = match.end() == len(text) or text[match.end()] == "\n"
        if (cut or at_edge) and any(known.startswith(word) for known in allowed):
            continue
        strays.append(match.group(1))
    return strays


def _collect(value: object, into: set[str]) -> None:
    if isinstance(value, str):
        into.update(match.group(1).casefold() for match in WORD.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect(item, into)
