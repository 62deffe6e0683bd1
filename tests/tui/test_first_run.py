"""The first-run screen in KonselApp: form checks, language switch, relay check, creation."""

from __future__ import annotations

import stat
from pathlib import Path

from engine_helpers import Relay, free_port
from screen_text import content_words, screen_text, words_outside
from start_helpers import (
    build_app,
    line_text,
    make_profile,
    type_text,
    wait_for_line,
    wait_for_screen,
)
from textual.widgets import Input

from konsel.client.core.passphrase import KdfParams
from konsel.client.tui import catalog
from konsel.client.tui.catalog import Catalog, t
from konsel.client.tui.screens.first_run import FirstRunScreen
from konsel.client.tui.screens.first_run_checks import (
    MIN_PASSPHRASE_CHARS,
    check_display_name,
    check_passphrase,
    check_relay_url,
)
from konsel.client.tui.screens.main import MainScreen

FORM_PASSPHRASE = "teh manis"
"""A passphrase just above the minimum length, short so that typing it stays quick."""


async def fill(app: object, pilot: object, field_id: str, text: str) -> None:
    """Focus a field of the form and type ``text`` into it, as a user would."""
    app.screen.query_one(f"#{field_id}", Input).focus()  # type: ignore[attr-defined]
    await type_text(pilot, text)  # type: ignore[arg-type]


async def choose(app: object, pilot: object, radio_set_id: str, index: int) -> None:
    """Pick option ``index`` of a radio set with the arrow keys and Enter."""
    app.screen.query_one(f"#{radio_set_id}").focus()  # type: ignore[attr-defined]
    await pilot.press("home", *["down"] * index, "enter")  # type: ignore[attr-defined]


# --- the checks behind the form ---------------------------------------------------------------


def test_display_name_check_cases() -> None:
    assert check_display_name("Bu Sari") is None
    assert check_display_name("  Dimas  ") is None
    assert check_display_name("   ").key == "start.first_run.errors.name_empty"  # type: ignore[union-attr]
    assert check_display_name("x" * 65).key == "start.first_run.errors.name_too_long"  # type: ignore[union-attr]
    assert check_display_name("Bu\x1bSari").key == "start.first_run.errors.name_control"  # type: ignore[union-attr]
    assert check_display_name("Sari\u202e").key == "start.first_run.errors.name_control"  # type: ignore[union-attr]


def test_passphrase_check_cases() -> None:
    good = "a" * MIN_PASSPHRASE_CHARS
    assert check_passphrase(good, good) is None
    short = check_passphrase(good[:-1], good[:-1])
    assert short is not None
    assert short.key == "start.first_run.errors.passphrase_too_short"
    mismatch = check_passphrase(good, good + "b")
    assert mismatch is not None
    assert mismatch.key == "start.first_run.errors.passphrase_mismatch"
    too_long = check_passphrase("é" * 600, "é" * 600)
    assert too_long is not None
    assert too_long.key == "start.first_run.errors.passphrase_too_long"


def test_relay_url_check_cases() -> None:
    assert check_relay_url("wss://relay.sekolah.sch.id", required=True) is None
    assert check_relay_url("ws://127.0.0.1:7480", required=True) is None
    assert check_relay_url("", required=False) is None
    for bad in ("", "https://relay.example", "ws://", "ws://host:port", "wss://a b"):
        problem = check_relay_url(bad, required=True)
        assert problem is not None, bad
    too_long = check_relay_url("wss://" + "a" * 300, required=True)
    assert too_long is not None
    assert too_long.key == "start.first_run.errors.relay_too_long"


# --- the screen in the app --------------------------------------------------------------------


async def test_first_run_creates_profile_by_keyboard(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    """Tab through every step from the language choice to the create button."""
    profile = tmp_path / "profile"
    app = build_app(profile, cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        assert app.focused is app.screen.query_one("#language")

        await pilot.press("tab", "home", "enter")  # role: the first choice, counselor
        await pilot.press("tab")
        await type_text(pilot, "Bu Sari")
        await pilot.press("tab")
        await type_text(pilot, FORM_PASSPHRASE)
        await pilot.press("tab")
        await type_text(pilot, FORM_PASSPHRASE)
        await pilot.press("tab")
        await type_text(pilot, tui_relay.url)
        await pilot.press("tab", "tab")  # past "Periksa koneksi" to "Buat profil"
        assert app.focused is app.screen.query_one("#create-profile")
        await pilot.press("enter")
        await wait_for_screen(app, MainScreen, pilot)

        assert app.engine is not None
        assert app.engine.state.display_name == "Bu Sari"
        assert app.engine.state.role == "counselor"
        assert app.engine.state.relay_url == tui_relay.url

    assert stat.S_IMODE(profile.stat().st_mode) == 0o700
    for name in ("konsel.db", "key.json"):
        assert (profile / name).exists(), name
        assert stat.S_IMODE((profile / name).stat().st_mode) == 0o600, name


async def test_first_run_passphrase_mismatch_shows_error(
    tmp_path: Path, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await choose(app, pilot, "role", 1)
        await fill(app, pilot, "display-name", "Dimas")
        await fill(app, pilot, "passphrase", FORM_PASSPHRASE)
        await fill(app, pilot, "passphrase-repeat", FORM_PASSPHRASE + "x")
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")

        message = await wait_for_line(app, pilot, "#passphrase-error")
        assert message == t("start.first_run.errors.passphrase_mismatch")
        repeat = app.screen.query_one("#passphrase-repeat", Input)
        assert app.focused is repeat
        assert repeat.value == ""
        assert isinstance(app.screen, FirstRunScreen)
        assert app.engine is None

    assert not (tmp_path / "profile" / "key.json").exists()


async def test_first_run_empty_name_shows_error(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await choose(app, pilot, "role", 1)
        await fill(app, pilot, "display-name", "   ")
        await fill(app, pilot, "passphrase", FORM_PASSPHRASE)
        await fill(app, pilot, "passphrase-repeat", FORM_PASSPHRASE)
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")

        message = await wait_for_line(app, pilot, "#display-name-error")
        assert message == t("start.first_run.errors.name_empty")
        assert app.focused is app.screen.query_one("#display-name")
        assert line_text(app, "#passphrase-error") == ""
        assert app.engine is None

    assert not (tmp_path / "profile" / "key.json").exists()


async def test_first_run_short_passphrase_and_missing_role(
    tmp_path: Path, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await fill(app, pilot, "display-name", "Dimas")
        await fill(app, pilot, "passphrase", "pendek")
        await fill(app, pilot, "passphrase-repeat", "pendek")
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")

        role_message = await wait_for_line(app, pilot, "#role-error")
        assert role_message == t("start.first_run.errors.role_missing")
        assert line_text(app, "#passphrase-error") == t(
            "start.first_run.errors.passphrase_too_short", minimum=MIN_PASSPHRASE_CHARS
        )
        assert app.focused is app.screen.query_one("#role")


async def test_first_run_counselor_needs_relay_student_does_not(
    tmp_path: Path, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await choose(app, pilot, "role", 0)
        await fill(app, pilot, "display-name", "Bu Sari")
        await fill(app, pilot, "passphrase", FORM_PASSPHRASE)
        await fill(app, pilot, "passphrase-repeat", FORM_PASSPHRASE)
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")

        message = await wait_for_line(app, pilot, "#relay-url-error")
        assert message == t("start.first_run.errors.relay_missing")
        assert app.engine is None

        await choose(app, pilot, "role", 1)
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")
        await wait_for_screen(app, MainScreen, pilot)

        assert app.engine is not None
        assert app.engine.state.role == "student"
        assert app.engine.state.relay_url is None


async def test_first_run_relay_check_reachable(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await fill(app, pilot, "relay-url", tui_relay.url)
        app.screen.query_one("#check-relay").focus()
        await pilot.press("enter")
        await app.screen.workers.wait_for_complete()
        await pilot.pause()

        assert line_text(app, "#relay-check-status") == t("start.relay_check.reachable")
        assert app.screen.query_one("#relay-check-status").has_class("ok")
        assert t("start.relay_check.reachable") in screen_text(app)


async def test_first_run_relay_check_closed_port(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await fill(app, pilot, "relay-url", f"ws://127.0.0.1:{free_port()}")
        app.screen.query_one("#check-relay").focus()
        await pilot.press("enter")
        await app.screen.workers.wait_for_complete()
        await pilot.pause()

        assert line_text(app, "#relay-check-status") == t("start.relay_check.refused")
        assert not app.screen.query_one("#relay-check-status").has_class("ok")


async def test_first_run_relay_check_rejects_invalid_address(
    tmp_path: Path, cheap_kdf: KdfParams
) -> None:
    """An address that is not ws:// or wss:// is rejected before any connection."""
    app = build_app(tmp_path / "profile", cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await fill(app, pilot, "relay-url", "http://127.0.0.1:8080")
        app.screen.query_one("#check-relay").focus()
        await pilot.press("enter")

        message = await wait_for_line(app, pilot, "#relay-url-error")
        assert message == t("start.first_run.errors.relay_invalid")
        assert line_text(app, "#relay-check-status") == ""
        assert len(app.screen.workers) == 0


async def test_first_run_language_switch_keeps_typed_values(
    tmp_path: Path, cheap_kdf: KdfParams
) -> None:
    app = build_app(tmp_path / "profile", cheap_kdf, language="id")

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await choose(app, pilot, "role", 1)
        await fill(app, pilot, "display-name", "Dimas")
        assert "Selamat datang" in screen_text(app)

        await choose(app, pilot, "language", 1)
        await pilot.pause()

        assert catalog.current().language == "en"
        assert app.language == "en"
        assert "Welcome to konsel-chat" in screen_text(app)
        assert "Selamat datang" not in screen_text(app)
        assert app.screen.query_one("#display-name", Input).value == "Dimas"
        assert app.focused is app.screen.query_one("#language")

        await choose(app, pilot, "language", 0)
        await pilot.pause()
        assert catalog.current().language == "id"
        assert "Selamat datang" in screen_text(app)


async def test_first_run_shows_store_error_on_form(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    """A profile made elsewhere while the form is open makes creation fail with a message."""
    profile = tmp_path / "profile"
    app = build_app(profile, cheap_kdf)

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(app, FirstRunScreen, pilot)
        await make_profile(profile, "student", tui_relay, name="Dimas")
        await choose(app, pilot, "role", 1)
        await fill(app, pilot, "display-name", "Dimas")
        await fill(app, pilot, "passphrase", FORM_PASSPHRASE)
        await fill(app, pilot, "passphrase-repeat", FORM_PASSPHRASE)
        app.screen.query_one("#create-profile").focus()
        await pilot.press("enter")

        message = await wait_for_line(app, pilot, "#create-status", "field-error")
        assert message == t("start.errors.profile_exists")
        assert isinstance(app.screen, FirstRunScreen)
        assert not app.screen.query_one("#create-profile").disabled


async def test_first_run_shows_only_catalog_words(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    for language in ("id", "en"):
        Catalog.shown = set()
        app = build_app(tmp_path / f"profile-{language}", cheap_kdf, language=language)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_screen(app, FirstRunScreen, pilot)
            pages = [screen_text(app)]
            for _ in range(8):
                await pilot.press("tab")
                pages.append(screen_text(app))
        catalog_texts = Catalog.shown
        Catalog.shown = None
        for page in pages:
            strays = words_outside(page, [*catalog_texts, *content_words()])
            assert strays == [], f"words that no catalog gave ({language}): {strays}\n{page}"
