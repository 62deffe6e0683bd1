"""Message catalogs: every string the app shows, in Indonesian and English.

Each language has a folder under ``locales/`` with one TOML file per part of the app
(``app.toml``, ``chat.toml``, ...). A key is the file's stem and the dotted path inside
it, so ``chat.toml``'s ``[composer] too_long`` is ``chat.composer.too_long``. Values are
:meth:`str.format` templates with named fields.

Both languages must hold the same keys with the same fields; tests/tui/test_catalog.py
checks that. The app switches language with :func:`use`; widgets call :func:`t`.
"""

from __future__ import annotations

import string
import tomllib
from importlib import resources
from typing import Any, ClassVar

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"


class MissingText(KeyError):
    """A key that the catalog of the current language does not hold."""


class Catalog:
    """The strings of one language, loaded from the package's ``locales/<language>/``."""

    shown: ClassVar[set[str] | None] = None
    """When a set, every string any catalog returns is added to it; tests use this to
    check that a screen shows only catalog strings."""

    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r} is not one of {LANGUAGES}")
        self.language = language
        self.texts: dict[str, str] = load_texts(language)

    def text(self, key: str, **values: Any) -> str:
        """Return the string for ``key`` with ``values`` filled in."""
        try:
            template = self.texts[key]
        except KeyError:
            raise MissingText(f"{key!r} is not in the {self.language!r} catalog") from None
        result = template.format(**values) if values else template
        if Catalog.shown is not None:
            Catalog.shown.add(result)
        return result


def load_texts(language: str) -> dict[str, str]:
    """Read every TOML file of one language into a flat ``{key: template}`` map."""
    texts: dict[str, str] = {}
    folder = resources.files("konsel.client.tui.locales").joinpath(language)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        table = tomllib.loads(entry.read_text(encoding="utf-8"))
        _flatten(entry.name.removesuffix(".toml"), table, texts)
    return texts


def template_fields(template: str) -> set[str]:
    """Return the named fields of a format template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _flatten(prefix: str, table: dict[str, Any], into: dict[str, str]) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, dict):
            _flatten(key, value, into)
        elif isinstance(value, str):
            into[key] = value
        else:
            raise ValueError(f"catalog entry {key!r} must be text, not {type(value).__name__}")


_current = Catalog(DEFAULT_LANGUAGE)


def use(language: str) -> Catalog:
    """Switch every later :func:`t` call to ``language`` and return its catalog."""
    global _current
    _current = Catalog(language)
    return _current


def current() -> Catalog:
    """Return the catalog in use."""
    return _current


def t(key: str, **values: Any) -> str:
    """Return the on-screen string for ``key`` in the current language."""
    return _current.text(key, **values)
