"""Tests of the KOPASTA and LAISEG loaders and of loading all content files together."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from content_copies import edited_copy

from konsel.client.core import content_files
from konsel.client.core.content_files import (
    ContentFileError,
    default_override_folder,
    load_content,
    load_evaluation_forms,
    load_kopasta_guide,
)
from konsel.client.core.kopasta import LocalizedText


def _localized_texts(value: object) -> Iterator[LocalizedText]:
    """Yield every LocalizedText inside a tree of dataclasses and tuples."""
    if isinstance(value, LocalizedText):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _localized_texts(getattr(value, item.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _localized_texts(item)


# ---------------------------------------------------------------------------------------
# Packaged files


def test_packaged_content_loads() -> None:
    bundle = load_content()

    assert len(bundle.kopasta.stages) == 5
    assert bundle.consent.version == "1"
    assert bundle.crisis.contacts
    assert bundle.risk_cues.groups


def test_packaged_texts_bilingual() -> None:
    texts = list(_localized_texts(load_content()))

    assert len(texts) > 100
    for text in texts:
        assert text.id.strip(), text
        assert text.en.strip(), text
        assert text.id != text.en, text


# ---------------------------------------------------------------------------------------
# Broken override files

KOPASTA_BREAKS = [
    pytest.param(
        'purpose.en = "Explore the problem',
        'purpose.xx = "Explore the problem',
        "penjajagan.purpose.en",
        "missing",
        id="missing-en",
    ),
    pytest.param(
        'kind = "date"',
        'kind = "datetime"',
        "penilaian.field[laijapen_date].kind",
        "unknown field kind",
        id="unknown-kind",
    ),
    pytest.param(
        'key = "since_when"',
        'key = "tell_more"',
        "penjajagan.prompt[tell_more].key",
        "duplicate key",
        id="duplicate-prompt",
    ),
    pytest.param(
        'key = "factors"',
        'key = "arrival"',
        "penjajagan.field[arrival]",
        "duplicate key",
        id="duplicate-field-across-stages",
    ),
    pytest.param(
        'label.id = "Cara konseli datang"',
        'label.id = "  "',
        "pengantaran.field[arrival].label.id",
        "empty text",
        id="empty-text",
    ),
    pytest.param(
        'label.id = "Cara konseli datang"',
        'lable.id = "Cara konseli datang"',
        "pengantaran.field[arrival].label.id",
        "missing",
        id="misspelt-key",
    ),
    pytest.param(
        "offers_risk_card = false",
        "offers_risk_card = false\nshow_timer = true",
        "pengantaran.show_timer",
        "unknown key",
        id="unknown-key",
    ),
    pytest.param(
        'key = "disconnect_plan"\nkind = "text"',
        'key = "disconnect_plan"\nkind = "choice"',
        "pengantaran.field[disconnect_plan].option",
        "missing",
        id="choice-without-options",
    ),
    pytest.param(
        'key = "arrival"\nkind = "choice"',
        'key = "arrival"\nkind = "text"',
        "pengantaran.field[arrival].option",
        "only allowed for kind 'choice'",
        id="options-on-text",
    ),
    pytest.param(
        'key = "disconnect_plan"',
        'key = "plan_if_offline"',
        "pengantaran.field[disconnect_plan]",
        "saved records use this field",
        id="dropped-field",
    ),
    pytest.param(
        'key = "referral_needed"\nkind = "bool"',
        'key = "referral_needed"\nkind = "text"',
        "penafsiran.field[referral_needed].kind",
        "must stay 'bool'",
        id="changed-kind",
    ),
    pytest.param(
        'key = "karier"',
        'key = "vokasi"',
        "penjajagan.field[problem_area].option[karier]",
        "saved records use this option",
        id="dropped-option",
    ),
    pytest.param(
        'key = "greeting"',
        'key = "Greeting!"',
        "pengantaran.prompt[1].key",
        "invalid key",
        id="bad-key",
    ),
    pytest.param(
        "format = 1",
        "format = 2",
        "format",
        "not supported",
        id="format-version",
    ),
    pytest.param(
        'label.en = "How the student came"',
        'label.en = "How the student came"\nlabel.fr = "Comment"',
        "pengantaran.field[arrival].label.fr",
        "unknown key",
        id="unknown-language",
    ),
    pytest.param(
        "offers_risk_card = false",
        'offers_risk_card = "no"',
        "pengantaran.offers_risk_card",
        "expected true or false",
        id="wrong-type",
    ),
    pytest.param(
        'id = "Sejak kapan',
        'id = "\\u001b[2JSejak kapan',
        "penjajagan.prompt[since_when].id",
        "control character U+001B",
        id="terminal-escape",
    ),
    pytest.param(
        "[penafsiran]",
        "[penafsiran_typo]",
        "penafsiran.title",
        "missing",
        id="misspelt-stage-header",
    ),
]


@pytest.mark.parametrize(("old", "new", "key_path", "problem"), KOPASTA_BREAKS)
def test_kopasta_override_broken(
    tmp_path: Path, old: str, new: str, key_path: str, problem: str
) -> None:
    path = edited_copy(tmp_path, "kopasta.toml", old, new)

    with pytest.raises(ContentFileError) as caught:
        load_kopasta_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem
    assert str(path) in str(caught.value)


def test_kopasta_override_bad_toml(tmp_path: Path) -> None:
    path = edited_copy(tmp_path, "kopasta.toml", "[penafsiran]", "[penafsiran")

    with pytest.raises(ContentFileError, match="invalid TOML") as caught:
        load_kopasta_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == ""
    assert "line" in caught.value.problem


def test_kopasta_override_rewording_accepted(tmp_path: Path) -> None:
    path = edited_copy(
        tmp_path, "kopasta.toml", 'label.id = "Bidang masalah"', 'label.id = "Bidang bimbingan"'
    )

    guide = load_kopasta_guide(path)

    assert guide.all_fields()[6].label.id == "Bidang bimbingan"


def test_laiseg_override_scale_length(tmp_path: Path) -> None:
    path = edited_copy(
        tmp_path,
        "laiseg.toml",
        '[[rating_scale]]\nid = "Sangat setuju"',
        '[[rating_scale_extra]]\nid = "Sangat setuju"',
    )

    with pytest.raises(ContentFileError, match="exactly one for each rating") as caught:
        load_evaluation_forms(path)
    assert caught.value.key_path == "rating_scale"


def test_laiseg_override_dropped_question(tmp_path: Path) -> None:
    path = edited_copy(tmp_path, "laiseg.toml", 'key = "comfort"', 'key = "feeling"')

    with pytest.raises(ContentFileError) as caught:
        load_evaluation_forms(path)
    assert caught.value.key_path == "laiseg.field[comfort]"


# ---------------------------------------------------------------------------------------
# The override folder


def test_content_folder_override(tmp_path: Path) -> None:
    edited_copy(
        tmp_path,
        "crisis-contacts.toml",
        'key = "school_office"',
        'key = "school_office"\nphone = "0274 555 0102"',
    )

    bundle = load_content(tmp_path)

    assert bundle.crisis.contact("school_office").phone == "0274 555 0102"
    assert bundle.consent.version == "1"


def test_content_folder_consent_name(tmp_path: Path) -> None:
    """A consent copy under its packaged name would be ignored, so it is rejected."""
    edited_copy(tmp_path, "consent-v1.toml", 'version = "1"', 'version = "2"')

    with pytest.raises(ContentFileError, match="unknown file name") as caught:
        load_content(tmp_path)
    assert caught.value.file == str(tmp_path / "consent-v1.toml")


def test_content_folder_consent_copy(tmp_path: Path) -> None:
    edited_copy(
        tmp_path, "consent-v1.toml", 'version = "1"', 'version = "2"', target="consent.toml"
    )

    assert load_content(tmp_path).consent.version == "2"


def test_content_folder_absent(tmp_path: Path) -> None:
    bundle = load_content(tmp_path / "not-created")

    assert bundle.consent.version == "1"


def test_content_folder_broken_file(tmp_path: Path) -> None:
    edited_copy(tmp_path, "laiseg.toml", 'kind = "rating"', 'kind = "stars"')

    with pytest.raises(ContentFileError) as caught:
        load_content(tmp_path)
    assert caught.value.key_path == "laiseg.field[rating_thinking].kind"


def test_default_override_folder() -> None:
    folder = default_override_folder()

    assert folder.name == "content"
    assert folder.parent.name == "konsel"


REEXPORTS = [
    ("content_reader", "ContentFileError"),
    ("content_reader", "MAX_FILE_BYTES"),
    ("consent_file", "CONSENT_SECTIONS"),
    ("consent_file", "ConsentText"),
    ("consent_file", "load_consent"),
    ("crisis_file", "RISK_QUESTIONS"),
    ("crisis_file", "SAFETY_PLAN_STEPS"),
    ("crisis_file", "CrisisGuide"),
    ("crisis_file", "load_crisis_guide"),
    ("risk_cues", "RiskCues"),
    ("risk_cues", "load_risk_cues"),
    ("risk_cues", "match_risk_cues"),
    ("risk_cues", "split_words"),
]


@pytest.mark.parametrize(("module_name", "name"), REEXPORTS)
def test_content_files_reexport(module_name: str, name: str) -> None:
    """A name imported from content_files is the object of the module that defines it."""
    module = importlib.import_module(f"konsel.client.core.{module_name}")

    assert getattr(content_files, name) is getattr(module, name)
    assert name in content_files.__all__
