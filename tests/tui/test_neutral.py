"""The neutral quick-exit view: nothing about counseling on it, Enter leads to unlock."""

from __future__ import annotations

import re
from pathlib import Path

from engine_helpers import PASSPHRASE, Relay
from start_helpers import build_app, flat_screen_text, make_profile, wait_for_screen
from textual.app import App
from textual.widgets import Footer, Header

from konsel.client.core.passphrase import KdfParams
from konsel.client.tui.catalog import load_texts, t
from konsel.client.tui.screens.main import MainScreen
from konsel.client.tui.screens.neutral import NeutralScreen
from konsel.client.tui.screens.unlock import UnlockScreen

GIVEAWAY_PARTS = ("konsel", "sesi", "pesan", "counsel", "message")
"""Word parts that would show what the app is; "konsel" also covers "konseli"."""
GIVEAWAY_WORDS = re.compile(r"\bBK\b", re.IGNORECASE)


def giveaways(text: str) -> list[str]:
    """Return the counseling words found in ``text``."""
    folded = text.casefold()
    found = [part for part in GIVEAWAY_PARTS if part in folded]
    found.extend(match.group() for match in GIVEAWAY_WORDS.finditer(text))
    return found


def test_neutral_catalog_texts_have_no_giveaway() -> None:
    """Every neutral text, also those scrolled out of view, in both languages."""
    for language in ("id", "en"):
        neutral = {
            key: text
            for key, text in load_texts(language).items()
            if key.startswith("start.neutral.")
        }
        assert len(neutral) >= 10, language
        for key, text in neutral.items():
            assert giveaways(text) == [], f"{language} {key}: {text}"


def test_giveaway_check_finds_words() -> None:
    """The check itself finds what it is meant to find."""
    assert giveaways("Sesi konseling dengan guru BK") == ["konsel", "sesi", "BK"]
    assert giveaways("New message from your counselor") == ["counsel", "message"]
    assert giveaways("Catatan belajar: subbab kalkulus") == []


async def test_quick_exit_view_shows_no_counseling_word(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay, name="Bu Rina")
    for language in ("id", "en"):
        app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE, language=language)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            await pilot.press("f12")
            await wait_for_screen(app, NeutralScreen, pilot)
            await pilot.pause()
            text = flat_screen_text(app)

            assert giveaways(text) == [], text
            assert "Rina" not in text
            assert t("start.neutral.title") in text
            assert t("start.neutral.hint") in text
            assert not app.screen.query(Footer)
            assert not app.screen.query(Header)


async def test_neutral_enter_leads_to_unlock(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "student", tui_relay, name="Dimas")
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("f12")
        await wait_for_screen(app, NeutralScreen, pilot)
        await pilot.press("enter")
        await wait_for_screen(app, UnlockScreen, pilot)

        assert app.engine is None
        assert app.focused is app.screen.query_one("#unlock-passphrase")


async def test_neutral_ctrl_q_quits() -> None:
    """Hosted alone, the screen's own ctrl+q ends the app."""

    class Host(App[int]):
        def on_mount(self) -> None:
            self.push_screen(NeutralScreen())

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, NeutralScreen, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()

        assert not app.is_running
    assert app.return_code == 0


async def test_neutral_enter_calls_show_unlock() -> None:
    """The screen leaves the next step to the app's show_unlock."""

    class Host(App[int]):
        def on_mount(self) -> None:
            self.push_screen(NeutralScreen())

        def show_unlock(self) -> None:
            self.push_screen(UnlockScreen())

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, NeutralScreen, pilot)
        await pilot.press("enter")
        await wait_for_screen(app, UnlockScreen, pilot)
