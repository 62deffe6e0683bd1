"""Profiles and apps for the snapshot tests, with every value that could change pinned.

A snapshot is a picture of the screen, so it may not contain anything that differs
between runs: the wall clock, random identity keys, random short codes or paths. This
module builds the profiles on a real relay and pins those values through test-only seams:

- :class:`ManualClock` replaces the engine's and the store's clock, so message times,
  stage times and "minutes in this stage" are the same on every run;
- :func:`seeded_identities` makes the identity keys (and so the safety code) fixed;
- :class:`SnapshotApp` is a :class:`KonselApp` whose engine runs on a :class:`ManualClock`.

Everything else is real: the relay subprocess, the SQLCipher profiles, the pairing and
the encrypted messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine_helpers import CHEAP_KDF, FAST_SYNC, new_engine, pair, settle, wait_until
from textual.css.query import NoMatches
from textual.pilot import Pilot

from konsel.client.core.engine import Engine
from konsel.client.core.events import ShortCodeReady
from konsel.client.core.kopasta import Stage
from konsel.client.tui import app as app_module
from konsel.client.tui.app import KonselApp
from konsel.client.tui.screens.main import MainScreen
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.status_bar import StatusBar
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.invitation import Invitation
from konsel.protocol.invitation_link import encode_link

TIME_ZONE = "Asia/Jakarta"
"""The zone the snapshots are drawn in: Western Indonesian Time, where the chat's local
clock and the KOPASTA panel's report zone agree."""

SCENE_START = datetime(2026, 3, 9, 13, 30, tzinfo=ZoneInfo(TIME_ZONE))
"""A Monday afternoon long before the tests run, so the day separator shows a full date."""

COUNSELOR_NAME = "Bu Rina"
STUDENT_NAME = "Dimas"

CONVERSATION: tuple[tuple[str, str, float], ...] = (
    (
        "counselor",
        "Selamat siang, Dimas. Terima kasih sudah menghubungi Ibu. Kita punya waktu "
        "sekitar 30 menit. Ceritakan saja pelan-pelan, ya.",
        0,
    ),
    ("student", "Siang, Bu. Saya bingung soal nilai matematika saya yang turun terus.", 2),
    ("counselor", "Ibu dengar kamu sedang bingung. Sejak kapan nilainya mulai turun?", 1),
    (
        "student",
        "Sejak pindah kelas semester ini, Bu. Saya jadi susah fokus dan malu bertanya ke "
        "guru kalau tidak paham.",
        3,
    ),
    ("counselor", "Terima kasih sudah jujur. Boleh ceritakan lebih lanjut soal kelas barumu?", 1),
)
"""(who writes, text, minutes after the previous message) of the scene's chat."""

PENJAJAGAN_AFTER = 1
"""Index of the message in :data:`CONVERSATION` after which the counselor moves on to
penjajagan, once the konseli has named the problem."""

SCENE_FIELDS: tuple[tuple[Stage, str, str], ...] = (
    (Stage.PENGANTARAN, "arrival", "own_initiative"),
    (Stage.PENJAJAGAN, "problem_area", "belajar"),
    (Stage.PENJAJAGAN, "risk_level", "none"),
)
"""KOPASTA record fields the counselor filled in during the scene."""

MINUTES_AFTER_SCENE = 6
"""How long after the last message the app is opened, so the panel shows a fixed
"minutes in this stage"."""

WAIT_SECONDS = 20.0
STABLE_PAUSE = 0.2
"""Seconds between the two renders that must match before a snapshot is taken."""


class ManualClock:
    """A wall clock in Unix milliseconds that moves only when the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now_ms = int(start.timestamp() * 1000)

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, minutes: float) -> None:
        """Move the clock forward by ``minutes``."""
        self.now_ms += int(minutes * 60_000)


@contextmanager
def seeded_identities(*names: str) -> Iterator[None]:
    """Make the next identities created derive their seeds from ``names``, in order.

    A fixed identity key pair gives a fixed safety code. Only the identity is pinned:
    the ratchet, the prekeys and the relay ids stay random, and none of them is drawn.
    """
    seeds = [hashlib.sha256(f"konsel snapshot {name}".encode()).digest() for name in names]
    original = IdentityKeyPair.__dict__["generate"]

    def generate(cls: type[IdentityKeyPair], rng: Any = None) -> IdentityKeyPair:
        if not seeds:
            raise AssertionError("more identities created than seeded names")
        return cls(seeds.pop(0))

    IdentityKeyPair.generate = classmethod(generate)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        IdentityKeyPair.generate = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class Scene:
    """Two closed profiles, a counselor's and a konseli's, paired and mid-session."""

    counselor_dir: Path
    student_dir: Path
    app_time: datetime
    """The time the apps are opened at."""


async def build_scene(root: Path, relay_url: str) -> Scene:
    """Create, pair and fill the two profiles of the snapshot scene, then close them.

    The counselor starts a counseling session, fills a few KOPASTA fields, moves to
    penjajagan, and both sides exchange :data:`CONVERSATION`. Every message is delivered
    and read before the engines close, so no status changes once the apps open.
    """
    clock = ManualClock(SCENE_START)
    with seeded_identities(COUNSELOR_NAME, STUDENT_NAME):
        counselor = await new_engine(
            root / "konselor", COUNSELOR_NAME, "counselor", relay_url, clock=clock
        )
        student = await new_engine(root / "konseli", STUDENT_NAME, "student", None, clock=clock)

    try:
        student_at_counselor, counselor_at_student = await pair(counselor, student)
        session_id = await counselor.start_counseling_session(student_at_counselor)
        for stage, key, value in SCENE_FIELDS:
            await counselor.record("set_field", session_id, stage.value, key, value)

        for index, (writer, text, minutes) in enumerate(CONVERSATION):
            clock.advance(minutes)
            if writer == "counselor":
                await counselor.send_text(student_at_counselor, text)
                await _wait_for_message(student, counselor_at_student, text)
            else:
                await student.send_text(counselor_at_student, text)
                await _wait_for_message(counselor, student_at_counselor, text)
            if index == PENJAJAGAN_AFTER:
                await counselor.record("change_stage", session_id, Stage.PENJAJAGAN.value)

        await _read_everything(counselor, student_at_counselor)
        await _read_everything(student, counselor_at_student)
        await _wait_all_read(counselor, student_at_counselor)
        await _wait_all_read(student, counselor_at_student)
        await settle(counselor)
        await settle(student)
    finally:
        await counselor.close()
        await student.close()

    clock.advance(MINUTES_AFTER_SCENE)
    app_time = datetime.fromtimestamp(clock.now_ms / 1000, tz=ZoneInfo(TIME_ZONE))
    return Scene(root / "konselor", root / "konseli", app_time)


async def _wait_for_message(engine: Engine, contact_id: int, text: str) -> None:
    async def arrived() -> bool:
        window = await engine.history(contact_id, limit=100)
        return any(message.body == text for message in window)

    await wait_until(arrived, "a scene message to arrive")


async def _read_everything(engine: Engine, contact_id: int) -> None:
    window = await engine.history(contact_id, limit=100)
    await engine.mark_read(contact_id, [m.order for m in window if m.direction == "in"])


async def _wait_all_read(engine: Engine, contact_id: int) -> None:
    async def all_read() -> bool:
        window = await engine.history(contact_id, limit=100)
        return all(m.status == "read" for m in window if m.direction == "out")

    await wait_until(all_read, "the scene's own messages to be read")


def fixed_invitation_link(relay_url: str) -> str:
    """Return a well-formed invitation link made from fixed bytes, for the invite screen."""
    identity = IdentityKeyPair(
        hashlib.sha256(f"konsel snapshot {COUNSELOR_NAME}".encode()).digest()
    )
    invitation = Invitation(
        relay_url=relay_url,
        inbox_id=hashlib.sha256(b"konsel snapshot inbox").digest()[:16],
        identity_key=identity.public.ed25519,
        prekey_bundle=hashlib.sha256(b"konsel snapshot bundle").digest() * 4,
        kind="reusable",
        display_name=COUNSELOR_NAME,
    )
    return encode_link(invitation)


FIXED_CODE = "7-kancil-pelangi"
"""The short code the invite screen shows; the real one is random."""
FIXED_LINK = fixed_invitation_link("wss://konsel.sekolah.example")
"""The invitation link the invite screen shows; the real one names random ids and keys."""
CODE_LIFETIME = 600


class FrozenTime:
    """Stands in for the ``time`` module in the invite screen, so its countdown is fixed."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def pin_invitations(engine: Engine, now: datetime) -> None:
    """Make ``engine`` hand out :data:`FIXED_CODE` and :data:`FIXED_LINK`.

    The short code and the link are random by design, so a snapshot of the invite screen
    needs fixed ones. Only these two engine methods are replaced; the event that carries
    the code's expiry still goes through the engine's real event stream.
    """
    expires_at = int(now.timestamp()) + CODE_LIFETIME

    async def create_code(ttl: int = CODE_LIFETIME) -> str:
        engine.emit(ShortCodeReady(FIXED_CODE, expires_at))
        return FIXED_CODE

    async def create_invitation(kind: str = "reusable", expires_at: int | None = None) -> str:
        return FIXED_LINK

    engine.create_code = create_code  # type: ignore[method-assign]
    engine.create_invitation = create_invitation  # type: ignore[method-assign]


class SnapshotApp(KonselApp):
    """A :class:`KonselApp` whose engine reads time from a :class:`ManualClock`."""

    # A relative CSS_PATH resolves next to the subclass's module, so name the app's own.
    CSS_PATH = str(Path(app_module.__file__).parent / "konsel.tcss")

    def __init__(self, profile_dir: Path, *, now: datetime, **options: Any) -> None:
        options.setdefault("kdf", CHEAP_KDF)
        options.setdefault("sync_options", FAST_SYNC)
        # The idle lock would swap the screen on a slow machine; snapshots never wait long.
        options.setdefault("idle_lock_seconds", 0)
        super().__init__(profile_dir, clock=ManualClock(now), **options)

    def _open(self, engine: Engine) -> None:
        # Opening the main screen once connected keeps the status line the same in every
        # run, whichever comes first on a loaded machine.
        self.run_worker(self._open_when_connected(engine), group="snapshot-open")

    async def _open_when_connected(self, engine: Engine) -> None:
        stream = engine.events()
        try:
            # A timeout opens the screen anyway; the test then fails on the status bar.
            async with asyncio.timeout(WAIT_SECONDS):
                while engine.connection_state != "connected":
                    await anext(stream)
        except TimeoutError:
            pass
        finally:
            stream.close()
        super()._open(engine)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], description: str) -> None:
    """Let the app run until ``condition`` holds; fail naming ``description`` after a timeout."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_SECONDS} s waiting for {description}")
        await pilot.pause(0.05)


def main_screen_settled(app: KonselApp) -> bool:
    """Return whether the main screen shows a connected, idle app with its chat loaded."""
    screen = app.screen
    if not isinstance(screen, MainScreen):
        return False
    try:
        status = screen.query_one(StatusBar)
        chat = screen.query_one(ChatView)
    except NoMatches:
        return False  # still composing
    return status.state == "connected" and status.outbox == 0 and chat.window is not None


def after_main(
    *press: str, then: Callable[[Pilot[Any]], Awaitable[None]] | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Return a snapshot ``run_before``: wait for a settled main screen, press keys, then
    run ``then`` (which waits for whatever the keys open)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: main_screen_settled(app), "a settled main screen")  # type: ignore[arg-type]
        # The conversation list and the KOPASTA panel load in workers of their own, and
        # opening the chat sends read receipts. Check again once those have run.
        await pilot.pause(0.3)
        await wait_for(pilot, lambda: main_screen_settled(app), "a settled main screen")  # type: ignore[arg-type]
        if press:
            await pilot.press(*press)
            await pilot.pause(0.2)
        if then is not None:
            await then(pilot)
        await settle_screen(pilot)

    return run_before


async def settle_screen(pilot: Pilot[Any]) -> None:
    """Stop cursors blinking and wait until two renders of the screen are the same.

    Panels fill in from workers and reflow once a scrollbar appears, so a picture taken
    too early differs from run to run.
    """
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
    deadline = time.monotonic() + WAIT_SECONDS
    previous = ""
    while time.monotonic() < deadline:
        await pilot.pause(STABLE_PAUSE)
        current = pilot.app.export_screenshot()
        if current == previous:
            return
        previous = current
    raise AssertionError(f"the screen kept changing for {WAIT_SECONDS} s")


def run_scene(root: Path, relay_url: str) -> Scene:
    """Build the scene from synchronous test code (the snapshot plugin runs its own loop)."""
    return asyncio.run(build_scene(root, relay_url))
