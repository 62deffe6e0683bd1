"""Tests of the key-change warning with a real key change between two engines.

The konseli's client gets a new identity in memory and renews the session, as a
reinstalled app with the same inboxes would; its next text arrives under that key and
the counselor's engine holds it.
"""

from __future__ import annotations

from pathlib import Path

from engine_helpers import Relay, bodies, new_engine, pair, wait_until
from pairing_host import ScreenHost, click_button, shown, wait_for_text

from konsel.client.core import renewal
from konsel.client.core.engine import Engine
from konsel.client.tui.screens.key_change import KeyChangeScreen
from konsel.client.tui.screens.verify import VerifyScreen, digits_lines
from konsel.protocol.identity import IdentityKeyPair

SIZE = (80, 24)
FIRST = "Pesan pertama."
HELD = "Pesan dengan kunci baru."


async def changed_key(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine, int, int]:
    """Pair two engines, then give the konseli a new key and hold its next message."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    await student.send_text(on_student, FIRST)

    async def first_delivered() -> bool:
        # With its delivery receipt in, the renewal below resends nothing.
        sent = await student.history(on_student)
        return [m.status for m in sent] in (["delivered"], ["read"])

    await wait_until(first_delivered, "the first message's receipt")
    await counselor.mark_verified(on_counselor)

    student.identity = IdentityKeyPair.generate()
    connection = await student.sync.wait_connected(20)
    async with student.lock:
        await renewal.renew_session(student, connection, on_student)
    await student.send_text(on_student, HELD)

    async def both_held() -> bool:
        return len(counselor.key_changes.get(on_counselor, [])) == 2

    await wait_until(both_held, "two held deliveries")
    return counselor, student, on_counselor, on_student


async def test_key_change_accept_releases(tmp_path: Path, tui_relay: Relay) -> None:
    """Accepting the new key shows the held messages and leaves the contact unverified."""
    counselor, student, on_counselor, _ = await changed_key(tmp_path, tui_relay)
    try:
        screen = KeyChangeScreen(counselor, on_counselor)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the title")
            assert title == "Kunci keamanan Dimas berubah"
            assert "perangkat baru" in shown(screen, "#body")
            assert "orang lain" in shown(screen, "#body")
            assert "(2 pesan)" in shown(screen, "#held")
            assert await bodies(counselor, on_counselor, "in") == [FIRST]

            await click_button(pilot, screen, "#accept")

            async def closed() -> bool:
                return app.results == [True]

            await wait_until(closed, "the screen to close")
        assert await bodies(counselor, on_counselor, "in") == [FIRST, HELD]
        assert on_counselor not in counselor.key_changes
        (contact,) = await counselor.contacts()
        assert contact.identity_key == student.identity.public.ed25519
        assert not contact.verified
    finally:
        await counselor.close()
        await student.close()


async def test_key_change_verify_shows_new_code(tmp_path: Path, tui_relay: Relay) -> None:
    """Verify now shows the new key's code, the konseli's; a match releases and verifies."""
    counselor, student, on_counselor, on_student = await changed_key(tmp_path, tui_relay)
    try:
        screen = KeyChangeScreen(counselor, on_counselor)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_text(screen, "#title", bool, "the title")
            await click_button(pilot, screen, "#verify")
            verify = app.screen
            assert isinstance(verify, VerifyScreen)
            await wait_for_text(verify, "#words", bool, "the safety code")
            assert shown(verify, "#digits") == digits_lines(await student.safety_code(on_student))
            assert shown(verify, "#new-key").startswith("Ini kode untuk kunci baru Dimas.")

            await click_button(pilot, verify, "#match")
            released = await wait_for_text(verify, "#status", bool, "the result")
            assert released.startswith("Kunci baru diterima dan ditandai terverifikasi. 2 pesan")
            await pilot.press("escape")

            async def closed() -> bool:
                return app.results == [True]

            await wait_until(closed, "the warning to close")
        assert await bodies(counselor, on_counselor, "in") == [FIRST, HELD]
        (contact,) = await counselor.contacts()
        assert contact.verified
    finally:
        await counselor.close()
        await student.close()


async def test_key_change_later_keeps_hold(tmp_path: Path, tui_relay: Relay) -> None:
    """Later closes the warning and the messages stay held."""
    counselor, student, on_counselor, _ = await changed_key(tmp_path, tui_relay)
    try:
        screen = KeyChangeScreen(counselor, on_counselor)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_text(screen, "#title", bool, "the title")
            await click_button(pilot, screen, "#later")
            await pilot.pause()
        assert app.results == [False]
        assert len(counselor.key_changes[on_counselor]) == 2
        assert await bodies(counselor, on_counselor, "in") == [FIRST]
    finally:
        await counselor.close()
        await student.close()
