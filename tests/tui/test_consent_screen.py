"""Tests of the konseli's consent screen: the answer reaches the counselor's store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine_helpers import Relay, new_engine, pair
from pairing_host import ScreenHost, click_button, shown, wait_for_text
from textual.containers import VerticalScroll
from textual.widgets import Static

from konsel.client.core.consent_file import CONSENT_FILE, load_consent
from konsel.client.core.engine import Engine
from konsel.client.core.events import ConsentReceived, EventStream
from konsel.client.tui import catalog
from konsel.client.tui.screens.consent import ConsentScreen

SIZE = (80, 24)
VALUES = {
    "counselor_name": "Bu Sari",
    "school_name": "SMP Negeri 4",
    "retention_period": "3 tahun",
}
PACKAGED = Path(__file__).resolve().parents[2] / "client" / "data" / CONSENT_FILE


async def paired(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine, int, int]:
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    return counselor, student, on_counselor, on_student


async def next_consent(stream: EventStream) -> ConsentReceived:
    """Return the next ConsentReceived event; fail after 20 s."""
    async with asyncio.timeout(20):
        while True:
            event = await anext(stream)
            if isinstance(event, ConsentReceived):
                return event


def consent_screen(student: Engine, contact_id: int, **options: Path) -> ConsentScreen:
    return ConsentScreen(
        student,
        contact_id,
        school_name=VALUES["school_name"],
        retention_period=VALUES["retention_period"],
        **options,
    )


def shown_sections(screen: ConsentScreen) -> list[str]:
    return [
        str(widget.content) for widget in screen.query_one("#text", VerticalScroll).query(Static)
    ]


async def test_consent_accept_reaches_counselor(tmp_path: Path, tui_relay: Relay) -> None:
    """The text shows with the names filled in; an acceptance lands in the counselor's store."""
    counselor, student, on_counselor, on_student = await paired(tmp_path, tui_relay)
    consent = load_consent()
    counselor.consent_texts[consent.version] = consent.render("id", VALUES)
    stream = counselor.events()
    try:
        screen = consent_screen(student, on_student)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the consent title")
            assert title == consent.title.id
            sections = shown_sections(screen)
            assert len(sections) == 2 * len(consent.sections)
            assert any("Konselormu adalah Bu Sari, guru BK di SMP Negeri 4." in s for s in sections)
            assert any("3 tahun" in s for s in sections)
            assert not any("{" in s for s in sections)

            await click_button(pilot, screen, "#agree")
            assert shown(screen, "#status").startswith("Pilih dulu satu jawaban")
            await pilot.click("#not_needed")
            await click_button(pilot, screen, "#agree")
            await wait_for_text(screen, "#status", lambda s: "Terima kasih" in s, "thanks")
            received = await next_consent(stream)
            await click_button(pilot, screen, "#close")
            await pilot.pause()

        assert app.results == [True]
        assert received.contact_id == on_counselor
        assert received.accepted is True
        assert received.guardian_consent == "not_needed"
        assert received.text_version == consent.version
        (stored,) = await counselor.record("list_consents", on_counselor)
        assert stored["granted"] == 1
        assert stored["text_version"] == consent.version
        assert stored["consent_text"] == consent.render("id", VALUES)
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_consent_decline_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """Declining sends a refusal and shows what happens next, in English."""
    counselor, student, on_counselor, on_student = await paired(tmp_path, tui_relay)
    stream = counselor.events()
    try:
        catalog.use("en")
        screen = consent_screen(student, on_student)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the consent title")
            assert title == load_consent().title.en
            await click_button(pilot, screen, "#decline")
            declined = await wait_for_text(screen, "#status", bool, "the reply")
            received = await next_consent(stream)
            await pilot.press("escape")
            await pilot.pause()

        assert declined.startswith("Your answer was sent to the counselor.")
        assert "meet the counselor in person" in declined
        assert app.results == [False]
        assert received.accepted is False
        assert received.guardian_consent == "pending"
        (stored,) = await counselor.record("list_consents", on_counselor)
        assert stored["granted"] == 0
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_consent_school_override(tmp_path: Path, tui_relay: Relay) -> None:
    """A school's edited text is shown and its own version is what the counselor records."""
    counselor, student, on_counselor, on_student = await paired(tmp_path, tui_relay)
    school_file = tmp_path / "consent.toml"
    edited = PACKAGED.read_text(encoding="utf-8").replace('version = "1"', 'version = "1-smpn4"')
    edited = edited.replace("Persetujuan konseling daring", "Persetujuan konseling daring SMPN 4")
    school_file.write_text(edited, encoding="utf-8")
    stream = counselor.events()
    try:
        screen = consent_screen(student, on_student, consent_file=school_file)
        async with ScreenHost(screen).run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the consent title")
            assert title == "Persetujuan konseling daring SMPN 4"
            await pilot.click("#given")
            await click_button(pilot, screen, "#agree")
            received = await next_consent(stream)
        assert received.text_version == "1-smpn4"
        assert received.guardian_consent == "given"
        (stored,) = await counselor.record("list_consents", on_counselor)
        assert stored["text_version"] == "1-smpn4"
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_consent_broken_school_file(tmp_path: Path, tui_relay: Relay) -> None:
    """A school file that does not load says so and offers no button to agree."""
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", tui_relay.url)
    broken = tmp_path / "consent.toml"
    broken.write_text('format = 1\nversion = "1"\n', encoding="utf-8")
    try:
        screen = consent_screen(student, 1, consent_file=broken)
        async with ScreenHost(screen).run_test(size=SIZE):
            status = await wait_for_text(screen, "#status", bool, "the error")
            assert status.startswith("Teks persetujuan dari sekolah tidak bisa dibaca.")
            assert screen.query_one("#agree").disabled
    finally:
        await student.close()
