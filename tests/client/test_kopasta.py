"""Tests of the KOPASTA stage model and the packaged stage guide and evaluation forms."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from konsel.client.core.content_files import load_evaluation_forms, load_kopasta_guide
from konsel.client.core.kopasta import (
    RATING_MAX,
    RATING_MIN,
    FieldKind,
    LocalizedText,
    RecordField,
    Stage,
)

STAGE_ORDER = ["pengantaran", "penjajagan", "penafsiran", "pembinaan", "penilaian"]

# Record fields each stage must offer, with their kind and, for choices, the option keys.
EXPECTED_FIELDS: dict[Stage, dict[str, tuple[FieldKind, set[str]]]] = {
    Stage.PENGANTARAN: {
        "arrival": (FieldKind.CHOICE, {"own_initiative", "called", "referred"}),
        "consent_given": (FieldKind.BOOL, set()),
        "guardian_consent": (FieldKind.CHOICE, {"given", "pending", "refused", "not_needed"}),
        "identity_check": (
            FieldKind.CHOICE,
            {"paired_in_person", "safety_code", "shared_detail", "not_checked"},
        ),
        "disconnect_plan": (FieldKind.TEXT, set()),
    },
    Stage.PENJAJAGAN: {
        "problem_in_own_words": (FieldKind.TEXT, set()),
        "problem_area": (FieldKind.CHOICE, {"pribadi", "sosial", "belajar", "karier"}),
        "factors": (FieldKind.TEXT, set()),
        "strengths_and_support": (FieldKind.TEXT, set()),
        "risk_level": (FieldKind.CHOICE, {"none", "low", "medium", "high"}),
        "risk_reason": (FieldKind.TEXT, set()),
    },
    Stage.PENAFSIRAN: {
        "core_problem": (FieldKind.TEXT, set()),
        "likely_causes": (FieldKind.TEXT, set()),
        "prognosis": (FieldKind.TEXT, set()),
        "goals": (FieldKind.TEXT, set()),
        "approach": (FieldKind.TEXT, set()),
        "referral_needed": (FieldKind.BOOL, set()),
    },
    Stage.PEMBINAAN: {
        "options_discussed": (FieldKind.TEXT, set()),
        "techniques_used": (FieldKind.TEXT, set()),
        "action_plan": (FieldKind.TEXT, set()),
        "commitments": (FieldKind.TEXT, set()),
        "safety_plan": (FieldKind.CHOICE, {"not_needed", "made", "made_and_sent"}),
    },
    Stage.PENILAIAN: {
        "problem_status": (FieldKind.CHOICE, {"resolved", "partly_resolved", "not_yet_resolved"}),
        "follow_up": (
            FieldKind.CHOICE,
            {"none", "another_session", "other_service", "case_conference", "referral"},
        ),
        "laijapen_date": (FieldKind.DATE, set()),
        "laijapang_date": (FieldKind.DATE, set()),
        "counselor_judgement": (FieldKind.TEXT, set()),
    },
}


def _assert_text(text: LocalizedText) -> None:
    assert text.id.strip(), "Indonesian text is empty"
    assert text.en.strip(), "English text is empty"
    assert text.id != text.en, f"Indonesian and English texts are identical: {text.id!r}"


def _assert_field(record_field: RecordField) -> None:
    _assert_text(record_field.label)
    if record_field.kind is FieldKind.CHOICE:
        assert record_field.options, f"choice field {record_field.key} has no options"
    else:
        assert record_field.options == (), (
            f"{record_field.kind} field {record_field.key} has options"
        )
    for option in record_field.options:
        assert option.label.id.strip(), option.key
        assert option.label.en.strip(), option.key


def test_stage_order() -> None:
    assert [stage.value for stage in Stage] == STAGE_ORDER
    assert [stage.number for stage in Stage] == [1, 2, 3, 4, 5]


def test_stage_next_walks_forward() -> None:
    stage: Stage | None = Stage.PENGANTARAN
    visited: list[str] = []
    while stage is not None and len(visited) < 10:
        visited.append(stage.value)
        stage = stage.next()

    assert visited == STAGE_ORDER


def test_stage_previous_walks_back() -> None:
    stage: Stage | None = Stage.PENILAIAN
    visited: list[str] = []
    while stage is not None and len(visited) < 10:
        visited.append(stage.value)
        stage = stage.previous()

    assert visited == list(reversed(STAGE_ORDER))


def test_stage_ends_have_no_neighbour() -> None:
    assert Stage.PENGANTARAN.previous() is None
    assert Stage.PENILAIAN.next() is None
    assert Stage.PENJAJAGAN.next() is Stage.PENAFSIRAN
    assert Stage.PENJAJAGAN.previous() is Stage.PENGANTARAN


def test_localized_text_language() -> None:
    text = LocalizedText(id="Halo", en="Hello")

    assert text.in_language("id") == "Halo"
    assert text.in_language("en") == "Hello"


def test_guide_stages_in_order() -> None:
    guide = load_kopasta_guide()

    assert [stage_guide.stage for stage_guide in guide.stages] == list(Stage)
    for stage in Stage:
        assert guide.guide_for(stage).stage is stage


@pytest.mark.parametrize("stage", list(Stage), ids=lambda stage: stage.value)
def test_guide_stage_complete(stage: Stage) -> None:
    """Each stage has a title, a purpose, 4-6 prompts and fields, all in both languages."""
    stage_guide = load_kopasta_guide().guide_for(stage)

    _assert_text(stage_guide.title)
    _assert_text(stage_guide.purpose)
    assert 4 <= len(stage_guide.prompts) <= 6
    for prompt in stage_guide.prompts:
        _assert_text(prompt.text)
    assert stage_guide.fields
    for record_field in stage_guide.fields:
        _assert_field(record_field)


@pytest.mark.parametrize("stage", list(Stage), ids=lambda stage: stage.value)
def test_guide_stage_fields(stage: Stage) -> None:
    stage_guide = load_kopasta_guide().guide_for(stage)

    for key, (kind, option_keys) in EXPECTED_FIELDS[stage].items():
        record_field = stage_guide.field(key)
        assert record_field.kind is kind, key
        assert {option.key for option in record_field.options} == option_keys, key


def test_guide_field_unknown_key() -> None:
    with pytest.raises(KeyError, match="no_such_field"):
        load_kopasta_guide().guide_for(Stage.PENJAJAGAN).field("no_such_field")


def test_guide_option_lookup() -> None:
    risk_level = load_kopasta_guide().guide_for(Stage.PENJAJAGAN).field("risk_level")

    assert risk_level.option("high").label.id == "Tinggi"
    with pytest.raises(KeyError):
        risk_level.option("critical")


def test_guide_field_keys_unique() -> None:
    keys = [record_field.key for record_field in load_kopasta_guide().all_fields()]

    assert len(keys) == len(set(keys))


def test_guide_risk_card_stages() -> None:
    guide = load_kopasta_guide()

    offering = [stage for stage in Stage if guide.guide_for(stage).offers_risk_card]
    assert offering == [Stage.PENJAJAGAN, Stage.PEMBINAAN]


def test_prompts_address_pupil_informally() -> None:
    """Prompts speak to a pupil with "kamu", never the formal "Anda"."""
    guide = load_kopasta_guide()

    for stage_guide in guide.stages:
        texts = [prompt.text.id for prompt in stage_guide.prompts]
        assert any(re.search(r"\bkamu\b|mu\b", text) for text in texts), stage_guide.stage
        for text in texts:
            assert not re.search(r"\bAnda\b", text), text


def test_evaluation_forms_complete() -> None:
    forms = load_evaluation_forms()

    for form in (forms.laiseg, forms.laijapen, forms.laijapang):
        _assert_text(form.title)
        _assert_text(form.intro)
        assert form.fields
        for record_field in form.fields:
            _assert_field(record_field)


def test_laiseg_questions() -> None:
    """LAISEG covers understanding, comfort and action, with an optional comment and ratings."""
    laiseg = {
        record_field.key: record_field for record_field in load_evaluation_forms().laiseg.fields
    }

    for key in ("understanding", "comfort", "action"):
        assert laiseg[key].kind is FieldKind.TEXT
        assert not laiseg[key].optional
    assert laiseg["comment"].optional

    ratings = [
        record_field for record_field in laiseg.values() if record_field.kind is FieldKind.RATING
    ]
    assert len(ratings) == 5
    assert all(record_field.optional for record_field in ratings)


def test_laijapen_and_laijapang_choices() -> None:
    forms = load_evaluation_forms()
    laijapen = {record_field.key: record_field for record_field in forms.laijapen.fields}
    laijapang = {record_field.key: record_field for record_field in forms.laijapang.fields}

    assert {option.key for option in laijapen["action_done"].options} == {"yes", "partly", "no"}
    assert laijapen["further_service_needed"].kind is FieldKind.BOOL
    assert {option.key for option in laijapang["case_status"].options} == {
        "closed",
        "continued",
        "referred",
    }
    assert laijapang["status_reason"].kind is FieldKind.TEXT


def test_rating_scale_labels() -> None:
    forms = load_evaluation_forms()

    assert len(forms.rating_scale) == RATING_MAX - RATING_MIN + 1
    assert forms.rating_label(RATING_MIN).en == "Strongly disagree"
    assert forms.rating_label(RATING_MAX).en == "Strongly agree"
    for rating in (RATING_MIN - 1, RATING_MAX + 1):
        with pytest.raises(ValueError, match="outside"):
            forms.rating_label(rating)


def test_core_imports_no_textual(tmp_path: Path) -> None:
    """The content modules stay free of Textual, so the core runs without a terminal."""
    probe = (
        "import sys, konsel.client.core.kopasta, konsel.client.core.content_files; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'textual'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
