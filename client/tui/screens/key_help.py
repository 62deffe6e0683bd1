"""The rows of the help screen: each key binding with its description in the current language.

konsel's ``BINDINGS`` give a catalog key as the description, and
:func:`konsel.client.tui.bindings.localize_bindings` swaps it for the text of the language
in use. :func:`help_rows` accepts either form, and also a text of another language (a
binding localized before the language changed), and shows the current language's text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from konsel.client.tui import catalog
from konsel.client.tui.catalog import LANGUAGES, load_texts, t


@dataclass(frozen=True)
class HelpRow:
    """One line of the help screen: how the key is shown and what it does."""

    key: str
    description: str


def help_rows(
    app: App[object] | App[int], below: Screen[object] | None
) -> tuple[list[HelpRow], list[HelpRow]]:
    """List the app's bindings and the other bindings active on ``below``.

    Returns:
        The app-wide rows and the rows of the screen under the help screen. A binding
        whose description is not catalog text is left out: Textual's own widgets (Input,
        TextArea) describe their keys in English only.
    """
    app_rows = _rows(app, Binding.make_bindings(app.BINDINGS))

    screen_bindings: list[Binding] = []
    if below is not None:
        for active in below.active_bindings.values():
            if active.node is not app:
                screen_bindings.append(active.binding)
        # Keys of widgets that are not focused now (the chat's paging keys while the
        # composer has focus) work once the user moves there, so they are listed too.
        for widget in below.query("*"):
            screen_bindings.extend(
                binding
                for bindings in widget._bindings.key_to_bindings.values()
                for binding in bindings
            )
    screen_rows = [row for row in _rows(app, screen_bindings) if row not in app_rows]
    return app_rows, screen_rows


def _rows(app: App[object] | App[int], bindings: Iterable[Binding]) -> list[HelpRow]:
    """Turn bindings into rows, where keys for the same action and text share one row."""
    keys_by_row: dict[tuple[str, str], list[str]] = {}
    for binding in bindings:
        if binding.system:
            continue
        description = describe(binding.description)
        if description is None:
            continue
        keys = keys_by_row.setdefault((binding.action, description), [])
        shown_key = long_key_name(binding.key)
        if shown_key not in keys:
            keys.append(shown_key)
    return [HelpRow(", ".join(keys), text) for (_, text), keys in keys_by_row.items()]


KEY_NAMES = {
    "escape": "Esc",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "ctrl": "Ctrl",
    "shift": "Shift",
    "alt": "Alt",
    "enter": "Enter",
    "tab": "Tab",
    "home": "Home",
    "end": "End",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
}


def long_key_name(key: str) -> str:
    """Spell a Textual key name as keyboards label it: ``ctrl+q`` becomes ``Ctrl+Q``."""
    parts = key.split("+")
    return "+".join(KEY_NAMES.get(part, part.upper() if len(part) <= 3 else part) for part in parts)


def describe(description: str) -> str | None:
    """Return a binding description in the current language, or ``None`` if it is not
    catalog text.

    A description may be a catalog key, a text of the current catalog, or a text of
    another language's catalog (a binding built before the language changed).
    """
    if not description:
        return None
    texts = catalog.current().texts
    if description in texts:
        return t(description)
    for language in (catalog.current().language, *LANGUAGES):
        key = _keys_by_text(language).get(description)
        if key is not None and key in texts:
            return t(key)
    return None


@functools.cache
def _keys_by_text(language: str) -> dict[str, str]:
    """Map each text of a language's catalog to its key (the first key, by name)."""
    keys: dict[str, str] = {}
    for key, text in sorted(load_texts(language).items()):
        keys.setdefault(text, key)
    return keys
