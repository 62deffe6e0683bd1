"""Two ``konsel-chat`` processes in real terminals (tmux) talk through a ``konsel-relay`` process.

Everything goes through the keyboard (``tmux send-keys``) and the screen
(``tmux capture-pane``): first run with real Argon2id keys, pairing by the short code
read off the counselor's screen, Indonesian messages with emoji both ways, and quick exit.
Each test runs its own tmux server on a private socket and kills it, and the relay, at the
end. The test is skipped only where tmux is not installed; .ci/run installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine_helpers import RELAY_FLAGS, free_port
from tmux_session import TmuxError, TmuxSession

from konsel.client.tui.catalog import t
from konsel.protocol.errors import ShortCodeError
from konsel.protocol.shortcode import parse_code

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)

BIN = Path(sys.executable).parent
"""The virtual environment's scripts folder, which contains konsel-chat and konsel-relay."""

COUNSELOR_SIZE = (100, 30)
"""Wide enough for the conversation list, the chat and the KOPASTA panel side by side."""
STUDENT_SIZE = (80, 24)

COUNSELOR_NAME = "Bu Sari"
STUDENT_NAME = "Dimas"
COUNSELOR_PASSPHRASE = "teh manis di ruang BK"
STUDENT_PASSPHRASE = "layang-layang biru sore"

GREETING = "Selamat pagi, Bu 🙏"
STORY = "Saya mau cerita 😊"

SHORT_CODE = re.compile(r"\b\d{1,3}(?:-[a-z]+)+\b")
"""A short code as the invitation screen shows it, such as ``7-kancil-pelangi``."""


@dataclass
class RelayProcess:
    """A ``konsel-relay`` process on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[RelayProcess]:
    """Start the ``konsel-relay`` script on a free loopback port; kill it by PID at the end."""
    port = free_port()
    command = [
        str(BIN / "konsel-relay"), "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(tmp_path / "relay-data"), *RELAY_FLAGS,
    ]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KONSEL_")}
    with (tmp_path / "relay.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        wait_until_healthy(process, port)
        yield RelayProcess(process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=15)


def wait_until_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    """Wait until the relay answers ``/healthz``; fail after 15 seconds."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, "konsel-relay exited at start; see relay.log"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("konsel-relay did not answer /healthz in 15 s")


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[TmuxSession]:
    """A private tmux server whose windows run programs in a UTF-8 xterm-256color terminal.

    HOME and XDG_CONFIG_HOME point into ``tmp_path``, so the apps read no school content
    files and write nothing outside the test's folder.
    """
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    session = TmuxSession(tmp_path, environment=environment)
    try:
        yield session
    finally:
        session.kill_server()


def start_app(
    terminals: TmuxSession, name: str, size: tuple[int, int], profile: Path, relay_url: str
) -> str:
    """Start ``konsel-chat`` on a new profile in its own window; return the window's target."""
    command = [
        str(BIN / "konsel-chat"), "--profile-dir", str(profile), "--relay", relay_url,
        "--lang", "id",
    ]  # fmt: skip
    return terminals.new_window(name, command, size)


def press_tab_to_field(terminals: TmuxSession, target: str, what: str) -> None:
    """Press Tab and wait until the caret moved, which says the next input field has focus."""
    terminals.press_until_changed(
        target, "Tab", lambda: terminals.cursor(target), f"focus on {what}"
    )


def type_into_field(terminals: TmuxSession, target: str, text: str, shown: str) -> None:
    """Type ``text`` and wait until the screen shows ``shown`` (the text, or its bullets)."""
    terminals.send_text(target, text)
    terminals.wait_for(target, shown, f"the typed {shown!r}")


def press_button(terminals: TmuxSession, target: str, label: str) -> None:
    """Tab to the button labelled ``label`` and press Enter."""
    terminals.send_keys(target, "Tab")
    terminals.wait_for(
        target,
        lambda _: terminals.shows_reversed(target, label),
        f"focus on the button {label!r}",
    )
    terminals.send_keys(target, "Enter")


def create_profile(
    terminals: TmuxSession,
    target: str,
    *,
    counselor: bool,
    name: str,
    passphrase: str,
    relay_url: str,
) -> None:
    """Go through the first-run form with the keyboard, as a new user does."""
    counselor_choice = t("start.first_run.role_counselor")
    student_choice = t("start.first_run.role_student")
    terminals.wait_for(target, counselor_choice, "the first-run screen")

    # Tab moves from the language choice (Indonesian is chosen) to the role choice, which
    # highlights its first role; Down moves the highlight, Enter chooses.
    terminals.press_until_changed(
        target, "Tab", lambda: terminals.styled_up_to(target, counselor_choice), "focus on the role"
    )
    chosen = counselor_choice
    if not counselor:
        chosen = student_choice
        terminals.press_until_changed(
            target,
            "Down",
            lambda: terminals.styled_up_to(target, student_choice),
            "the student role highlighted",
        )
    terminals.press_until_changed(
        target, "Enter", lambda: terminals.styled_up_to(target, chosen), "the chosen role"
    )

    press_tab_to_field(terminals, target, "the name")
    type_into_field(terminals, target, name, name)
    press_tab_to_field(terminals, target, "the passphrase")
    type_into_field(terminals, target, passphrase, "•" * len(passphrase))
    press_tab_to_field(terminals, target, "the repeated passphrase")
    terminals.send_text(target, passphrase)
    terminals.wait_for(
        target,
        lambda screen: screen.count("•" * len(passphrase)) == 2,
        "the repeated passphrase",
    )
    press_tab_to_field(terminals, target, "the relay address")
    type_into_field(terminals, target, relay_url, relay_url)

    press_button(terminals, target, t("start.first_run.check"))
    terminals.wait_for(target, t("start.relay_check.reachable"), "the connection check")
    press_button(terminals, target, t("start.first_run.submit"))
    terminals.wait_for(target, t("chat.composer.placeholder")[:30], "the main screen")


def read_short_code(screen: str) -> str | None:
    """Return the short code shown on ``screen``, or None while none is shown."""
    for match in SHORT_CODE.finditer(screen):
        try:
            parse_code(match.group(0))
        except ShortCodeError:
            continue
        return match.group(0)
    return None


def pair_by_short_code(terminals: TmuxSession, counselor: str, student: str) -> None:
    """Read the code off the counselor's invitation screen and type it on the student's."""
    terminals.send_keys(counselor, "F2")
    screen = terminals.wait_for(
        counselor, lambda shown: read_short_code(shown) is not None, "the short code"
    )
    code = read_short_code(screen)
    assert code is not None

    terminals.press_until_changed(
        student, "F2", lambda: terminals.cursor(student), "focus on the code field"
    )
    terminals.wait_for(student, t("pairing.join.title"), "the join screen")
    type_into_field(terminals, student, code, code)
    terminals.send_keys(student, "Enter")

    joined = t("pairing.join.paired", name=COUNSELOR_NAME)
    terminals.wait_for(student, joined[:40], "the joined notice")
    paired = t("pairing.invite.paired", name=STUDENT_NAME)
    terminals.wait_for(counselor, paired[:30], "the paired notice")

    # The composer's placeholder shows under a modal too, so wait for the modal's title to
    # go. A lone Escape can be read as the start of an escape sequence on a loaded
    # machine, so it is sent again until the window closes.
    for target, title in (
        (student, t("pairing.join.title")),
        (counselor, t("pairing.invite.title")),
    ):
        for _ in range(5):
            terminals.send_keys(target, "Escape")
            try:
                terminals.wait_for(
                    target,
                    lambda shown, title=title: title not in shown,
                    "the window to close",
                    4.0,
                )
                break
            except TmuxError:
                continue
        terminals.wait_for(
            target, lambda shown, title=title: title not in shown, "the window to close"
        )
        terminals.wait_for(
            target, t("chat.composer.placeholder")[:30], "the main screen after pairing"
        )


def send_message(terminals: TmuxSession, target: str, text: str) -> None:
    """Type ``text`` into the composer, wait until it shows, and send it with Enter."""
    placeholder = t("chat.composer.placeholder")[:30]
    terminals.send_text(target, text)
    terminals.wait_for(target, lambda screen: placeholder not in screen, "the typed message")
    terminals.send_keys(target, "Enter")
    terminals.wait_for(target, placeholder, "the composer to empty after sending")


def test_two_terminals_exchange_messages(
    tmp_path: Path, relay_process: RelayProcess, terminals: TmuxSession
) -> None:
    counselor = start_app(terminals, "bk", COUNSELOR_SIZE, tmp_path / "bk", relay_process.url)
    student = start_app(terminals, "siswa", STUDENT_SIZE, tmp_path / "siswa", relay_process.url)
    assert terminals.pane_size(counselor) == COUNSELOR_SIZE
    assert terminals.pane_size(student) == STUDENT_SIZE

    create_profile(
        terminals,
        counselor,
        counselor=True,
        name=COUNSELOR_NAME,
        passphrase=COUNSELOR_PASSPHRASE,
        relay_url=relay_process.url,
    )
    create_profile(
        terminals,
        student,
        counselor=False,
        name=STUDENT_NAME,
        passphrase=STUDENT_PASSPHRASE,
        relay_url=relay_process.url,
    )
    pair_by_short_code(terminals, counselor, student)
    terminals.wait_for(counselor, STUDENT_NAME, "the konseli in the counselor's list")
    terminals.wait_for(student, COUNSELOR_NAME, "the counselor in the konseli's list")

    send_message(terminals, student, GREETING)
    terminals.wait_for(counselor, GREETING, "the greeting at the counselor")
    send_message(terminals, counselor, STORY)
    terminals.wait_for(student, STORY, "the counselor's message at the konseli")

    # Quick exit hides everything at once and leaves the app running, locked.
    terminals.send_keys(student, "C-q")
    neutral = terminals.wait_for(student, t("start.neutral.title"), "the neutral screen")
    for private in (GREETING, STORY, COUNSELOR_NAME, STUDENT_NAME):
        assert private not in neutral
    assert not terminals.pane_dead(student)
