"""The unlock screen in KonselApp: wrong and right passphrase, a profile in use, damage."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import FAST_SYNC, PASSPHRASE, Relay
from start_helpers import (
    build_app,
    flat_screen_text,
    line_text,
    make_profile,
    type_text,
    wait_for_line,
    wait_for_screen,
)
from textual.app import App
from textual.widgets import Button, Input

from konsel.client.core.engine import Engine
from konsel.client.core.passphrase import KdfParams
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.main import MainScreen
from konsel.client.tui.screens.unlock import UnlockScreen


async def submit_passphrase(app: App[int], pilot: object, passphrase: str) -> None:
    """Type a passphrase into the unlock field and press Enter."""
    app.screen.query_one("#unlock-passphrase", Input).focus()
    await type_text(pilot, passphrase)  # type: ignore[arg-type]
    await pilot.press("enter")  # type: ignore[attr-defined]


async def test_unlock_wrong_then_right_passphrase(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay, name="Bu Rina")
    app = build_app(tmp_path / "p", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, UnlockScreen, pilot)
        assert app.focused is app.screen.query_one("#unlock-passphrase")

        await submit_passphrase(app, pilot, "salah sandi")
        message = await wait_for_line(app, pilot, "#unlock-status", "error")

        assert message == t("start.errors.passphrase_wrong")
        assert t("start.errors.passphrase_wrong") in flat_screen_text(app)
        field = app.screen.query_one("#unlock-passphrase", Input)
        assert field.value == ""
        assert not field.disabled
        assert app.focused is field
        assert isinstance(app.screen, UnlockScreen)
        assert app.engine is None

        await submit_passphrase(app, pilot, PASSPHRASE)
        await wait_for_screen(app, MainScreen, pilot)
        assert app.engine is not None
        assert app.engine.state.display_name == "Bu Rina"


async def test_unlock_profile_in_use_says_close_other_window(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    """A profile open in another window keeps the passphrase for the next try."""
    await make_profile(tmp_path / "p", "student", tui_relay, name="Dimas")
    other_window = await Engine.open(tmp_path / "p", PASSPHRASE, options=FAST_SYNC)
    try:
        app = build_app(tmp_path / "p", cheap_kdf)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, UnlockScreen, pilot)
            await submit_passphrase(app, pilot, PASSPHRASE)
            message = await wait_for_line(app, pilot, "#unlock-status", "error")

            assert message == t("start.errors.profile_locked")
            assert app.screen.query_one("#unlock-passphrase", Input).value == PASSPHRASE
            assert app.engine is None

            await other_window.close()
            app.screen.query_one("#unlock-submit", Button).press()
            await wait_for_screen(app, MainScreen, pilot)
            assert app.engine is not None
    finally:
        await other_window.close()


async def test_unlock_damaged_key_header_names_the_fix(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    profile = tmp_path / "p"
    await make_profile(profile, "counselor", tui_relay)
    (profile / "key.json").write_text("{ not json", encoding="utf-8")
    app = build_app(profile, cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, UnlockScreen, pilot)
        await submit_passphrase(app, pilot, PASSPHRASE)
        message = await wait_for_line(app, pilot, "#unlock-status", "error")

        assert message == t("start.errors.header_corrupted", folder=str(profile.absolute()))
        assert "key.json" in message
        assert app.engine is None


async def test_unlock_empty_passphrase_is_rejected(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "student", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, UnlockScreen, pilot)
        await pilot.press("enter")
        message = await wait_for_line(app, pilot, "#unlock-status", "error")

        assert message == t("start.errors.passphrase_invalid")
        assert isinstance(app.screen, UnlockScreen)


async def test_unlock_shows_nothing_personal(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay, name="Bu Rina Wulandari")
    for language in ("id", "en"):
        app = build_app(tmp_path / "p", cheap_kdf, language=language)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, UnlockScreen, pilot)
            text = flat_screen_text(app)

            assert "Rina" not in text
            assert t("start.app_name") in text
            assert t("start.unlock.prompt") in text
            assert line_text(app, "#unlock-status") == ""


async def test_unlock_ctrl_q_quits() -> None:
    """Hosted alone, the screen's own ctrl+q ends the app."""

    class Host(App[int]):
        def on_mount(self) -> None:
            self.push_screen(UnlockScreen())

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, UnlockScreen, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()

        assert not app.is_running
    assert app.return_code == 0
