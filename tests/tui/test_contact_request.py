"""Tests of the counselor's contact-request screen with link requests on a real relay."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import Relay, new_engine, wait_until
from pairing_host import ScreenHost, click_button, shown, wait_for_text

from konsel.client.core.engine import Engine
from konsel.client.tui import catalog
from konsel.client.tui.screens.contact_request import ContactRequestScreen

SIZE = (80, 24)


async def requested(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine, int, int]:
    """Send a konseli's link request; return both engines, the request id and its contact."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_student = await student.accept_invitation(await counselor.create_invitation())

    async def has_request() -> bool:
        return bool(counselor.pending_requests())

    await wait_until(has_request, "the contact request")
    ((request_id, _),) = counselor.pending_requests()
    return counselor, student, request_id, on_student


async def test_request_accept(tmp_path: Path, tui_relay: Relay) -> None:
    """Accept creates the contact, and the konseli's route becomes usable."""
    counselor, student, request_id, on_student = await requested(tmp_path, tui_relay)
    try:
        screen = ContactRequestScreen(counselor, request_id, "Dimas")
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            assert shown(screen, "#body").startswith("Dimas ingin terhubung dengan Anda")
            await click_button(pilot, screen, "#accept")

            async def closed() -> bool:
                return bool(app.results)

            await wait_until(closed, "the screen to close")
        (contact,) = await counselor.contacts()
        assert app.results == [contact.id]
        assert counselor.pending_requests() == []

        async def accepted() -> bool:
            return student.state.routes[on_student].accepted

        await wait_until(accepted, "the counselor's introduction")
    finally:
        await counselor.close()
        await student.close()


async def test_request_decline(tmp_path: Path, tui_relay: Relay) -> None:
    """Decline forgets the request and creates no contact."""
    counselor, student, request_id, _ = await requested(tmp_path, tui_relay)
    try:
        screen = ContactRequestScreen(counselor, request_id, "Dimas")
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            await click_button(pilot, screen, "#decline")

            async def closed() -> bool:
                return bool(app.results)

            await wait_until(closed, "the screen to close")
        assert app.results == [None]
        assert counselor.pending_requests() == []
        assert await counselor.contacts() == []
    finally:
        await counselor.close()
        await student.close()


async def test_request_gone_shows_error(tmp_path: Path, tui_relay: Relay) -> None:
    """A request declined elsewhere shows the core's not-found text in English."""
    counselor, student, request_id, _ = await requested(tmp_path, tui_relay)
    try:
        await counselor.decline_request(request_id)
        catalog.use("en")
        screen = ContactRequestScreen(counselor, request_id, "Dimas")
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            await click_button(pilot, screen, "#accept")
            status = await wait_for_text(screen, "#status", lambda text: "not found" in text, "err")
            assert status.startswith("The contact request was not found.")
            assert not screen.query_one("#accept").disabled
            await pilot.press("escape")
            await pilot.pause()
        assert app.results == [None]
    finally:
        await counselor.close()
        await student.close()
