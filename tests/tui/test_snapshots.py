"""SVG snapshots of the main screens at 80x24 and 120x40, in Indonesian and English.

Each test builds real profiles on a real relay subprocess (see snapshot_apps.py for what
is pinned so the pictures stay the same), opens the app and compares the screen with the
SVG stored under __snapshots__/. After a deliberate change of a screen, look at the new
pictures and accept them with ``pytest tests/tui/test_snapshots.py --snapshot-update``.

The relay is real rather than a closed port: a closed port makes the status bar flip
between "connecting" and "not connected" on the retry timer, while a live relay leaves
it at "connected" once the app has caught up.

The snapshot plugin runs each app in its own event loop, so these tests are synchronous
and build their profiles with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, Relay, new_engine, start_relay
from snapshot_apps import (
    FIXED_CODE,
    FIXED_LINK,
    SCENE_START,
    TIME_ZONE,
    FrozenTime,
    Scene,
    SnapshotApp,
    after_main,
    pin_invitations,
    run_scene,
    settle_screen,
    wait_for,
)
from textual.pilot import Pilot
from textual.widgets import Static, TextArea

from konsel.client.tui.screens.help import HelpScreen
from konsel.client.tui.screens.invite import InviteScreen
from konsel.client.tui.screens.neutral import NeutralScreen
from konsel.client.tui.screens.unlock import UnlockScreen
from konsel.client.tui.screens.verify import VerifyScreen

SMALL = (80, 24)
LARGE = (120, 40)
SIZES = [pytest.param(SMALL, id="80x24"), pytest.param(LARGE, id="120x40")]
LANGUAGES = ["id", "en"]

Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def jakarta_time() -> Iterator[None]:
    """Draw local times in Western Indonesian Time, whatever the machine's zone is."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = TIME_ZONE
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture(scope="module")
def snapshot_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """One relay for the module; every scene creates its own inboxes on it."""
    relay = start_relay(tmp_path_factory.mktemp("snapshot-relay"))
    yield relay
    relay.stop()


@pytest.fixture
def scene(tmp_path: Path, snapshot_relay: Relay) -> Scene:
    """A counselor and a konseli, paired, mid-session, with their engines closed."""
    return run_scene(tmp_path, snapshot_relay.url)


def open_main(scene: Scene, role: str, language: str) -> SnapshotApp:
    """Return an app that opens the scene's profile of ``role`` straight to the main screen."""
    directory = scene.counselor_dir if role == "counselor" else scene.student_dir
    return SnapshotApp(directory, now=scene.app_time, language=language, unlock_with=PASSPHRASE)


def static_text(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).content)


# --- start screens ------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_first_run(
    snap_compare: Compare, tmp_path: Path, language: str, size: tuple[int, int]
) -> None:
    app = SnapshotApp(tmp_path / "new", now=SCENE_START, language=language)

    assert snap_compare(app, terminal_size=size, run_before=settle_screen)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_unlock(
    snap_compare: Compare, tmp_path: Path, language: str, size: tuple[int, int]
) -> None:
    asyncio.run(closed_profile(tmp_path / "profile"))
    app = SnapshotApp(tmp_path / "profile", now=SCENE_START, language=language)

    async def unlock_shown(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, UnlockScreen), "unlock")
        await settle_screen(pilot)

    assert snap_compare(app, terminal_size=size, run_before=unlock_shown)


async def closed_profile(directory: Path) -> None:
    engine = await new_engine(directory, "Dimas", "student", None)
    await engine.close()


# --- main screen --------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_counselor_main_wide(snap_compare: Compare, scene: Scene, language: str) -> None:
    """At 120 columns the list, the chat and the KOPASTA panel fit side by side."""
    app = open_main(scene, "counselor", language)

    assert snap_compare(app, terminal_size=LARGE, run_before=after_main())


@pytest.mark.parametrize("language", LANGUAGES)
def test_counselor_main_narrow(snap_compare: Compare, scene: Scene, language: str) -> None:
    app = open_main(scene, "counselor", language)

    assert snap_compare(app, terminal_size=SMALL, run_before=after_main())


@pytest.mark.parametrize("language", LANGUAGES)
def test_counselor_main_narrow_panel(snap_compare: Compare, scene: Scene, language: str) -> None:
    """At 80 columns f4 shows the KOPASTA panel in the conversation list's place."""
    app = open_main(scene, "counselor", language)

    assert snap_compare(app, terminal_size=SMALL, run_before=after_main("f4"))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_student_main(
    snap_compare: Compare, scene: Scene, language: str, size: tuple[int, int]
) -> None:
    app = open_main(scene, "student", language)

    assert snap_compare(app, terminal_size=size, run_before=after_main())


def test_counselor_main_no_color(
    snap_compare: Compare, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NO_COLOR set the main screen is drawn in black, white and grey only."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = open_main(scene, "counselor", "id")
    assert app.no_color

    assert snap_compare(app, terminal_size=LARGE, run_before=after_main())


# --- screens over the main screen ---------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_help(snap_compare: Compare, scene: Scene, language: str, size: tuple[int, int]) -> None:
    app = open_main(scene, "counselor", language)

    async def help_shown(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")

    assert snap_compare(app, terminal_size=size, run_before=after_main("f1", then=help_shown))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_invite(
    snap_compare: Compare,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    size: tuple[int, int],
) -> None:
    """The invite screen with a fixed code and link, and its countdown at the full 10:00."""
    monkeypatch.setattr(
        "konsel.client.tui.screens.invite.time", FrozenTime(scene.app_time.timestamp())
    )
    app = open_main(scene, "counselor", language)

    async def invite_shown(pilot: Pilot[Any]) -> None:
        def code_and_link_shown() -> bool:
            screen = pilot.app.screen
            if not isinstance(screen, InviteScreen):
                return False
            link = screen.query_one("#link", TextArea).text
            return static_text(pilot, "#code") == FIXED_CODE and link == FIXED_LINK

        await wait_for(pilot, code_and_link_shown, "the invite screen's code and link")

    async def pin_then_invite(pilot: Pilot[Any]) -> None:
        engine = pilot.app.engine  # type: ignore[attr-defined]
        pin_invitations(engine, scene.app_time)
        await pilot.press("f2")
        await invite_shown(pilot)

    assert snap_compare(app, terminal_size=size, run_before=after_main(then=pin_then_invite))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_verify(snap_compare: Compare, scene: Scene, language: str, size: tuple[int, int]) -> None:
    """The safety code of the scene's two seeded identities, in digits and words."""
    app = open_main(scene, "counselor", language)

    async def code_shown(pilot: Pilot[Any]) -> None:
        def shown() -> bool:
            screen = pilot.app.screen
            return isinstance(screen, VerifyScreen) and bool(static_text(pilot, "#words"))

        await wait_for(pilot, shown, "the safety code")

    assert snap_compare(app, terminal_size=size, run_before=after_main("f3", then=code_shown))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_quick_exit(
    snap_compare: Compare, scene: Scene, language: str, size: tuple[int, int]
) -> None:
    """Quick exit from a konseli's conversation leaves only the neutral page on screen."""
    app = open_main(scene, "student", language)

    async def neutral_and_locked(pilot: Pilot[Any]) -> None:
        def locked() -> bool:
            return isinstance(pilot.app.screen, NeutralScreen) and pilot.app.engine is None  # type: ignore[attr-defined]

        await wait_for(pilot, locked, "the neutral screen and the lock")

    assert snap_compare(
        app, terminal_size=size, run_before=after_main("ctrl+q", then=neutral_and_locked)
    )
