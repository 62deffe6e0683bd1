"""Tests of the risk cue loader, the word splitter and the risk cue matcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from content_copies import edited_copy

from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.risk_cues import load_risk_cues, match_risk_cues, split_words

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
    path = edited_copy(tmp_path, "risk-cues.toml", old, new)

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
    path = edited_copy(
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
