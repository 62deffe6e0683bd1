"""KonselApp as a whole: unlocking, locking, quick exit, idle lock and the language setting."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Callable
from pathlib import Path

from engine_helpers import FAST_SYNC, PASSPHRASE, Relay, new_engine, pair
from pairing_host import click_button, wait_for_text
from screen_text import content_words, screen_text, words_outside
from textual.widgets import Input

from konsel.client.core.consent_file import load_consent
from konsel.client.core.engine import Engine
from konsel.client.core.passphrase import KdfParams
from konsel.client.tui import catalog, clock_zone
from konsel.client.tui.app import KonselApp
from konsel.client.tui.catalog import Catalog
from konsel.client.tui.screens.consent import ConsentScreen
from konsel.client.tui.screens.first_run import FirstRunScreen
from konsel.client.tui.screens.kopasta_report import KopastaReportScreen
from konsel.client.tui.screens.main import MainScreen
from konsel.client.tui.screens.neutral import NeutralScreen
from konsel.client.tui.screens.unlock import UnlockScreen
from konsel.client.tui.screens.verify import VerifyScreen
from konsel.client.tui.settings import SETTINGS_FILE, Settings, load_settings, save_settings
from konsel.client.tui.widgets.composer import Composer
from konsel.client.tui.widgets.conversation_list import ConversationList
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel
from konsel.client.tui.widgets.status_bar import StatusBar

STEP_TIMEOUT = 15.0


async def make_profile(directory: Path, role: str, relay: Relay, name: str = "Bu Rina") -> None:
    """Create a profile through the engine and close it, as a first run would leave it."""
    engine = await new_engine(directory, name, role, relay.url)
    await engine.close()


async def paired_engines(tmp_path: Path, relay: Relay) -> tuple[Engine, Engine, int, int]:
    """Return a counselor and a konseli engine paired through ``relay``, and their contact ids."""
    counselor = await new_engine(tmp_path / "bk", "Bu Rina", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    return counselor, student, on_counselor, on_student


def build_app(directory: Path, kdf: KdfParams, **options: object) -> KonselApp:
    """Return an app on ``directory`` with the cheap KDF and fast reconnects."""
    return KonselApp(directory, kdf=kdf, sync_options=FAST_SYNC, **options)  # type: ignore[arg-type]


async def wait_for_screen(app: KonselApp, kind: type, pilot: object) -> None:
    """Let the app run until its current screen is a ``kind``; fail after a timeout."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not isinstance(app.screen, kind):
        if time.monotonic() > deadline:
            raise AssertionError(f"{type(app.screen).__name__} shown, not {kind.__name__}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_unlock_with_opens_the_main_screen(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)

        assert app.engine is not None
        assert app.engine.state.display_name == "Bu Rina"


async def test_quick_exit_shows_neutral_screen_and_locks(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "student", tui_relay, name="Dimas")
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("ctrl+q")

        assert isinstance(app.screen, NeutralScreen)
        await pilot.pause(0.2)
        assert app.engine is None
        assert len(app.screen_stack) == 2
        assert "Dimas" not in screen_text(app)

        await pilot.press("f1")
        assert isinstance(app.screen, NeutralScreen)
        await pilot.press("enter")
        await wait_for_screen(app, UnlockScreen, pilot)


async def test_second_quick_exit_quits(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "student", tui_relay, name="Dimas")
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert app.engine is None

        await pilot.press("ctrl+q")
        await pilot.pause(0.2)

        assert not app.is_running


async def test_lock_key_closes_engine_and_passphrase_reopens(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("ctrl+l")
        await wait_for_screen(app, UnlockScreen, pilot)
        assert app.engine is None

        await app.unlock(PASSPHRASE)
        await wait_for_screen(app, MainScreen, pilot)
        assert app.engine is not None


async def test_idle_time_locks_the_app(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE, idle_lock_seconds=0.3)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await wait_for_screen(app, UnlockScreen, pilot)

        assert app.engine is None


async def test_keys_keep_an_active_app_unlocked(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE, idle_lock_seconds=0.6)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        for _ in range(8):
            await pilot.press("a")
            await asyncio.sleep(0.15)

        assert isinstance(app.screen, MainScreen)
        assert app.engine is not None


async def test_language_choice_is_remembered(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        app.set_language("en")

    settings_path = tmp_path / "p" / SETTINGS_FILE
    assert stat.S_IMODE(settings_path.stat().st_mode) == 0o600
    assert load_settings(tmp_path / "p").language == "en"
    assert build_app(tmp_path / "p", cheap_kdf).language == "en"
    catalog.use("id")


def test_damaged_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("{not json", encoding="utf-8")
    assert load_settings(tmp_path) == Settings()

    (tmp_path / SETTINGS_FILE).write_text(
        json.dumps({"language": "fr", "idle_lock_minutes": -5}), encoding="utf-8"
    )
    assert load_settings(tmp_path) == Settings(language="id", idle_lock_minutes=0)

    (tmp_path / SETTINGS_FILE).write_bytes(b" " * 10_000)
    assert load_settings(tmp_path) == Settings()


def test_settings_round_trip(tmp_path: Path) -> None:
    save_settings(tmp_path / "new", Settings(language="en", idle_lock_minutes=3))

    assert load_settings(tmp_path / "new") == Settings(language="en", idle_lock_minutes=3)


async def assert_only_catalog_words(app: KonselApp, data: list[str]) -> None:
    text = screen_text(app)
    shown = Catalog.shown or set()
    strays = words_outside(text, [*shown, *data, *content_words()])
    assert strays == [], f"words on screen that no catalog gave: {strays}\n{text}"


async def test_main_screen_shows_only_catalog_strings(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    for language, role, size in (
        ("id", "counselor", (80, 24)),
        ("en", "counselor", (120, 40)),
        ("id", "student", (80, 24)),
        ("en", "student", (120, 40)),
    ):
        directory = tmp_path / f"{language}-{role}-{size[0]}"
        await make_profile(directory, role, tui_relay)
        Catalog.shown = set()
        app = build_app(directory, cheap_kdf, unlock_with=PASSPHRASE, language=language)

        async with app.run_test(size=size) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            await pilot.pause(0.3)

            await assert_only_catalog_words(app, ["Bu Rina", "konsel"])
    Catalog.shown = None
    catalog.use("id")


async def test_konseli_is_asked_for_consent_once_per_version(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, on_student = await paired_engines(tmp_path, tui_relay)
    await student.close()
    app = build_app(tmp_path / "siswa", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            first = await counselor.start_counseling_session(on_counselor)
            await wait_for_screen(app, ConsentScreen, pilot)
            screen = app.screen
            await wait_for_text(screen, "#title", bool, "the consent title")
            await pilot.click("#not_needed")
            await click_button(pilot, screen, "#agree")
            await wait_for_text(screen, "#status", lambda s: "✓" in s or len(s) > 0, "status")
            await click_button(pilot, screen, "#close")
            await wait_for_screen(app, MainScreen, pilot)

            assert app.engine is not None
            records = await asyncio.to_thread(app.engine.store.list_consents, on_student)
            assert [r["granted"] for r in records] == [1]

            await counselor.end_counseling_session(first)
            await counselor.start_counseling_session(on_counselor)
            await pilot.pause(1.0)
            assert isinstance(app.screen, MainScreen)
    finally:
        await counselor.close()


async def test_first_run_prefills_relay(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "new", cheap_kdf, relay_url=tui_relay.url)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)

        assert app.screen.query_one("#relay-url", Input).value == tui_relay.url


async def test_verifying_a_contact_updates_the_status_line(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, _, _ = await paired_engines(tmp_path, tui_relay)
    await counselor.close()
    app = build_app(tmp_path / "bk", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            status = app.screen.query_one(StatusBar)
            await wait_until_true(lambda: status.contact_name == "Dimas", pilot)
            assert not status.verified

            await pilot.press("f3")
            await wait_for_screen(app, VerifyScreen, pilot)
            await wait_for_text(app.screen, "#digits", lambda text: text[:1].isdigit(), "digits")
            await click_button(pilot, app.screen, "#match")
            await pilot.press("escape")
            await wait_for_screen(app, MainScreen, pilot)

            await wait_until_true(lambda: status.verified, pilot)
            assert "✓" in screen_text(app)
    finally:
        await student.close()


async def wait_until_true(condition: Callable[[], bool], pilot: object) -> None:
    """Let the app run until ``condition`` holds; fail after a timeout."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_first_run_opens_at_top(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    app = build_app(tmp_path / "new", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await pilot.pause(0.2)

        assert catalog.t("start.first_run.title") in screen_text(app)


async def test_closing_a_modal_refreshes_follow_up_marks(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, _ = await paired_engines(tmp_path, tui_relay)
    session_id = await counselor.start_counseling_session(on_counselor)
    follow_up = await counselor.record("add_follow_up", session_id, "laijapen", 1_000)
    await counselor.close()
    app = build_app(tmp_path / "bk", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            conversations = app.screen.query_one(ConversationList)
            await wait_until_true(lambda: any(r.follow_up_due for r in conversations.rows), pilot)

            await pilot.press("f1")
            assert app.engine is not None
            await app.engine.record("complete_follow_up", follow_up)
            await pilot.press("escape")
            await wait_for_screen(app, MainScreen, pilot)

            await wait_until_true(
                lambda: not any(r.follow_up_due for r in conversations.rows), pilot
            )
            assert "⏰" not in screen_text(app)
    finally:
        await student.close()


async def test_help_lists_keys_of_widgets_without_focus(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("f1")
        await pilot.pause(0.2)

        shown = screen_text(app)
        assert "PgUp" in shown
        assert "Ctrl+Q" in shown


async def test_declined_consent_is_shown_to_the_counselor(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, on_student = await paired_engines(tmp_path, tui_relay)
    await counselor.close()
    app = build_app(tmp_path / "bk", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            assert app.engine is not None
            await app.engine.start_counseling_session(on_counselor)

            await student.send_consent(on_student, load_consent().version, False, "pending")

            declined = catalog.t("app.notices.consent_declined", name="Dimas")
            guardian = catalog.t("app.notices.guardian_pending", name="Dimas")
            messages = lambda: [n.message for n in app._notifications]  # noqa: E731
            await wait_until_true(lambda: declined in messages(), pilot)
            assert guardian in messages()
    finally:
        await student.close()


async def test_hidden_panel_returns_focus(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        panel = app.screen.query_one(KopastaPanel)
        focusable = [w for w in panel.query("*") if w.focusable]
        focusable[0].focus()
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press(*"abc")

        assert app.screen.query_one(Composer).text == "abc"


def test_app_uses_the_profiles_time_zone(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    save_settings(tmp_path, Settings(time_zone="Asia/Makassar"))

    build_app(tmp_path, cheap_kdf)

    assert clock_zone.current_zone().key == "Asia/Makassar"


async def test_report_key_works_from_the_composer(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, _ = await paired_engines(tmp_path, tui_relay)
    await counselor.start_counseling_session(on_counselor)
    await counselor.close()
    app = build_app(tmp_path / "bk", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            await wait_until_true(lambda: app.screen.query_one(Composer).has_focus, pilot)
            await pilot.pause(0.5)
            await pilot.press("ctrl+r")

            await wait_for_screen(app, KopastaReportScreen, pilot)
    finally:
        await student.close()


async def test_closed_store_worker_keeps_app(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        engine = app.engine
        assert engine is not None

        async def late_read() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(engine.store.unread_counts)

        app.run_worker(late_read, group="late")
        await pilot.press("ctrl+q")
        await pilot.pause(0.6)

        assert app.is_running
        assert isinstance(app.screen, NeutralScreen)


async def test_stage_move_with_hidden_panel_is_announced(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, _ = await paired_engines(tmp_path, tui_relay)
    session_id = await counselor.start_counseling_session(on_counselor)
    await counselor.close()
    app = build_app(tmp_path / "bk", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            panel = app.screen.query_one(KopastaPanel)
            await wait_until_true(lambda: panel.open_session is not None, pilot)
            assert not panel.display

            await pilot.press("f8")

            moved = catalog.t("app.notices.stage_moved_hidden")
            await wait_until_true(lambda: moved in [n.message for n in app._notifications], pilot)
            assert app.engine is not None
            session = await app.engine.record("get_session", session_id)
            assert session.stage == "penjajagan"
    finally:
        await student.close()


async def test_konseli_is_told_when_a_session_ends(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor, student, on_counselor, _ = await paired_engines(tmp_path, tui_relay)
    await student.close()
    app = build_app(tmp_path / "siswa", cheap_kdf, unlock_with=PASSPHRASE)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            session_id = await counselor.start_counseling_session(on_counselor)
            await counselor.end_counseling_session(session_id)

            ended = catalog.t("app.notices.session_ended")
            await wait_until_true(lambda: ended in [n.message for n in app._notifications], pilot)
    finally:
        await counselor.close()
