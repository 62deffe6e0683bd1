"""The message catalogs: both languages hold the same keys with the same fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from konsel.client.tui import catalog
from konsel.client.tui.catalog import Catalog, MissingText, load_texts, template_fields

TUI_SOURCE = Path(__file__).resolve().parents[2] / "client" / "tui"
KEY_IN_SOURCE = re.compile(r"""\bt\(\s*f?["']([a-z_]+\.[a-z0-9_.]+)["']""")
BINDING_KEY = re.compile(r"""Binding\([^)]*?["']([a-z_]+\.keys?\.[a-z0-9_.]+)["']""")


def test_languages_hold_the_same_keys() -> None:
    indonesian, english = load_texts("id"), load_texts("en")

    assert sorted(set(indonesian) - set(english)) == []
    assert sorted(set(english) - set(indonesian)) == []
    assert len(indonesian) > 20


def test_languages_use_the_same_fields() -> None:
    indonesian, english = load_texts("id"), load_texts("en")

    different = [
        key
        for key in indonesian
        if template_fields(indonesian[key]) != template_fields(english[key])
    ]
    assert different == []


def test_no_entry_is_empty_or_untranslated() -> None:
    indonesian, english = load_texts("id"), load_texts("en")

    empty = [
        key for texts in (indonesian, english) for key, text in texts.items() if not text.strip()
    ]
    assert empty == []


def test_every_key_used_in_source_exists() -> None:
    texts = load_texts("id")
    missing = []
    for path in TUI_SOURCE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for pattern in (KEY_IN_SOURCE, BINDING_KEY):
            for match in pattern.finditer(source):
                key = match.group(1)
                # An f-string key ends in a field; check that some key has its prefix.
                if "{" in source[match.end(1) : match.end(1) + 1] or key.endswith("."):
                    if not any(k.startswith(key) for k in texts):
                        missing.append(f"{path.name}: {key}")
                elif key not in texts:
                    missing.append(f"{path.name}: {key}")
    assert missing == []


def test_missing_key_raises_with_its_name() -> None:
    with pytest.raises(MissingText, match=r"no\.such\.key"):
        Catalog("id").text("no.such.key")


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        Catalog("fr")


def test_use_switches_language_and_records_shown_strings() -> None:
    catalog.use("en")
    Catalog.shown = set()
    try:
        text = catalog.t("app.list.request", name="Sari")
        shown = set(Catalog.shown)
    finally:
        Catalog.shown = None

    assert text == "Request: Sari"
    assert shown == {"Request: Sari"}
    assert catalog.use("id").text("app.list.request", name="Sari") == "Permintaan: Sari"
