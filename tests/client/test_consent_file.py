"""Tests of the informed consent loader and its rendering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from content_copies import edited_copy, packaged_text

from konsel.client.core.consent_file import CONSENT_SECTIONS, load_consent
from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.crisis_file import load_crisis_guide

CONSENT_VALUES = {
    "counselor_name": "Bu Sari",
    "school_name": "SMPN 4",
    "retention_period": "3 tahun",
}


def test_consent_numbers_in_crisis_list() -> None:
    """Every number the consent text gives a student is also in the crisis contact list."""
    consent = load_consent()
    guide = load_crisis_guide()
    emergency = next(section for section in consent.sections if section.key == "emergency")
    listed = {
        value
        for contact in guide.contacts
        for value in (contact.phone, contact.whatsapp, contact.website)
        if value
    }

    for text in (emergency.body.id, emergency.body.en):
        numbers = set(re.findall(r"\b\d[\d-]{1,}\d\b|\b\w+119\.id\b", text))
        assert numbers >= {"112", "119", "129", "08111-129-129", "healing119.id"}
        assert numbers <= listed


def test_consent_covers_topics() -> None:
    consent = load_consent()

    assert [section.key for section in consent.sections] == list(CONSENT_SECTIONS)
    assert "UU Nomor 27 Tahun 2022" in consent.render("id", CONSENT_VALUES)
    assert "TPPK" in consent.render("en", CONSENT_VALUES)


def test_consent_render_fills_placeholders() -> None:
    text = load_consent().render("id", CONSENT_VALUES)

    assert "Bu Sari" in text
    assert "SMPN 4" in text
    assert "3 tahun" in text
    assert "{" not in text


def test_consent_render_missing_value() -> None:
    with pytest.raises(KeyError, match="retention_period"):
        load_consent().render("en", {"counselor_name": "Bu Sari", "school_name": "SMPN 4"})


CONSENT_BREAKS = [
    pytest.param(
        "Aplikasi ini bukan layanan darurat.",
        "Aplikasi ini tidak untuk keadaan darurat.",
        "version",
        "differs from the default version",
        id="edited-same-version",
    ),
    pytest.param(
        "guru BK di {school_name}",
        "guru BK di {school}",
        "section[counselor].body.id",
        "unknown placeholder {school}",
        id="unknown-placeholder",
    ),
    pytest.param(
        "guru BK di {school_name}",
        "guru BK di {school_name",
        "section[counselor].body.id",
        "stray",
        id="stray-brace",
    ),
    pytest.param(
        'key = "emergency"',
        'key = "urgent"',
        "section",
        "'emergency'",
        id="missing-topic",
    ),
    pytest.param(
        'version = "1"',
        'version = "1 baru"',
        "version",
        "invalid version",
        id="bad-version",
    ),
]


@pytest.mark.parametrize(("old", "new", "key_path", "problem"), CONSENT_BREAKS)
def test_consent_override_broken(
    tmp_path: Path, old: str, new: str, key_path: str, problem: str
) -> None:
    path = edited_copy(tmp_path, "consent-v1.toml", old, new, target="consent.toml")

    with pytest.raises(ContentFileError) as caught:
        load_consent(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


def test_consent_override_new_version(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    text = packaged_text("consent-v1.toml").replace('version = "1"', 'version = "1-smpn4-2027"')
    path.write_text(text.replace("beberapa menit", "sepuluh menit"), encoding="utf-8")

    consent = load_consent(path)

    assert consent.version == "1-smpn4-2027"
    assert "sepuluh menit" in consent.render("id", CONSENT_VALUES)
