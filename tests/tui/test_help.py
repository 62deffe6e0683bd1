"""The help screen: every app key and the keys of the screen under it, in both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_helpers import PASSPHRASE, Relay
from start_helpers import build_app, flat_screen_text, make_profile, wait_for_screen
from textual.app import App
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from konsel.client.core.passphrase import KdfParams
from konsel.client.tui import catalog
from konsel.client.tui.app import KonselApp
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.first_run import FirstRunScreen
from konsel.client.tui.screens.help import HelpScreen
from konsel.client.tui.screens.key_help import describe, long_key_name
from konsel.client.tui.screens.main import MainScreen


def help_lines(app: App[Any]) -> list[str]:
    """Return the rows of the open help screen as plain text, scrolled-out rows included."""
    return [str(row.content.plain) for row in app.screen.query(".help-row").results(Static)]


def test_describe_translates_keys_and_texts() -> None:
    catalog.use("id")
    assert describe("start.keys.close") == "Tutup"
    # A description localized while English was in use reads in the current language.
    assert describe(catalog.Catalog("en").text("start.help.title")) == t("start.help.title")
    assert describe("Tutup") == "Tutup"
    # Textual's own English descriptions are not catalog text and are left out.
    assert describe("Focus Next") is None
    assert describe("") is None


async def test_help_lists_every_app_binding_in_both_languages(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    for language in ("id", "en"):
        app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE, language=language)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for_screen(app, MainScreen, pilot)
            await pilot.press("f1")
            await wait_for_screen(app, HelpScreen, pilot)
            lines = help_lines(app)
            text = flat_screen_text(app)

            assert t("start.help.title") in text
            assert t("start.help.app_section") in text
            for binding in Binding.make_bindings(KonselApp.BINDINGS):
                description = t(binding.description)
                key = long_key_name(binding.key)
                rows = [line for line in lines if line.endswith(description)]
                assert rows, f"{language}: no row for {binding.key} ({description}): {lines}"
                assert key in rows[0], f"{language}: {rows[0]!r} lacks {key!r}"

            await pilot.press("escape")
            await wait_for_screen(app, MainScreen, pilot)


async def test_help_lists_keys_of_screen_below(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    app = build_app(tmp_path / "p", cheap_kdf, language="en")

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await pilot.press("f1")
        await wait_for_screen(app, HelpScreen, pilot)
        lines = help_lines(app)
        text = flat_screen_text(app)

        assert t("start.help.screen_section") in text
        quit_row = long_key_name("ctrl+q").ljust(12) + t("start.keys.quit")
        assert quit_row in lines
        # Textual's own English descriptions (the Input's keys) are not listed.
        assert all("Focus" not in line for line in lines)


async def test_help_scrolls_when_rows_do_not_fit(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    await make_profile(tmp_path / "p", "counselor", tui_relay)
    app = build_app(tmp_path / "p", cheap_kdf, unlock_with=PASSPHRASE)

    async with app.run_test(size=(80, 12)) as pilot:
        await wait_for_screen(app, MainScreen, pilot)
        await pilot.press("f1")
        await wait_for_screen(app, HelpScreen, pilot)
        await pilot.pause()
        rows = app.screen.query_one("#help-rows", VerticalScroll)
        assert app.focused is rows
        assert rows.max_scroll_y > 0

        await pilot.press("end")
        await pilot.pause()
        assert rows.scroll_y > 0


def test_key_names_are_spelled_as_on_keyboards() -> None:
    assert long_key_name("ctrl+q") == "Ctrl+Q"
    assert long_key_name("f12") == "F12"
    assert long_key_name("pageup") == "PgUp"
    assert long_key_name("escape") == "Esc"
    assert long_key_name("r") == "R"
