"""Tests of the content file loaders, their validation and the risk cue matcher."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.resources
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from konsel.client.core import content_files
from konsel.client.core.content_files import (
    CONSENT_SECTIONS,
    RISK_QUESTIONS,
    SAFETY_PLAN_STEPS,
    ContentFileError,
    default_override_folder,
    load_consent,
    load_content,
    load_crisis_guide,
    load_evaluation_forms,
    load_kopasta_guide,
    load_risk_cues,
    match_risk_cues,
    split_words,
)
from konsel.client.core.kopasta import LocalizedText

DATA_FILES = [
    "kopasta.toml",
    "laiseg.toml",
    "consent-v1.toml",
    "crisis-contacts.toml",
    "risk-cues.toml",
]
CONSENT_VALUES = {
    "counselor_name": "Bu Sari",
    "school_name": "SMPN 4",
    "retention_period": "3 tahun",
}


def _packaged_text(name: str) -> str:
    return importlib.resources.files("konsel.client").joinpath("data", name).read_text("utf-8")


def _edited_copy(tmp_path: Path, name: str, old: str, new: str, target: str | None = None) -> Path:
    """Write the packaged file ``name`` with its first ``old`` replaced by ``new``."""
    text = _packaged_text(name)
    assert old in text, f"{old!r} not in {name}; update the test"
    path = tmp_path / (target or name)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


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


@pytest.mark.parametrize("name", [*DATA_FILES, "README.md"])
def test_closed_line_absent(name: str) -> None:
    """The suicide line 500-454 closed in 2014 and appears in no data file."""
    text = _packaged_text(name)

    assert not re.search(r"500\D{0,3}454", text)
    assert "500454" not in re.sub(r"\D", "", text)


def test_closed_line_rejected(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, "crisis-contacts.toml", 'phone = "110"', 'phone = "500-454"')

    with pytest.raises(ContentFileError, match="closed in 2014") as caught:
        load_crisis_guide(path)
    assert caught.value.file == str(path)


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
    path = _edited_copy(tmp_path, "kopasta.toml", old, new)

    with pytest.raises(ContentFileError) as caught:
        load_kopasta_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem
    assert str(path) in str(caught.value)


def test_kopasta_override_bad_toml(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, "kopasta.toml", "[penafsiran]", "[penafsiran")

    with pytest.raises(ContentFileError, match="invalid TOML") as caught:
        load_kopasta_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == ""
    assert "line" in caught.value.problem


def test_kopasta_override_rewording_accepted(tmp_path: Path) -> None:
    path = _edited_copy(
        tmp_path, "kopasta.toml", 'label.id = "Bidang masalah"', 'label.id = "Bidang bimbingan"'
    )

    guide = load_kopasta_guide(path)

    assert guide.all_fields()[6].label.id == "Bidang bimbingan"


def test_override_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    with pytest.raises(ContentFileError, match="not found") as caught:
        load_kopasta_guide(path)
    assert caught.value.file == str(path)


def test_override_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "kopasta.toml"
    path.write_bytes(_packaged_text("kopasta.toml").replace("Halo", "H\u00e9lo").encode("latin-1"))

    with pytest.raises(ContentFileError, match="not valid UTF-8"):
        load_kopasta_guide(path)


def test_override_too_large(tmp_path: Path) -> None:
    path = tmp_path / "risk-cues.toml"
    path.write_text("#" * (content_files.MAX_FILE_BYTES + 1), encoding="utf-8")

    with pytest.raises(ContentFileError, match="larger than"):
        load_risk_cues(path)


def test_override_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "risk-cues.toml"
    path.write_text("format = " + "[" * 20000 + "]" * 20000, encoding="utf-8")

    with pytest.raises(ContentFileError, match="nested too deeply"):
        load_risk_cues(path)


def test_laiseg_override_scale_length(tmp_path: Path) -> None:
    path = _edited_copy(
        tmp_path,
        "laiseg.toml",
        '[[rating_scale]]\nid = "Sangat setuju"',
        '[[rating_scale_extra]]\nid = "Sangat setuju"',
    )

    with pytest.raises(ContentFileError, match="exactly one for each rating") as caught:
        load_evaluation_forms(path)
    assert caught.value.key_path == "rating_scale"


def test_laiseg_override_dropped_question(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, "laiseg.toml", 'key = "comfort"', 'key = "feeling"')

    with pytest.raises(ContentFileError) as caught:
        load_evaluation_forms(path)
    assert caught.value.key_path == "laiseg.field[comfort]"


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
    path = _edited_copy(tmp_path, "consent-v1.toml", old, new, target="consent.toml")

    with pytest.raises(ContentFileError) as caught:
        load_consent(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


def test_consent_override_new_version(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    text = _packaged_text("consent-v1.toml").replace('version = "1"', 'version = "1-smpn4-2027"')
    path.write_text(text.replace("beberapa menit", "sepuluh menit"), encoding="utf-8")

    consent = load_consent(path)

    assert consent.version == "1-smpn4-2027"
    assert "sepuluh menit" in consent.render("id", CONSENT_VALUES)


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
    path = _edited_copy(tmp_path, "crisis-contacts.toml", old, new)

    with pytest.raises(ContentFileError) as caught:
        load_crisis_guide(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


def test_crisis_override_school_filled(tmp_path: Path) -> None:
    path = _edited_copy(
        tmp_path,
        "crisis-contacts.toml",
        'key = "school_tppk"',
        'key = "school_tppk"\nphone = "0274-555-0101"',
    )

    contact = load_crisis_guide(path).contact("school_tppk")

    assert contact.phone == "0274-555-0101"
    assert contact.is_filled_in


RISK_CUE_BREAKS = [
    pytest.param(
        '    "lelah hidup",',
        '    "lelah hidup",\n    "capek  HIDUP",',
        "group[self_harm].phrases[10]",
        "same as 'capek hidup'",
        id="duplicate-after-normalizing",
    ),
    pytest.param(
        '    "lelah hidup",',
        '    "lelah hidup",\n    "ingin  mati",',
        "group[self_harm].phrases[10]",
        "same as 'ingin mati'",
        id="duplicate-via-spelling",
    ),
    pytest.param(
        '    "unalive",',
        '    "unalive",\n    "a!",',
        "group[self_harm].phrases[24]",
        "too short",
        id="too-short",
    ),
    pytest.param(
        'variants = ["idup", "hdp"]',
        'variants = ["idup", "hd p"]',
        "spelling[8].variants[2]",
        "one word",
        id="two-word-variant",
    ),
    pytest.param(
        'variants = ["idup", "hdp"]',
        'variants = ["idup", "lg"]',
        "spelling[8].variants[2]",
        "listed twice",
        id="duplicate-variant",
    ),
    pytest.param(
        'standard = "lagi"',
        'standard = "lg"',
        "spelling[6].variants[1]",
        "equals its standard",
        id="variant-is-standard",
    ),
    pytest.param(
        'standard = "hidup"',
        'standard = "ajah"',
        "spelling[8].standard",
        "variant of 'saja'",
        id="standard-is-variant",
    ),
    pytest.param(
        'phrases = [\n    "dilecehkan",',
        'phrases = [\n    "",\n    "dilecehkan",',
        "group[sexual_violence].phrases[1]",
        "empty text",
        id="empty-phrase",
    ),
]


@pytest.mark.parametrize(("old", "new", "key_path", "problem"), RISK_CUE_BREAKS)
def test_risk_cues_override_broken(
    tmp_path: Path, old: str, new: str, key_path: str, problem: str
) -> None:
    path = _edited_copy(tmp_path, "risk-cues.toml", old, new)

    with pytest.raises(ContentFileError) as caught:
        load_risk_cues(path)

    assert caught.value.file == str(path)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


# ---------------------------------------------------------------------------------------
# Risk cue matching

RISK_CUE_MATCHES = [
    ("Aku pengen mati aja", ["ingin mati"]),
    ("aku pengeeen matiii", ["ingin mati"]),
    ("PENGEN MATI", ["ingin mati"]),
    ("p3ng3n m4t1", ["ingin mati"]),
    ("gamau idup lg", ["tidak ingin hidup lagi"]),
    ("aku nggak mau hidup lagi bu", ["tidak ingin hidup lagi"]),
    ("udah g4k ku4t", ["sudah tidak kuat"]),
    ("kepikiran bunuh diri terus", ["bunuh diri"]),
    ("kepikiran bunuhdiri", ["bunuh diri"]),
    ("kepikiran bundir", ["bundir"]),
    ("bunuh   diri", ["bunuh diri"]),
    ("bunuh\u200bdiri", ["bunuh diri"]),
    ("Aku ingin ménghilang", ["ingin menghilang"]),
    ("ｂｕｎｕｈ ｄｉｒｉ", ["bunuh diri"]),
    ("5elf-h4rm lagi semalam", ["self harm"]),
    ("aku nyilet tangan", ["menyilet"]),
    ("capek idup", ["capek hidup"]),
    ("mending mati aja", ["mending mati"]),
    ("aku dipukulin ayah", ["dipukul"]),
    ("di kelas aku dibully", ["dirundung"]),
    ("aku dilecehin guru les", ["dilecehkan"]),
    ("dipegang-pegang sama om", ["dipegang-pegang"]),
    ("dipegang2 sama om", ["dipegang2"]),
    ("mau kabur dari rumah", ["kabur dari rumah"]),
    ("pengen mati, soalnya dipukul terus", ["ingin mati", "dipukul"]),
    ("dipukul lagi, dipukul terus", ["dipukul"]),
]

RISK_CUE_NON_MATCHES = [
    "Aku mau matiin HP dulu ya",
    "Lampu kamarnya mati dari tadi",
    "Capek hidupin laptop terus",
    "Lagunya menyayat hati banget",
    "Aku jadi pemukul di tim kasti",
    "Tugas sejarah tentang pembunuhan raja",
    "Aku ingin masuk SMA favorit",
    "Besok ulangan matematika, deg-degan",
    "Nomor darurat itu 112",
    "Mati gaya di depan kelas tadi",
    "",
]


@pytest.mark.parametrize(("text", "expected"), RISK_CUE_MATCHES)
def test_risk_cue_matches(text: str, expected: list[str]) -> None:
    assert match_risk_cues(text) == expected


@pytest.mark.parametrize("text", RISK_CUE_NON_MATCHES)
def test_risk_cue_innocent(text: str) -> None:
    assert match_risk_cues(text) == []


def test_risk_cue_group_of() -> None:
    cues = load_risk_cues()

    assert cues.group_of("ingin mati").key == "self_harm"
    assert cues.group_of("dipukul").key == "violence"
    with pytest.raises(KeyError):
        cues.group_of("bahagia")


def test_risk_cues_school_phrase(tmp_path: Path) -> None:
    """A school adds its own phrase and slang spelling, and both match."""
    path = _edited_copy(
        tmp_path,
        "risk-cues.toml",
        '    "kabur dari rumah",',
        '    "kabur dari rumah",\n    "dijambak",',
    )
    text = (
        path.read_text(encoding="utf-8")
        + '\n[[spelling]]\nstandard = "dijambak"\nvariants = ["dijambakin"]\n'
    )
    path.write_text(text, encoding="utf-8")

    cues = load_risk_cues(path)

    assert match_risk_cues("aku dijambakin kakak", cues) == ["dijambak"]
    assert match_risk_cues("aku dijambakin kakak") == []


SPLIT_CASES: list[tuple[str, list[str]]] = [
    ("Halo, Bu!", ["halo", "bu"]),
    ("teman2 sekelas", ["teman", "teman", "sekelas"]),
    ("m4t1", ["mati"]),
    ("s@y@ $edih", ["saya", "sedih"]),
    ("nomor 112 dan 08111", ["nomor", "112", "dan", "08111"]),
    ("Méng-hilang", ["meng", "hilang"]),
    ("baaaangeeet", ["banget"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_split_words(text: str, expected: list[str]) -> None:
    assert split_words(text) == expected


# ---------------------------------------------------------------------------------------
# The override folder


def test_content_folder_override(tmp_path: Path) -> None:
    _edited_copy(
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
    _edited_copy(tmp_path, "consent-v1.toml", 'version = "1"', 'version = "2"')

    with pytest.raises(ContentFileError, match="unknown file name") as caught:
        load_content(tmp_path)
    assert caught.value.file == str(tmp_path / "consent-v1.toml")


def test_content_folder_consent_copy(tmp_path: Path) -> None:
    _edited_copy(
        tmp_path, "consent-v1.toml", 'version = "1"', 'version = "2"', target="consent.toml"
    )

    assert load_content(tmp_path).consent.version == "2"


def test_content_folder_absent(tmp_path: Path) -> None:
    bundle = load_content(tmp_path / "not-created")

    assert bundle.consent.version == "1"


def test_content_folder_broken_file(tmp_path: Path) -> None:
    _edited_copy(tmp_path, "laiseg.toml", 'kind = "rating"', 'kind = "stars"')

    with pytest.raises(ContentFileError) as caught:
        load_content(tmp_path)
    assert caught.value.key_path == "laiseg.field[rating_thinking].kind"


def test_default_override_folder() -> None:
    folder = default_override_folder()

    assert folder.name == "content"
    assert folder.parent.name == "konsel"
