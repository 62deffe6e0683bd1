"""A small tmux driver for the real-terminal tests: windows, keys, screen captures.

Each :class:`TmuxSession` runs its own tmux server on a private socket (``tmux -L NAME``)
with a small configuration file of its own, so the user's ``~/.tmux.conf`` and any other tmux
server are never touched. :meth:`TmuxSession.kill_server` stops only that server.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

COMMAND_TIMEOUT = 10.0
"""Seconds one tmux command may take before the test fails."""

POLL_SECONDS = 0.1
"""How often the waits capture the pane again."""

WAIT_SECONDS = 20.0
"""How long a wait lasts before the test fails, unless the caller gives another limit."""

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
"""A Select Graphic Rendition escape sequence, as ``capture-pane -e`` writes them."""

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
"""The bracketed-paste markers a terminal wraps around pasted text."""

CONFIG = """\
set -g default-terminal "xterm-256color"
set -g status off
set -g history-limit 2000
set -g escape-time 0
set -g remain-on-exit on
"""
"""The server's whole configuration. ``status off`` gives each window the full size;
``remain-on-exit`` keeps a pane readable after its program ends, so a crash can be shown;
``escape-time 0`` hands Escape to the app at once instead of waiting for a sequence."""


class TmuxError(AssertionError):
    """A tmux command failed or a wait ran past its deadline."""


class TmuxSession:
    """One private tmux server with one session, whose windows run the programs under test."""

    def __init__(self, directory: Path, *, environment: Mapping[str, str] | None = None) -> None:
        """Prepare a server whose configuration file lives in ``directory``.

        Args:
            directory: a private folder for the configuration file.
            environment: variables set for every program started in a window.
        """
        self.socket_name = f"konsel-test-{uuid.uuid4().hex[:12]}"
        self.environment = dict(environment or {})
        self.config_path = directory / "tmux.conf"
        self.config_path.write_text(CONFIG, encoding="utf-8")
        self._started = False
        self._socket_path: Path | None = None

    # --- windows -------------------------------------------------------------------------

    def new_window(self, name: str, command: Sequence[str], size: tuple[int, int]) -> str:
        """Run ``command`` in a new window of ``size`` (columns, rows); return its target.

        Each window is the only window of its own tmux session called ``name``, so each
        has its own fixed size from the first drawn screen on.
        """
        width, height = size
        environment = [f"-e{key}={value}" for key, value in self.environment.items()]
        first = not self._started
        self._run(
            "new-session", "-d", "-s", name, "-n", name, "-x", str(width), "-y", str(height),
            *environment, shlex.join(command),
        )  # fmt: skip
        self._started = True
        if first:
            self._socket_path = Path(self._run("display-message", "-p", "#{socket_path}").strip())
        return f"{name}:{name}"

    def pane_pid(self, target: str) -> int:
        """Return the process id of the program running in ``target``'s pane."""
        return int(self._run("display-message", "-p", "-t", target, "#{pane_pid}").strip())

    def pane_dead(self, target: str) -> bool:
        """Return whether the program in ``target``'s pane has ended."""
        return self._run("display-message", "-p", "-t", target, "#{pane_dead}").strip() == "1"

    def pane_size(self, target: str) -> tuple[int, int]:
        """Return the (columns, rows) of ``target``'s pane."""
        width, height = self._run(
            "display-message", "-p", "-t", target, "#{pane_width} #{pane_height}"
        ).split()
        return int(width), int(height)

    # --- input ---------------------------------------------------------------------------

    def send_text(self, target: str, text: str) -> None:
        """Type ``text`` into the pane literally, character by character as a keyboard would."""
        self._run("send-keys", "-t", target, "-l", "--", text)

    def send_keys(self, target: str, *keys: str) -> None:
        """Press named keys in the pane, in tmux's names: ``Enter``, ``Tab``, ``C-q``, ``F2``."""
        self._run("send-keys", "-t", target, *keys)

    def send_bytes(self, target: str, data: bytes) -> None:
        """Write raw bytes to the pane's program, as hex pairs through ``send-keys -H``."""
        self._run("send-keys", "-t", target, "-H", *(f"{byte:02x}" for byte in data))

    def paste(self, target: str, text: str) -> None:
        """Paste ``text`` the way a terminal with bracketed paste does."""
        self.send_bytes(target, PASTE_START + text.encode("utf-8") + PASTE_END)

    # --- output --------------------------------------------------------------------------

    def capture(self, target: str, *, styles: bool = False) -> str:
        """Return the visible screen of ``target``'s pane, one line per row.

        With ``styles`` the lines keep their SGR escape sequences (colours, bold, reverse).
        """
        return self._run("capture-pane", "-p", *(["-e"] if styles else []), "-t", target)

    def cursor(self, target: str) -> tuple[int, int]:
        """Return the (column, row) of the terminal cursor in ``target``'s pane.

        Textual puts the cursor where the focused input field has its caret, so a move
        tells that focus reached another field.
        """
        column, row = self._run(
            "display-message", "-p", "-t", target, "#{cursor_x} #{cursor_y}"
        ).split()
        return int(column), int(row)

    def styled_line(self, target: str, text: str) -> str | None:
        """Return the first screen line containing ``text``, with its escape sequences."""
        for line in self.capture(target, styles=True).splitlines():
            if text in strip_styles(line):
                return line
        return None

    def styled_up_to(self, target: str, text: str) -> str | None:
        """Return the screen line with ``text``, escape sequences kept, cut after ``text``.

        The cut leaves out what is drawn right of the text, such as a scrollbar that
        moves when the view scrolls, so the result changes only with the text's own
        line: its attributes or a mark in front of it. None when ``text`` is not shown.
        """
        for line in self.capture(target, styles=True).splitlines():
            at = line.find(text)
            if at >= 0:
                return line[: at + len(text)]
        return None

    def shows_reversed(self, target: str, text: str) -> bool:
        """Return whether ``text`` is drawn in reverse video, Textual's mark of a focused button."""
        line = self.styled_line(target, text)
        if line is None:
            return False
        return any(style.reverse and text in span for span, style in styled_spans(line))

    def wait_for(
        self,
        target: str,
        condition: Callable[[str], bool] | str,
        what: str,
        timeout: float = WAIT_SECONDS,
    ) -> str:
        """Capture the pane every 100 ms until ``condition`` holds; return that screen.

        A string as ``condition`` waits until the screen contains it.

        Raises:
            TmuxError: the deadline passed; the message shows the last screen.
        """
        check = condition if callable(condition) else (lambda screen: condition in screen)
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(target)
            if check(screen):
                return screen
            time.sleep(POLL_SECONDS)
        raise TmuxError(f"timed out after {timeout} s waiting for {what}; screen:\n{screen}")

    def press_until_changed(
        self,
        target: str,
        key: str,
        probe: Callable[[], object],
        what: str,
        timeout: float = WAIT_SECONDS,
    ) -> None:
        """Press ``key`` and wait until ``probe()`` returns something else than before it.

        Use it for a key whose effect must land before the next key is sent: Textual
        hands keys that arrive together to the widget that had focus when they arrived,
        so text typed right after Tab can end up in the field that Tab left.

        Raises:
            TmuxError: the deadline passed; the message shows the last screen.
        """
        before = probe()
        self.send_keys(target, key)
        deadline = time.monotonic() + timeout
        while probe() == before:
            if time.monotonic() > deadline:
                screen = self.capture(target)
                raise TmuxError(
                    f"timed out after {timeout} s waiting for {what}; screen:\n{screen}"
                )
            time.sleep(POLL_SECONDS)

    # --- shutdown ------------------------------------------------------------------------

    def kill_server(self) -> None:
        """Stop this session's tmux server and every program in its windows."""
        if self._started:
            self._started = False
            self._run("kill-server", check=False)
        # tmux leaves the socket file behind when its server is killed.
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)
            self._socket_path = None

    # --- helpers -------------------------------------------------------------------------

    def _run(self, *arguments: str, check: bool = True) -> str:
        # -u: treat the terminal as UTF-8 whatever the locale says; -f: our config only.
        command = ["tmux", "-u", "-L", self.socket_name, "-f", str(self.config_path), *arguments]
        environment = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        environment.pop("TMUX", None)
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=COMMAND_TIMEOUT,
            env=environment,
            check=False,
        )
        if check and result.returncode != 0:
            raise TmuxError(f"tmux {arguments[0]} failed ({result.returncode}): {result.stderr}")
        return result.stdout


@dataclass(frozen=True)
class SpanStyle:
    """The text attributes that matter to the tests, as SGR sequences set them."""

    reverse: bool = False


def strip_styles(line: str) -> str:
    """Return ``line`` without its SGR escape sequences."""
    return SGR.sub("", line)


def styled_spans(line: str) -> Iterator[tuple[str, SpanStyle]]:
    """Split a captured line into runs of text, each with the attributes it is drawn with."""
    reverse = False
    position = 0
    for match in SGR.finditer(line):
        if match.start() > position:
            yield line[position : match.start()], SpanStyle(reverse)
        reverse = _apply_sgr(match.group(1), reverse)
        position = match.end()
    if position < len(line):
        yield line[position:], SpanStyle(reverse)


def _apply_sgr(parameters: str, reverse: bool) -> bool:
    """Return the reverse-video attribute after one SGR sequence's ``parameters``."""
    codes = [int(code) if code.isdigit() else 0 for code in re.split("[;:]", parameters)]
    index = 0
    while index < len(codes):
        code = codes[index]
        if code in (38, 48, 58):
            # An extended colour: 5;n (256 colours) or 2;r;g;b (true colour) follows.
            kind = codes[index + 1] if index + 1 < len(codes) else 0
            index += 3 if kind == 5 else 5
            continue
        if code == 0:
            reverse = False
        elif code == 7:
            reverse = True
        elif code == 27:
            reverse = False
        index += 1
    return reverse
