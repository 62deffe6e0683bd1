"""Tests for the counseling report export, on a real store with fixed records and a fixed clock.

The expected reports live in tests/client/data/. After a deliberate change to the report
layout, rewrite them with ``.venv/bin/python tests/client/test_report.py`` and review the
diff before keeping it.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import sys
import tempfile
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from konsel.client.core.content_files import load_evaluation_forms, load_kopasta_guide
from konsel.client.core.errors import RecordNotFound
from konsel.client.core.passphrase import KdfParams
from konsel.client.core.profile import Profile, resolve_profile
from konsel.client.core.report import Report, export_range, export_session, write_report
from konsel.client.core.report_records import ReportContext, collect_session
from konsel.client.core.report_text import escape_text, format_date
from konsel.client.core.store import Store

DATA = Path(__file__).parent / "data"
UTC = datetime.UTC
WIB = datetime.timezone(datetime.timedelta(hours=7))
COUNSELOR = "Dra. Sri Wahyuni, S.Pd."

HOSTILE_NOTE = (
    "# Bukan judul\n"
    "- bukan daftar\n"
    "1. bukan nomor\n"
    "> bukan kutipan\n"
    "Klik [hadiah](javascript:alert(1)) atau <script>alert('x')</script> "
    "<img src=x onerror=alert(1)> &amp; https://contoh.test/a www.contoh.test "
    "ayu@contoh.test | a | b | **tebal** _miring_ `kode` ~~coret~~\n"
    "    ```\n"
    "---"
)


class FixedClock:
    """A store clock that returns a set time and moves only when a test moves it."""

    def __init__(self) -> None:
        self.now_ms = 0

    def __call__(self) -> int:
        return self.now_ms

    def set(self, moment: datetime.datetime) -> None:
        self.now_ms = int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class FixedRecords:
    """Ids of the sessions that :func:`fill_store` records."""

    full: int
    """Ayu's closed session on Thursday 3 December 2026, with every record filled."""
    open_without_laiseg: int
    """Bima's open session on 5 December 2026: no LAISEG, most fields empty."""
    hostile_note: int
    """Citra's session on 1 December 2026 00:30 WIB, whose note is Markdown and HTML."""
    before_range: int
    """A session on 30 November 2026 23:59 WIB, which is still 30 November in WIB."""
    at_range_end: int
    """A session at 1 January 2027 00:00 WIB, the first moment after December."""


def wib(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=WIB)


def fill_store(store: Store, clock: FixedClock) -> FixedRecords:
    """Record the fixed counseling sessions that the expected reports show."""
    december_3 = datetime.date(2026, 12, 3)

    clock.set(wib(datetime.date(2026, 11, 20), 10, 0))
    ayu = store.add_contact("Ayu Kartikasari", "student", b"\x01" * 32, verified=True)
    bima = store.add_contact("Bima Saputra", "student", b"\x02" * 32)
    citra = store.add_contact("Citra <Dewi>", "student", b"\x03" * 32)

    clock.set(wib(december_3, 8, 55))
    store.record_consent(ayu.id, "online_counseling", "1", granted=True, text_version="2026.1")

    clock.set(wib(december_3, 9, 0))
    full = store.start_session(ayu.id)
    store.record_consent(ayu.id, "guardian", "1", granted=True, session_id=full)
    store.set_field(full, "pengantaran", "arrival", "own_initiative")
    store.set_field(full, "pengantaran", "consent_given", "true")
    store.set_field(full, "pengantaran", "guardian_consent", "given")
    store.set_field(full, "pengantaran", "identity_check", "safety_code")
    store.set_field(full, "pengantaran", "disconnect_plan", "Menunggu 10 menit, lalu lanjut Senin.")
    clock.set(wib(december_3, 9, 3))
    store.add_note(full, "pengantaran", "Konseli datang tepat waktu, tampak tegang.")

    clock.set(wib(december_3, 9, 5))
    store.change_stage(full, "penjajagan")
    store.set_field(
        full,
        "penjajagan",
        "problem_in_own_words",
        "Aku diejek terus di grup kelas.\nSudah dua minggu, sampai malas sekolah.",
    )
    store.set_field(full, "penjajagan", "problem_area", "sosial")
    store.set_field(full, "penjajagan", "factors", "Kurang percaya diri; grup kelas ramai.")
    store.set_field(full, "penjajagan", "strengths_and_support", "Dekat dengan kakak.")
    store.set_field(full, "penjajagan", "risk_level", "low")
    clock.set(wib(december_3, 9, 12))
    store.add_note(full, "penjajagan", "Tidak ada tanda menyakiti diri; tetap pantau.")

    clock.set(wib(december_3, 9, 20))
    store.change_stage(full, "penafsiran")
    store.set_field(full, "penafsiran", "core_problem", "Perundungan daring di grup kelas.")
    store.set_field(full, "penafsiran", "goals", "Berani melapor ke wali kelas minggu ini.")
    store.set_field(full, "penafsiran", "referral_needed", "false")

    # Back to exploration for three minutes, then on again: the stage is visited twice.
    clock.set(wib(december_3, 9, 28))
    store.change_stage(full, "penjajagan")
    clock.set(wib(december_3, 9, 31))
    store.change_stage(full, "penafsiran")

    clock.set(wib(december_3, 9, 35))
    store.change_stage(full, "pembinaan")
    store.set_field(full, "pembinaan", "techniques_used", "Latihan kalimat tegas.")
    store.set_field(
        full, "pembinaan", "action_plan", "Senin: cerita ke wali kelas, ditemani kakak."
    )
    store.set_field(full, "pembinaan", "safety_plan", "not_needed")

    clock.set(wib(december_3, 9, 45))
    store.change_stage(full, "penilaian")
    store.set_field(full, "penilaian", "problem_status", "partly_resolved")
    store.set_field(full, "penilaian", "follow_up", "another_session")
    store.set_field(full, "penilaian", "laijapen_date", "2026-12-10")
    store.set_field(full, "penilaian", "laijapang_date", "2027-03-03")
    store.set_field(full, "penilaian", "counselor_judgement", "Konseli terbuka dan punya rencana.")
    store.store_evaluation(
        full,
        "laiseg",
        {
            "understanding": "Diam saja tidak membuat ejekan berhenti.",
            "comfort": "Lebih lega dari tadi.",
            "action": "Cerita ke wali kelas hari Senin.",
            "rating_feeling": "4",
            "rating_action": "5",
        },
    )
    store.add_follow_up(
        full, "laijapen", int(wib(datetime.date(2026, 12, 10), 9, 0).timestamp() * 1000)
    )
    store.add_follow_up(
        full,
        "laijapang",
        int(wib(datetime.date(2027, 3, 3), 9, 0).timestamp() * 1000),
        note="Tanyakan juga ke wali kelas.",
    )
    clock.set(wib(december_3, 9, 52))
    store.end_session(full)

    clock.set(wib(datetime.date(2026, 12, 10), 10, 0))
    (laijapen,) = store.due_follow_ups()
    store.complete_follow_up(laijapen.id)
    store.store_evaluation(
        full,
        "laijapen",
        {"action_done": "yes", "changes": "Ejekan berkurang.", "further_service_needed": "false"},
    )

    clock.set(wib(datetime.date(2026, 12, 5), 13, 15))
    open_without_laiseg = store.start_session(bima.id)
    store.set_field(open_without_laiseg, "pengantaran", "arrival", "referred")
    clock.set(wib(datetime.date(2026, 12, 5), 13, 40))
    store.change_stage(open_without_laiseg, "penjajagan")

    clock.set(wib(datetime.date(2026, 12, 1), 0, 30))
    hostile_note = store.start_session(citra.id)
    store.add_note(hostile_note, "pengantaran", HOSTILE_NOTE)
    store.set_field(hostile_note, "pengantaran", "disconnect_plan", "<b>tebal</b> [x](y)")
    clock.set(wib(datetime.date(2026, 12, 1), 0, 45))
    store.end_session(hostile_note)

    clock.set(wib(datetime.date(2026, 11, 30), 23, 59))
    before_range = store.start_session(bima.id)
    clock.set(wib(datetime.date(2027, 1, 1), 0, 0))
    at_range_end = store.start_session(bima.id)

    return FixedRecords(full, open_without_laiseg, hostile_note, before_range, at_range_end)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def filled(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams, clock: FixedClock
) -> Iterator[tuple[Store, FixedRecords]]:
    """A store of the fixed records, kept open for the test."""
    store = Store.create(profile, passphrase, kdf=cheap_kdf, clock=clock)
    records = fill_store(store, clock)
    yield store, records
    store.close()


def expected(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def december(store: Store) -> Report:
    return export_range(
        store, datetime.date(2026, 12, 1), datetime.date(2027, 1, 1), counselor_name=COUNSELOR
    )


def expected_outputs(store: Store, records: FixedRecords) -> dict[str, str]:
    """Return each expected file's name with the text the export writes for it now."""
    session = export_session(store, records.full, counselor_name=COUNSELOR)
    english = export_session(store, records.full, counselor_name=COUNSELOR, language="en")
    month = december(store)
    return {
        "report-session.id.md": session.markdown,
        "report-session.en.md": english.markdown,
        "report-session.json": session.json,
        "report-december.id.md": month.markdown,
        "report-december.json": month.json,
    }


def html_of(markdown: str) -> str:
    """Render Markdown as GitHub-like HTML, with bare addresses turned into links."""
    return MarkdownIt("gfm-like").render(markdown)


# ---------------------------------------------------------------------------------------
# Expected files


@pytest.mark.parametrize(
    "name",
    [
        "report-session.id.md",
        "report-session.en.md",
        "report-session.json",
        "report-december.id.md",
        "report-december.json",
    ],
)
def test_export_matches_expected_file(filled: tuple[Store, FixedRecords], name: str) -> None:
    store, records = filled
    assert expected_outputs(store, records)[name] == expected(name)


# ---------------------------------------------------------------------------------------
# One session


def test_session_times_in_wib(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    markdown = export_session(store, records.full).markdown

    assert "- **Hari, tanggal:** Kamis, 3 Desember 2026" in markdown
    assert "- **Waktu mulai:** 09.00 WIB" in markdown
    assert "- **Waktu selesai:** 09.52 WIB" in markdown
    assert "(dihitung sebagai jam kerja guru BK):** 52 menit" in markdown


def test_session_json_times_have_offset(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    session = json.loads(export_session(store, records.full).json)["sessions"][0]

    assert session["started_at"] == "2026-12-03T09:00:00+07:00"
    assert session["ended_at"] == "2026-12-03T09:52:00+07:00"
    assert session["duration_minutes"] == 52
    assert session["follow_ups"][0]["due_at"] == "2026-12-10T09:00:00+07:00"


def test_session_other_zone(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    report = export_session(store, records.full, tz="Asia/Makassar")

    assert "- **Waktu mulai:** 10.00 WITA" in report.markdown
    assert json.loads(report.json)["sessions"][0]["started_at"] == "2026-12-03T10:00:00+08:00"


def test_session_zone_without_local_name(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    markdown = export_session(store, records.full, tz="Asia/Kolkata").markdown

    assert "- **Waktu mulai:** 07.30 IST" in markdown


def test_session_zone_without_abbreviation(filled: tuple[Store, FixedRecords]) -> None:
    """A zone the tz database names only by its offset shows as UTC plus that offset."""
    store, records = filled
    markdown = export_session(store, records.full, tz="Etc/GMT-7").markdown

    assert "- **Waktu mulai:** 09.00 UTC+07:00" in markdown


def test_session_stage_durations(filled: tuple[Store, FixedRecords]) -> None:
    """A stage entered twice sums both visits and starts at its first visit."""
    store, records = filled
    stages = json.loads(export_session(store, records.full).json)["sessions"][0]["stages"]

    assert stages["exploration"]["first_started_at"] == "2026-12-03T09:05:00+07:00"
    assert stages["exploration"]["duration_minutes"] == 15 + 3
    assert stages["exploration"]["visit_count"] == 2
    assert stages["interpretation"]["duration_minutes"] == 8 + 4
    assert list(stages) == [
        "introduction",
        "exploration",
        "interpretation",
        "intervention",
        "evaluation",
    ]


def test_session_without_laiseg(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    report = export_session(store, records.open_without_laiseg)
    session = json.loads(report.json)["sessions"][0]

    assert "LAISEG belum diisi." in report.markdown
    assert "- **Waktu selesai:** sesi belum ditutup" in report.markdown
    assert "| 2 | Penjajagan | 13.40 WIB | masih berlangsung | - |" in report.markdown
    assert session["laiseg"] is None
    assert session["ended_at"] is None
    assert session["duration_minutes"] is None
    assert session["stages"]["exploration"]["duration_minutes"] is None


def test_session_unfilled_fields(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    report = export_session(store, records.open_without_laiseg)
    fields = json.loads(report.json)["sessions"][0]["stages"]["exploration"]["fields"]

    assert "- **Masalah menurut kata-kata konseli sendiri:** -" in report.markdown
    assert "- **Tingkat risiko menurut penilaian guru BK:** -" in report.markdown
    assert "- **Status masalah:** -" in report.markdown
    assert fields["problem_in_own_words"] is None
    assert fields["risk_level"] is None


def test_session_unknown_field_key_kept(filled: tuple[Store, FixedRecords]) -> None:
    """A value under a key kopasta.toml does not list is shown under its raw key."""
    store, records = filled
    store.set_field(records.open_without_laiseg, "penjajagan", "kelas", "IX-B")
    report = export_session(store, records.open_without_laiseg)
    fields = json.loads(report.json)["sessions"][0]["stages"]["exploration"]["fields"]

    assert "- **kelas:** IX-B" in report.markdown
    assert fields["kelas"] == "IX-B"


def test_session_english_labels(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    markdown = export_session(store, records.full, language="en").markdown

    assert markdown.startswith("# Individual Counseling Service Report\n")
    assert "- **Day, date:** Thursday, 3 December 2026" in markdown
    assert "- **Start time:** 09:00 WIB" in markdown
    assert "- **Area of the problem:** Social" in markdown
    assert "- **Risk level in the counselor's judgement:** Low" in markdown
    assert "Penjajagan" not in markdown


def test_session_json_same_in_english(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    indonesian = export_session(store, records.full)
    english = export_session(store, records.full, language="en")

    assert english.json == indonesian.json


def test_consent_version_shown(filled: tuple[Store, FixedRecords]) -> None:
    """The report shows the stored text version, and "-" for a consent recorded without one."""
    store, records = filled
    report = export_session(store, records.full)
    consents = json.loads(report.json)["sessions"][0]["consents"]

    assert (
        "- **Persetujuan konseling daring:** diberikan; versi naskah: 2026\\.1;" in report.markdown
    )
    assert "- **Persetujuan orang tua/wali:** diberikan; versi naskah: -;" in report.markdown
    assert consents[0]["text_version"] == "2026.1"
    assert consents[0]["text"] == "1"
    assert consents[1]["kind"] == "guardian"
    assert consents[1]["text_version"] is None


def test_collect_evaluation_times(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    context = ReportContext(
        language="id",
        time_zone=zoneinfo.ZoneInfo("Asia/Jakarta"),
        guide=load_kopasta_guide(),
        forms=load_evaluation_forms(),
    )

    record = collect_session(store, records.full, context, COUNSELOR)

    assert [e.kind for e in record.evaluations] == ["laiseg", "laijapen"]
    assert record.evaluations[0].recorded_at == wib(datetime.date(2026, 12, 3), 9, 45)
    assert record.evaluations[1].recorded_at == wib(datetime.date(2026, 12, 10), 10, 0)
    assert record.evaluations[1].recorded_at.tzinfo == context.time_zone
    assert [f.done_at is None for f in record.follow_ups] == [False, True]


def test_session_missing_raises(filled: tuple[Store, FixedRecords]) -> None:
    store, _ = filled
    with pytest.raises(RecordNotFound) as caught:
        export_session(store, 999)
    assert caught.value.code == "record_not_found"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"language": "jv"}, "invalid report language 'jv'"),
        ({"tz": "Asia/Bandung"}, "unknown time zone 'Asia/Bandung'"),
        ({"tz": "../etc/passwd"}, "unknown time zone"),
    ],
)
def test_session_invalid_options(
    filled: tuple[Store, FixedRecords], options: dict[str, str], message: str
) -> None:
    store, records = filled
    with pytest.raises(ValueError, match=message):
        export_session(store, records.full, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Escaping


def test_note_markup_stays_text(filled: tuple[Store, FixedRecords]) -> None:
    """A note full of Markdown and HTML renders as one list item of plain text."""
    store, records = filled
    html = html_of(export_session(store, records.hostile_note).markdown)

    assert "<a " not in html
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "<h1>Bukan" not in html
    assert "<blockquote>" not in html
    assert "<code>" not in html
    assert "<hr" not in html
    assert "<strong>tebal</strong>" not in html
    assert "<em>miring</em>" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert "[hadiah](javascript:alert(1))" in html
    assert "https://contoh.test/a www.contoh.test ayu@contoh.test" in html
    assert "<li>00.30 WIB: # Bukan judul<br />\n- bukan daftar<br />\n1. bukan nomor" in html


def test_renderer_links_raw_addresses() -> None:
    """The renderer the escaping tests rely on does turn bare addresses into links."""
    html = html_of("see https://contoh.test/a and <b>x</b>")

    assert '<a href="https://contoh.test/a">' in html
    assert "<b>x</b>" in html


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("biasa saja", "biasa saja"),
        ("", "-"),
        ("  \n\n ", "-"),
        ("# judul", "\\# judul"),
        ("- daftar", "\\- daftar"),
        ("+ daftar", "\\+ daftar"),
        ("12. nomor", "12\\. nomor"),
        ("3) nomor", "3\\) nomor"),
        ("jam 3.15 tadi", "jam 3\\.15 tadi"),
        ("selesai. Lalu", "selesai. Lalu"),
        ("a-b", "a-b"),
        ("<b>", "\\<b\\>"),
        ("[x](y)", "\\[x\\](y)"),
        ("https://a", "https\\://a"),
        ("a@b", "a\\@b"),
        ("a\\b", "a\\\\b"),
        ("baris 1\r\nbaris 2", "baris 1\\\n  baris 2"),
        ("tab\there", "tab here"),
        ("bel\x07 \u202eabc", "bel\ufffd \ufffdabc"),
    ],
)
def test_escape_text_cases(typed: str, escaped: str) -> None:
    assert escape_text(typed, "  ") == escaped


# ---------------------------------------------------------------------------------------
# Date range


def test_range_picks_sessions_in_range(filled: tuple[Store, FixedRecords]) -> None:
    """Sessions from 1 December 00:00 WIB up to, not including, 1 January 00:00 WIB."""
    store, records = filled
    report = december(store)

    assert report.session_ids == (
        records.hostile_note,
        records.full,
        records.open_without_laiseg,
    )
    assert records.before_range not in report.session_ids
    assert records.at_range_end not in report.session_ids


def test_range_in_utc_moves_boundary(filled: tuple[Store, FixedRecords]) -> None:
    """In UTC, 1 December 00:30 WIB is still 30 November, and 00:00 WIB on 1 January is in 2026."""
    store, records = filled
    report = export_range(store, datetime.date(2026, 12, 1), datetime.date(2027, 1, 1), tz="UTC")

    assert report.session_ids == (records.full, records.open_without_laiseg, records.at_range_end)


def test_range_aware_datetimes(filled: tuple[Store, FixedRecords]) -> None:
    store, records = filled
    start = datetime.datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    report = export_range(store, start, start + datetime.timedelta(minutes=1))

    assert report.session_ids == (records.full,)


def test_range_empty(filled: tuple[Store, FixedRecords]) -> None:
    store, _ = filled
    report = export_range(store, datetime.date(2026, 6, 1), datetime.date(2026, 7, 1))

    assert report.session_ids == ()
    assert "Tidak ada sesi konseling yang dimulai pada periode ini." in report.markdown
    assert "- **Jumlah sesi:** 0" in report.markdown
    assert json.loads(report.json)["sessions"] == []


def test_range_end_before_start(filled: tuple[Store, FixedRecords]) -> None:
    store, _ = filled
    with pytest.raises(ValueError, match="before its start"):
        export_range(store, datetime.date(2027, 1, 1), datetime.date(2026, 12, 1))


def test_range_json_header(filled: tuple[Store, FixedRecords]) -> None:
    store, _ = filled
    document = json.loads(december(store).json)

    assert document["format"] == "konsel-report"
    assert document["version"] == 1
    assert document["time_zone"] == "Asia/Jakarta"
    assert document["range"] == {
        "start": "2026-12-01T00:00:00+07:00",
        "end": "2027-01-01T00:00:00+07:00",
    }


# ---------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("day", "indonesian", "english"),
    [
        (datetime.date(2026, 11, 30), "Senin, 30 November 2026", "Monday, 30 November 2026"),
        (datetime.date(2026, 12, 1), "Selasa, 1 Desember 2026", "Tuesday, 1 December 2026"),
        (datetime.date(2026, 12, 2), "Rabu, 2 Desember 2026", "Wednesday, 2 December 2026"),
        (datetime.date(2026, 12, 3), "Kamis, 3 Desember 2026", "Thursday, 3 December 2026"),
        (datetime.date(2026, 12, 4), "Jumat, 4 Desember 2026", "Friday, 4 December 2026"),
        (datetime.date(2026, 12, 5), "Sabtu, 5 Desember 2026", "Saturday, 5 December 2026"),
        (datetime.date(2026, 12, 6), "Minggu, 6 Desember 2026", "Sunday, 6 December 2026"),
        (datetime.date(2027, 1, 1), "Jumat, 1 Januari 2027", "Friday, 1 January 2027"),
        (datetime.date(2027, 2, 17), "Rabu, 17 Februari 2027", "Wednesday, 17 February 2027"),
        (datetime.date(2027, 8, 17), "Selasa, 17 Agustus 2027", "Tuesday, 17 August 2027"),
    ],
)
def test_format_date_names(day: datetime.date, indonesian: str, english: str) -> None:
    assert format_date(day, "id") == indonesian
    assert format_date(day, "en") == english


# ---------------------------------------------------------------------------------------
# Writing files


def test_write_report_mode_0600(filled: tuple[Store, FixedRecords], tmp_path: Path) -> None:
    store, records = filled
    report = export_session(store, records.full)
    path = tmp_path / "laporan.md"

    write_report(path, report.markdown)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == report.markdown


def test_write_report_tightens_existing(tmp_path: Path) -> None:
    path = tmp_path / "laporan.json"
    path.write_text("lama, lebih panjang dari isi baru", encoding="utf-8")
    os.chmod(path, 0o644)

    write_report(path, "{}\n")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == "{}\n"


def test_write_report_rejects_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target.md"
    target.write_text("asli", encoding="utf-8")
    link = tmp_path / "laporan.md"
    link.symlink_to(target)

    with pytest.raises(OSError):
        write_report(link, "rahasia")
    assert target.read_text(encoding="utf-8") == "asli"


# ---------------------------------------------------------------------------------------
# Rewriting the expected files


def _rewrite_expected_files() -> None:
    """Rewrite tests/client/data/report-* from a fresh store of the fixed records."""
    import nacl.pwhash

    kdf = KdfParams(
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN
    )
    with tempfile.TemporaryDirectory() as directory:
        clock = FixedClock()
        profile = resolve_profile(directory=Path(directory) / "profile")
        with Store.create(profile, "kopi susu di kantin jam tujuh", kdf=kdf, clock=clock) as store:
            records = fill_store(store, clock)
            outputs = expected_outputs(store, records)

    DATA.mkdir(exist_ok=True)
    for name, content in outputs.items():
        (DATA / name).write_text(content, encoding="utf-8", newline="\n")
        print(f"wrote {DATA / name}", file=sys.stderr)


if __name__ == "__main__":
    _rewrite_expected_files()
