"""The ``konsel-chat demo`` command, run as a user runs it.

With its output piped, the demo prints the conversation line by line. On a terminal it
plays in the terminal app; those tests run it in a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KONSEL_CHAT = Path(sys.executable).parent / "konsel-chat"


@pytest.mark.parametrize(
    ("language", "clean_line", "received"),
    [
        ("id", "relai hanya menyimpan teks sandi", "[Bu Sari] menerima: Iya, Bu, betul."),
        ("en", "the relay stored only ciphertext", "[Bu Sari] received: Yes, that's right."),
    ],
)
def test_demo_runs_conversation(language: str, clean_line: str, received: str) -> None:
    result = subprocess.run(
        [str(KONSEL_CHAT), "--lang", language, "demo", "--pause", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert clean_line in result.stdout
    assert received in result.stdout

    # Both sides computed the same safety code, shown as six groups of five digits.
    assert re.search(r"^  (\d{5} ){5}\d{5}$", result.stdout, re.MULTILINE)
    assert "PERINGATAN" not in result.stdout
    assert "WARNING" not in result.stdout

    folder = re.search(r"(/\S*konsel-demo-\w+)", result.stdout)
    assert folder is not None
    assert not Path(folder.group(1).rstrip(").")).exists()


# --- the demo in the terminal app, run in a pseudo-terminal --------------------------------

TERMINAL_ROWS, TERMINAL_COLUMNS = 24, 80
RUN_SECONDS = 60.0


@dataclass
class TerminalRun:
    """A konsel-chat process whose stdin, stdout and stderr are one pseudo-terminal."""

    process: subprocess.Popen[bytes]
    master: int
    output: bytearray = field(default_factory=bytearray)

    def read_until(self, done: Callable[[], bool], seconds: float = RUN_SECONDS) -> None:
        """Read the terminal's output until ``done()`` returns true or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    # Linux reports EIO once the process side of the terminal is closed.
                    break

    def finish(self) -> int:
        """Wait for the process to end, reading its output, and return its exit status."""
        self.read_until(lambda: self.process.poll() is not None)
        try:
            return self.process.wait(timeout=RUN_SECONDS)
        finally:
            os.close(self.master)


def start_in_terminal(arguments: list[str], temporary: Path) -> TerminalRun:
    """Start ``konsel-chat`` in an 80x24 pseudo-terminal with its temporary files in ``temporary``."""
    master, slave = pty.openpty()
    size = struct.pack("HHHH", TERMINAL_ROWS, TERMINAL_COLUMNS, 0, 0)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    environment = {**os.environ, "TMPDIR": str(temporary), "TERM": "xterm-256color"}
    environment.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [str(KONSEL_CHAT), *arguments],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        start_new_session=True,
    )
    os.close(slave)
    return TerminalRun(process, master)


def demo_folders(temporary: Path) -> list[Path]:
    """Return the demo's temporary folders under ``temporary``."""
    return sorted(temporary.glob("konsel-demo-*"))


def test_demo_in_terminal_plays_and_cleans_up(tmp_path: Path) -> None:
    run = start_in_terminal(["demo", "--pause", "0", "--exit-when-done"], tmp_path)

    status = run.finish()

    assert status == 0, run.output[-2000:].decode(errors="replace")
    # The app drew its screen, with the KOPASTA panel.
    assert b"KOPASTA" in run.output
    assert demo_folders(tmp_path) == []


def test_demo_in_terminal_cleans_up_on_sigterm(tmp_path: Path) -> None:
    run = start_in_terminal(["demo"], tmp_path)
    run.read_until(lambda: any((folder / "konseli").exists() for folder in demo_folders(tmp_path)))
    assert demo_folders(tmp_path) != []

    run.process.send_signal(signal.SIGTERM)
    status = run.finish()

    assert status == 143
    assert demo_folders(tmp_path) == []


def test_demo_text_option_prints_lines(tmp_path: Path) -> None:
    """``--text`` gives the line-by-line demo even on a terminal."""
    run = start_in_terminal(["demo", "--text", "--pause", "0"], tmp_path)

    status = run.finish()

    assert status == 0
    assert "relai hanya menyimpan teks sandi" in run.output.decode(errors="replace")
    assert demo_folders(tmp_path) == []
