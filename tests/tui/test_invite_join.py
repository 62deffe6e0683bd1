"""Tests of the invitation and join screens with real engines and a real relay."""

from __future__ import annotations

import stat
from pathlib import Path

from engine_helpers import Relay, new_engine, wait_until
from pairing_host import ScreenHost, click_button, shown, wait_for_text
from textual import events
from textual.widgets import Input, TextArea

from konsel.client.core.engine import Engine
from konsel.client.core.events import shortcode_text
from konsel.client.tui import catalog
from konsel.client.tui.screens.invite import InviteScreen
from konsel.client.tui.screens.join import JoinScreen
from konsel.protocol.errors import ShortCodeError
from konsel.protocol.shortcode import format_code, parse_code
from konsel.protocol.shortcode_errors import MESSAGES as SHORTCODE_MESSAGES
from konsel.protocol.wordlist import load_words

SIZE = (80, 24)


def is_code(text: str) -> bool:
    try:
        parse_code(text)
    except ShortCodeError:
        return False
    return True


def wrong_words(code_text: str) -> str:
    """Return the code with the same number and a different first word."""
    code = parse_code(code_text)
    words = load_words()
    replacement = words[(words.index(code.words[0]) + 1) % len(words)]
    return format_code(type(code)(code.nameplate, (replacement, *code.words[1:])))


async def engines(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine]:
    """Create a counselor on the relay and a konseli whose profile has no relay yet."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    return counselor, student


async def type_text(pilot: object, text: str) -> None:
    """Type ``text`` key by key, as a user would."""
    await pilot.press(*text)  # type: ignore[attr-defined]


async def test_invite_code_pairs_student(tmp_path: Path, tui_relay: Relay) -> None:
    """The konseli types the code shown on the counselor's screen; both get the contact."""
    counselor, student = await engines(tmp_path, tui_relay)
    invite = InviteScreen(counselor, link_file=tmp_path / "link.txt")
    join = JoinScreen(student)
    counselor_app, student_app = ScreenHost(invite), ScreenHost(join)
    try:
        async with counselor_app.run_test(size=SIZE) as counselor_pilot:
            code = await wait_for_text(invite, "#code", is_code, "the short code")
            countdown = await wait_for_text(invite, "#countdown", bool, "the countdown")
            assert countdown.startswith("Kode berlaku ")

            async with student_app.run_test(size=SIZE) as student_pilot:
                await type_text(student_pilot, code)
                await student_pilot.click("#relay")
                await type_text(student_pilot, tui_relay.url)
                await student_pilot.press("enter")

                joined = await wait_for_text(
                    join, "#status", lambda text: "terhubung" in text, "the joined notice"
                )
                assert joined.startswith("Anda sudah terhubung dengan Bu Sari.")
                paired = await wait_for_text(
                    invite, "#status", lambda text: "Dimas" in text, "the paired notice"
                )
                assert paired.startswith("Dimas sudah terhubung dengan Anda.")
                assert shown(invite, "#countdown") == ""

                await student_pilot.press("escape")
                await student_pilot.pause()
                assert student_app.results == [(await student.contacts())[0].id]

            await counselor_pilot.press("escape")
            await counselor_pilot.pause()

        (at_counselor,) = await counselor.contacts()
        (at_student,) = await student.contacts()
        assert at_counselor.display_name == "Dimas"
        assert at_student.display_name == "Bu Sari"
        assert counselor_app.results == [at_counselor.id]

        async def accepted() -> bool:
            return student.state.routes[at_student.id].accepted

        await wait_until(accepted, "the counselor's introduction")
    finally:
        await counselor.close()
        await student.close()


async def test_join_wrong_code_shows_error(tmp_path: Path, tui_relay: Relay) -> None:
    """A wrong code shows the core's text on both screens and pairs nobody."""
    counselor, student = await engines(tmp_path, tui_relay)
    invite = InviteScreen(counselor, link_file=tmp_path / "link.txt")
    join = JoinScreen(student)
    try:
        async with ScreenHost(invite).run_test(size=SIZE):
            code = await wait_for_text(invite, "#code", is_code, "the short code")
            async with ScreenHost(join).run_test(size=SIZE) as student_pilot:
                await type_text(student_pilot, wrong_words(code))
                await student_pilot.click("#relay")
                await type_text(student_pilot, tui_relay.url)
                await student_pilot.press("enter")

                wrong = shortcode_text("code_wrong", "id")
                await wait_for_text(join, "#status", lambda text: text == wrong, "code_wrong")
                failed = await wait_for_text(
                    invite, "#status", lambda text: text.startswith(wrong), "the failure"
                )
                assert failed.endswith("Pilih Kode baru untuk mencoba lagi.")

        assert await counselor.contacts() == []
        assert await student.contacts() == []
    finally:
        await counselor.close()
        await student.close()


async def test_join_checks_input_first(tmp_path: Path, tui_relay: Relay) -> None:
    """A misspelled word is named, and a code without a relay asks for the relay, in both languages."""
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    join = JoinScreen(student)
    try:
        async with ScreenHost(join).run_test(size=SIZE) as pilot:
            await type_text(pilot, "7-kancil-pelangu")
            await pilot.press("enter")
            suggestion = SHORTCODE_MESSAGES["code_word_suggestion"]["id"]
            expected = suggestion.format(word="pelangu", suggestion="pelangi")
            assert shown(join, "#status") == expected

            entry = join.query_one("#entry", Input)
            entry.value = ""
            await type_text(pilot, "7-kancil-pelangi")
            await pilot.press("enter")
            assert shown(join, "#status").startswith("Untuk memakai kode, isi dulu alamat server")

            await pilot.click("#relay")
            await type_text(pilot, "http://x")
            await pilot.press("enter")
            assert shown(join, "#status").startswith("Alamat server “http://x” tidak sah.")

        catalog.use("en")
        english = JoinScreen(student)
        async with ScreenHost(english).run_test(size=SIZE) as pilot:
            await pilot.press("enter")
            assert shown(english, "#status") == "Type a code or paste an invitation link first."
            await type_text(pilot, "7-kancil")
            await pilot.press("enter")
            assert shown(english, "#status") == SHORTCODE_MESSAGES["code_format"]["en"]
        assert await student.contacts() == []
    finally:
        await student.close()


async def test_invite_link_pasted_pairs(tmp_path: Path, tui_relay: Relay) -> None:
    """The link from the invite screen, copied, saved 0600 and pasted over two lines, pairs."""
    counselor, student = await engines(tmp_path, tui_relay)
    link_file = tmp_path / "link.txt"
    invite = InviteScreen(counselor, link_file=link_file)
    join = JoinScreen(student)
    counselor_app = ScreenHost(invite)
    try:
        async with counselor_app.run_test(size=SIZE) as counselor_pilot:
            link_area = invite.query_one("#link", TextArea)

            async def has_link() -> bool:
                return link_area.text.startswith("konsel://")

            await wait_until(has_link, "the invitation link")
            link = link_area.text

            await click_button(counselor_pilot, invite, "#copy")
            assert counselor_app.clipboard == link
            await click_button(counselor_pilot, invite, "#save")
            await wait_for_text(invite, "#status", lambda text: "disimpan" in text, "saved")
            assert link_file.read_text(encoding="utf-8") == link + "\n"
            assert stat.S_IMODE(link_file.stat().st_mode) == 0o600

            async with ScreenHost(join).run_test(size=SIZE) as student_pilot:
                entry = join.query_one("#entry", Input)
                halfway = len(link) // 2
                entry.post_message(events.Paste(f"{link[:halfway]}\n{link[halfway:]}\n"))
                await student_pilot.pause()
                assert entry.value == f"{link[:halfway]} {link[halfway:]}"
                await student_pilot.press("enter")
                requested = await wait_for_text(
                    join, "#status", lambda text: "Permintaan" in text, "the request notice"
                )
                assert requested.startswith("Permintaan sudah dikirim kepada Bu Sari.")

            await counselor_pilot.press("escape")
            await counselor_pilot.pause()

        async def has_request() -> bool:
            return bool(counselor.pending_requests())

        await wait_until(has_request, "the contact request")
        ((request_id, name),) = counselor.pending_requests()
        assert name == "Dimas"
        on_counselor = await counselor.accept_request(request_id)
        (at_student,) = await student.contacts()

        async def accepted() -> bool:
            return student.state.routes[at_student.id].accepted

        await wait_until(accepted, "the counselor's introduction")
        assert [c.id for c in await counselor.contacts()] == [on_counselor]
        assert student.state.relay_url == tui_relay.url
    finally:
        await counselor.close()
        await student.close()


async def test_invite_close_cancels_code(tmp_path: Path, tui_relay: Relay) -> None:
    """Closing the invite screen before anyone joined cancels the code on the relay."""
    counselor, student = await engines(tmp_path, tui_relay)
    invite = InviteScreen(counselor, link_file=tmp_path / "link.txt")
    app = ScreenHost(invite)
    try:
        async with app.run_test(size=SIZE) as pilot:
            code = await wait_for_text(invite, "#code", is_code, "the short code")
            await pilot.press("escape")
            await pilot.pause()
            assert app.results == [None]

        join = JoinScreen(student)
        async with ScreenHost(join).run_test(size=SIZE) as pilot:
            await type_text(pilot, code)
            await pilot.click("#relay")
            await type_text(pilot, tui_relay.url)
            await pilot.press("enter")
            not_found = shortcode_text("code_not_found", "id")
            await wait_for_text(join, "#status", lambda text: text == not_found, "code_not_found")
    finally:
        await counselor.close()
        await student.close()
