"""Pasted text in the composer: NUL bytes removed, one draft, nothing sent, no key fired.

Some terminals (Windows Terminal, also over SSH) put NUL bytes into a bracketed paste.
The pilot tests post Textual's Paste event to the focused composer; the tmux test types
a real bracketed paste into a terminal running a small app with the composer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from chat_helpers import ChatHost, offline_engine, settle, view_lines
from textual import events
from textual.command import CommandPalette

from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.composer import Composer

SCHEDULE = "Halo Bu! Jadwal: Senin @ 10:00 (ruang BK)?"
THREE_LINES = "Bu, saya mau cerita.\nTadi di kelas ada masalah.\nBisa ketemu besok?"


def with_nuls(text: str) -> str:
    """Return ``text`` with a NUL byte after every character, as some terminals paste it."""
    return "".join(character + "\x00" for character in text)


async def test_paste_with_nuls_gives_exact_text(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            composer = app.query_one(Composer)
            assert app.focused is composer
            app.post_message(events.Paste(with_nuls(SCHEDULE)))
            await pilot.pause()
            assert composer.text == SCHEDULE
            assert app.submitted == []
            assert app.probes == 0
            assert not isinstance(app.screen, CommandPalette)
    finally:
        await engine.close()


async def test_paste_three_lines_stays_one_draft(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            composer = app.query_one(Composer)
            app.post_message(events.Paste(with_nuls(SCHEDULE)))
            await pilot.pause()
            app.post_message(events.Paste("\n" + THREE_LINES.replace("\n", "\r\n") + "\r"))
            await pilot.pause()
            assert composer.text == SCHEDULE + "\n" + THREE_LINES + "\n"
            assert app.submitted == []
            assert await engine.history(contact_id) == []
            assert not any("Tadi di kelas" in line for line in view_lines(app.query_one(ChatView)))
    finally:
        await engine.close()


async def test_paste_of_control_keys_fires_nothing(tmp_path: Path) -> None:
    """Pasted bytes that are key codes (Ctrl+O, Ctrl+P, Enter, ESC) stay text or go."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            app.post_message(events.Paste("a\x0fb\x10c\rd\x1b[Ae"))
            await pilot.pause()
            assert app.query_one(Composer).text == "abc\nd[Ae"
            assert app.probes == 0
            assert app.submitted == []
            assert not isinstance(app.screen, CommandPalette)
    finally:
        await engine.close()


async def test_paste_replaces_selection_in_one_undo_step(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            composer = app.query_one(Composer)
            await pilot.press(*"Jadwal: ")
            app.post_message(events.Paste(THREE_LINES))
            await pilot.pause()
            assert composer.text == "Jadwal: " + THREE_LINES
            await pilot.press("ctrl+z")
            assert composer.text == "Jadwal: "
    finally:
        await engine.close()


# --- a real terminal ---------------------------------------------------------------------

COMPOSER_APP = textwrap.dedent(
    """
    import json, sys
    from textual.app import App
    from textual.binding import Binding
    from konsel.client.tui.widgets.composer import Composer

    class PasteApp(App):
        BINDINGS = [Binding("ctrl+o", "probe", "probe")]

        def __init__(self, path):
            super().__init__()
            self.path = path
            self.state = {"text": "", "submitted": [], "probes": 0, "palette": False}

        def compose(self):
            yield Composer()

        def on_mount(self):
            self.query_one(Composer).focus()
            self.save()

        def on_text_area_changed(self, message):
            self.state["text"] = message.text_area.text
            self.save()

        def on_composer_submitted(self, message):
            self.state["submitted"].append(message.text)
            self.save()

        def action_probe(self):
            self.state["probes"] += 1
            self.save()

        def on_screen_resume(self):
            self.state["palette"] = type(self.screen).__name__ == "CommandPalette"
            self.save()

        def save(self):
            self.state["palette"] = self.state["palette"] or (
                type(self.screen).__name__ == "CommandPalette"
            )
            with open(self.path, "w", encoding="utf-8") as file:
                json.dump(self.state, file)

    PasteApp(sys.argv[1]).run()
    """
)


def tmux(socket: str, *arguments: str) -> str:
    result = subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return result.stdout


def wait_for_state(path: Path, check: object, what: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if state and check(state):  # type: ignore[operator]
            return state
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last state {state!r}")


def bracketed_paste_hex(text: str) -> list[str]:
    data = b"\x1b[200~" + text.encode("utf-8") + b"\x1b[201~"
    return [f"{byte:02x}" for byte in data]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_paste_in_real_terminal_drops_nuls(tmp_path: Path) -> None:
    script = tmp_path / "paste_app.py"
    script.write_text(COMPOSER_APP, encoding="utf-8")
    state_path = tmp_path / "state.json"
    socket = f"konsel-paste-{os.getpid()}"
    command = f"{sys.executable} {script} {state_path}"
    environment = ["-e", "TEXTUAL_ANIMATIONS=none"]

    tmux(socket, "new-session", "-d", "-x", "80", "-y", "24", *environment, command)
    try:
        wait_for_state(state_path, lambda state: True, "the app to start")

        tmux(socket, "send-keys", "-H", *bracketed_paste_hex(with_nuls(SCHEDULE)))
        state = wait_for_state(
            state_path, lambda s: s["text"] == SCHEDULE, "the first paste in the composer"
        )
        assert state["submitted"] == []

        tmux(
            socket, "send-keys", "-H", *bracketed_paste_hex("\r" + THREE_LINES.replace("\n", "\r"))
        )
        expected = SCHEDULE + "\n" + THREE_LINES
        state = wait_for_state(
            state_path, lambda s: s["text"] == expected, "the three-line paste as one draft"
        )
        assert state["submitted"] == []
        assert state["probes"] == 0
        assert state["palette"] is False

        screen = tmux(socket, "capture-pane", "-p")
        assert "Bisa ketemu besok?" in screen
        assert SCHEDULE in screen
    finally:
        subprocess.run(
            ["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10, check=False
        )
