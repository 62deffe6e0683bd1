"""Tests of the crisis contact and crisis step loader."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from content_copies import edited_copy

from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.crisis_file import RISK_QUESTIONS, SAFETY_PLAN_STEPS, load_crisis_guide


def test_crisis_national_contacts() -> None:
    guide = load_crisis_guide()

    assert guide.contact("emergency").phone == "112"
    assert guide.contact("police").phone == "110"
    assert guide.contact("ambulance").phone == "119"
    assert (guide.contact("sejiwa").phone, guide.contact("sejiwa").extension) == ("119", "8")
    assert guide.contact("healing119").website == "healing119.id"
    assert guide.contact("sapa129").phone == "129"
    assert guide.contact("sapa129").whatsapp == "08111-129-129"


def test_crisis_school_slots_empty() -> None:
    guide = load_crisis_guide()

    for key in ("school_tppk", "district_task_force", "school_office"):
        contact = guide.contact(key)
        assert contact.filled_by_school
        assert not contact.is_filled_in


def test_crisis_steps_complete() -> None:
    guide = load_crisis_guide()

    assert [step.key for step in guide.risk_questions] == list(RISK_QUESTIONS)
    assert [step.key for step in guide.safety_plan_steps] == list(SAFETY_PLAN_STEPS)


def test_crisis_check_overdue() -> None:
    guide = load_crisis_guide()

    assert not guide.is_check_overdue(guide.checked + datetime.timedelta(days=365))
    assert guide.is_check_overdue(guide.checked + datetime.timedelta(days=366))


CRISIS_BREAKS = [
    pytest.param(
        'extension = "8"',
        'extension = "delapan"',
        "contact[sejiwa].extension",
        "invalid value",
        id="bad-extension",
    ),
    pytest.param(
        'phone = "119"\nextension = "8"',
        'extension = "8"',
        "contact[sejiwa].extension",
        "needs a phone number",
        id="extension-without-phone",
    ),
    pytest.param(
        'key = "police"\nphone = "110"',
        'key = "police"',
        "contact[police].phone",
        "filled_by_school",
        id="no-channel",
    ),
    pytest.param(
        'whatsapp = "08111-129-129"',
        'whatsapp = "wa.me/08111"',
        "contact[sapa129].whatsapp",
        "invalid value",
        id="bad-whatsapp",
    ),
    pytest.param(
        "checked = 2026-12-04",
        "checked = 2026-12-04T08:00:00",
        "checked",
        "without a time",
        id="datetime-checked",
    ),
    pytest.param(
        "checked = 2026-12-04",
        'checked = "2026-12-04"',
        "checked",
        "expected a date",
        id="string-checked",
    ),
    pytest.param(
        'key = "means"',
        'key = "weapons"',
        "risk_question",
        "'means'",
        id="missing-risk-question",
    ),
    pytest.param(
        'key = "ambulance"',
        'key = "police"',
        "contact[police].key",
        "duplicate key",
        id="duplicate-contact",
    ),
]


@pytest.mark.parametrize(("old", "new", "key_path", "problem"), CRISIS_BREAKS)
def test_crisis_override_broken(
    tmp_path: Path, old: str, new: str, key_path: str, problem: str
) -> None:
    path = edited_copy(tmp_path, "crisis-contacts.toml", old, new)

    with pytest.raises(ContentFileError) as caught:
        load_crisis_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


def test_crisis_override_school_filled(tmp_path: Path) -> None:
    path = edited_copy(
        tmp_path,
        "crisis-contacts.toml",
        'key = "school_tppk"',
        'key = "school_tppk"\nphone = "0274-555-0101"',
    )

    contact = load_crisis_guide(path).contact("school_tppk")

    assert contact.phone == "0274-555-0101"
    assert contact.is_filled_in
