"""Tests of the safety-code screen with two paired engines on a real relay."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import Relay, new_engine, pair, reopen
from pairing_host import ScreenHost, click_button, shown, wait_for_text

from konsel.client.core.engine import Engine
from konsel.client.tui import catalog
from konsel.client.tui.screens.verify import VerifyScreen, digits_lines, words_lines

SIZE = (80, 24)


async def paired_engines(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine, int, int]:
    """Return a paired counselor and konseli with each side's id of the other."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    return counselor, student, on_counselor, on_student


async def read_code(engine: Engine, contact_id: int) -> tuple[str, str, str]:
    """Open the verify screen and return its digits, words and state texts."""
    screen = VerifyScreen(engine, contact_id)
    async with ScreenHost(screen).run_test(size=SIZE):
        await wait_for_text(screen, "#words", bool, "the safety code")
        return shown(screen, "#digits"), shown(screen, "#words"), shown(screen, "#state")


async def test_verify_same_code_both_sides(tmp_path: Path, tui_relay: Relay) -> None:
    """Both sides show the same digits and words, the engine's safety code."""
    counselor, student, on_counselor, on_student = await paired_engines(tmp_path, tui_relay)
    try:
        at_counselor = await read_code(counselor, on_counselor)
        at_student = await read_code(student, on_student)

        code = await counselor.safety_code(on_counselor)
        assert at_counselor[0] == at_student[0] == digits_lines(code)
        assert at_counselor[1] == at_student[1] == words_lines(code)
        assert at_counselor[0].replace("\n", " ") == code.digits_text()
        assert at_counselor[2] == "Status: belum terverifikasi."
    finally:
        await counselor.close()
        await student.close()


async def test_verify_match_persists(tmp_path: Path, tui_relay: Relay) -> None:
    """Pressing the match button stores the mark, and it survives a restart."""
    counselor, student, on_counselor, _ = await paired_engines(tmp_path, tui_relay)
    try:
        screen = VerifyScreen(counselor, on_counselor)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the title")
            assert title == "Kode keamanan dengan Dimas"
            assert shown(screen, "#explain").startswith("Bandingkan kode ini dengan Dimas")
            await click_button(pilot, screen, "#match")
            await wait_for_text(screen, "#status", bool, "the result")
            assert shown(screen, "#status") == "Kontak ini sudah ditandai terverifikasi."
            assert shown(screen, "#state") == "Status: sudah terverifikasi."
            await pilot.press("escape")
            await pilot.pause()
        assert app.results == [True]

        counselor = await reopen(counselor)
        (contact,) = await counselor.contacts()
        assert contact.verified
        assert (await read_code(counselor, on_counselor))[2] == "Status: sudah terverifikasi."
    finally:
        await counselor.close()
        await student.close()


async def test_verify_mismatch_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """A mismatch clears the mark and shows what to do next, here in English."""
    counselor, student, _, on_student = await paired_engines(tmp_path, tui_relay)
    try:
        await student.mark_verified(on_student, True)
        catalog.use("en")
        screen = VerifyScreen(student, on_student)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            state = await wait_for_text(screen, "#state", bool, "the state")
            assert state == "Status: verified."
            await click_button(pilot, screen, "#mismatch")
            status = await wait_for_text(screen, "#status", bool, "the result")
            assert status.startswith("This contact is marked as not verified.")
            assert "Meet Bu Sari in person" in status
            assert shown(screen, "#state") == "Status: not verified."
            await pilot.press("escape")
            await pilot.pause()
        assert app.results == [False]
        (contact,) = await student.contacts()
        assert not contact.verified
    finally:
        await counselor.close()
        await student.close()


async def test_verify_unknown_contact(tmp_path: Path, tui_relay: Relay) -> None:
    """An unknown contact id shows the core's contact_not_found text and no buttons work."""
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", tui_relay.url)
    try:
        screen = VerifyScreen(student, 42)
        async with ScreenHost(screen).run_test(size=SIZE):
            status = await wait_for_text(screen, "#status", bool, "the error")
            assert status == "Kontak tidak ditemukan."
            assert screen.query_one("#match").disabled
    finally:
        await student.close()
