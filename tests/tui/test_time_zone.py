"""Tests of the profile's time zone: chat, KOPASTA panel and report show one wall time.

The process clock runs on UTC here, as on a school server reached over SSH, so a widget
that still used the computer's zone would show a different time or day than the others.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from chat_helpers import settle, view_lines
from engine_helpers import Relay, new_engine, pair, wait_until
from kopasta_host import default_content, shown, wait_for
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input

from konsel.client.cli import build_parser, remember_lock_after, remember_time_zone
from konsel.client.core.engine import Engine
from konsel.client.core.events import EventStream
from konsel.client.core.report_text import format_date as report_date
from konsel.client.core.store import StoredMessage
from konsel.client.tui import clock_zone
from konsel.client.tui.catalog import t
from konsel.client.tui.clock_zone import DEFAULT_TIME_ZONE, TIME_ZONES
from konsel.client.tui.messages import EngineEvent
from konsel.client.tui.screens.kopasta_report import KopastaReportScreen
from konsel.client.tui.settings import SETTINGS_FILE, Settings, load_settings, save_settings
from konsel.client.tui.widgets.chat_lines import message_time
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel
from konsel.client.tui.widgets.kopasta_session import (
    day_of,
    format_moment,
    start_of_day_ms,
    today,
)

WITA = "Asia/Makassar"

LATE_EVENING_UTC = datetime.datetime(2025, 3, 7, 23, 4, tzinfo=datetime.UTC)
"""Friday 7 March 2025, 23:04 UTC: already Saturday 8 March in all three zones, and long
enough ago that the chat's day separator shows the full date."""

AFTERNOON_UTC = datetime.datetime(2025, 3, 7, 15, 30, tzinfo=datetime.UTC)
"""15:30 UTC: still 7 March in WIB and WITA, but 00:30 on 8 March in WIT."""


def unix_ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture(autouse=True)
def utc_process_clock() -> Iterator[None]:
    """Run every test with the process's local zone set to UTC, then restore it."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture(autouse=True)
def default_zone() -> Iterator[None]:
    """Start every test in WIB and leave the app's zone in WIB afterwards."""
    clock_zone.use(DEFAULT_TIME_ZONE)
    yield
    clock_zone.use(DEFAULT_TIME_ZONE)


# --- the zone module and the setting ---------------------------------------------------


def test_clock_zone_default_wib() -> None:
    assert clock_zone.current_zone().key == "Asia/Jakarta"
    assert Settings().time_zone == "Asia/Jakarta"


def test_clock_zone_rejects_other_zone() -> None:
    """Only the three Indonesian zones are accepted, and a rejected name changes nothing."""
    clock_zone.use(WITA)

    with pytest.raises(ValueError, match="Europe/Berlin"):
        clock_zone.use("Europe/Berlin")

    assert clock_zone.current_zone().key == WITA


def test_settings_time_zone_round_trip(tmp_path: Path) -> None:
    save_settings(tmp_path, Settings(time_zone="Asia/Jayapura"))

    assert load_settings(tmp_path).time_zone == "Asia/Jayapura"


@pytest.mark.parametrize("stored", ["Europe/Berlin", "WITA", "asia/makassar", "", 8, None])
def test_settings_invalid_zone_falls_back(tmp_path: Path, stored: object) -> None:
    """A zone outside WIB, WITA and WIT gives WIB and keeps the other settings."""
    data = {"language": "en", "idle_lock_minutes": 3, "time_zone": stored}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(data), encoding="utf-8")

    settings = load_settings(tmp_path)

    assert settings.time_zone == DEFAULT_TIME_ZONE
    assert settings.language == "en"
    assert settings.idle_lock_minutes == 3


@pytest.mark.parametrize(
    ("typed", "stored"), [("WITA", WITA), ("wit", "Asia/Jayapura"), ("WIB", "Asia/Jakarta")]
)
def test_cli_time_zone_stored(tmp_path: Path, typed: str, stored: str) -> None:
    """The flag is stored in the profile like ``--lock-after``, without touching it."""
    remember_lock_after(tmp_path, 5)
    arguments = build_parser().parse_args(["--time-zone", typed, "--profile-dir", str(tmp_path)])

    remember_time_zone(Path(arguments.profile_dir), arguments.time_zone)

    settings = load_settings(tmp_path)
    assert settings.time_zone == stored
    assert settings.idle_lock_minutes == 5


def test_cli_time_zone_rejects_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["--time-zone", "UTC"])

    assert stopped.value.code == 2
    assert "'UTC'" in capsys.readouterr().err


def test_cli_choices_match_zone_table() -> None:
    help_text = build_parser().format_help()

    for abbreviation in TIME_ZONES:
        assert abbreviation in help_text


# --- dates near midnight ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moment", "shown_as"),
    [
        ("Asia/Jakarta", LATE_EVENING_UTC, "08-03-2025 06:04"),
        ("Asia/Makassar", LATE_EVENING_UTC, "08-03-2025 07:04"),
        ("Asia/Jayapura", LATE_EVENING_UTC, "08-03-2025 08:04"),
        ("Asia/Jakarta", AFTERNOON_UTC, "07-03-2025 22:30"),
        ("Asia/Makassar", AFTERNOON_UTC, "07-03-2025 23:30"),
        ("Asia/Jayapura", AFTERNOON_UTC, "08-03-2025 00:30"),
    ],
)
def test_midnight_utc_local_date(zone: str, moment: datetime.datetime, shown_as: str) -> None:
    """A time near midnight UTC gets the date and time of the profile's zone everywhere."""
    clock_zone.use(zone)
    moment_ms = unix_ms(moment)
    message = StoredMessage(
        order=1,
        conversation_id=1,
        direction="in",
        content_id=bytes(16),
        envelope_id=bytes(16),
        sender_seq=1,
        body="Selamat malam, Bu.",
        status="read",
        sent_at=moment_ms,
        received_at=moment_ms,
    )

    chat_time = message_time(message)

    assert chat_time is not None
    assert chat_time.strftime("%d-%m-%Y %H:%M") == shown_as
    assert format_moment(moment_ms) == shown_as
    assert day_of(moment_ms).strftime("%d-%m-%Y") == shown_as.split()[0]


def test_start_of_day_in_zone() -> None:
    """A follow-up date falls due at midnight in the profile's zone, not in UTC."""
    clock_zone.use(WITA)

    due_ms = start_of_day_ms(datetime.date(2025, 3, 8))

    assert due_ms == unix_ms(datetime.datetime(2025, 3, 7, 16, 0, tzinfo=datetime.UTC))
    assert day_of(due_ms) == datetime.date(2025, 3, 8)


def test_today_follows_zone() -> None:
    clock_zone.use(WITA)

    before = datetime.datetime.now(ZoneInfo(WITA)).date()
    got = today()
    after = datetime.datetime.now(ZoneInfo(WITA)).date()

    assert got in (before, after)


# --- one wall time in chat, panel and report ----------------------------------------------


class FixedClock:
    """A wall clock in Unix milliseconds that stays at one moment."""

    def __init__(self, moment: datetime.datetime) -> None:
        self.now_ms = unix_ms(moment)

    def __call__(self) -> int:
        return self.now_ms


class ZoneHost(App[None]):
    """The chat view and the KOPASTA panel of one counselor side by side, as the main screen."""

    def __init__(self, engine: Engine, contact_id: int, tmp_path: Path) -> None:
        super().__init__()
        self.engine = engine
        self.contact_id = contact_id
        self.content = default_content(tmp_path)
        self.stream: EventStream | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ChatView(self.engine)
            yield KopastaPanel(self.engine, content=self.content)

    async def on_mount(self) -> None:
        self.stream = self.engine.events()
        self.run_worker(self._forward_events(self.stream), group="engine-events")
        await self.query_one(ChatView).show_conversation(self.contact_id)
        await self.query_one(KopastaPanel).show_contact(self.contact_id)

    async def _forward_events(self, stream: EventStream) -> None:
        async for event in stream:
            self.query_one(ChatView).post_message(EngineEvent(event))
            self.query_one(KopastaPanel).post_message(EngineEvent(event))

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.close()


@dataclass
class Session:
    """A counselor with an open session and one message from the konseli."""

    counselor: Engine
    student_id: int
    session_id: int
    started_at: int
    """When the session started, in Unix ms."""
    message: StoredMessage


@asynccontextmanager
async def session_with_message(
    tmp_path: Path, relay_url: str, clock: FixedClock | None
) -> AsyncIterator[Session]:
    """Pair a counselor and a konseli, start a session and send one message over the relay."""
    options = {} if clock is None else {"clock": clock}
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay_url, **options)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None, **options)
    try:
        student_id, counselor_id = await pair(counselor, student)
        session_id = await counselor.start_counseling_session(student_id)
        await student.send_text(counselor_id, "Selamat pagi, Bu.")

        async def arrived() -> bool:
            window = await counselor.history(student_id, limit=10)
            return any(message.direction == "in" for message in window)

        await wait_until(arrived, "the konseli's message at the counselor")
        window = await counselor.history(student_id, limit=10)
        message = next(message for message in window if message.direction == "in")
        session = await counselor.record("get_session", session_id)
        yield Session(counselor, student_id, session_id, session.started_at, message)
    finally:
        await counselor.close()
        await student.close()


async def _open_report(app: ZoneHost) -> KopastaReportScreen:
    panel = app.query_one(KopastaPanel)
    await wait_for(lambda: bool(panel.query("#kopasta-export")), "the export button")
    panel.query_one("#kopasta-export", Button).press()
    await wait_for(
        lambda: isinstance(app.screen, KopastaReportScreen) and bool(app.screen.query(Input)),
        "the export screen",
    )
    screen = app.screen
    assert isinstance(screen, KopastaReportScreen)
    return screen


async def _export(screen: KopastaReportScreen, path: Path) -> str:
    """Export to ``path`` through the screen and return the Markdown written."""
    screen.query_one("#report-path", Input).value = str(path)
    screen.query_one("#report-export", Button).press()
    await wait_for(lambda: screen.written is not None, "the export")
    return await asyncio.to_thread(path.read_text, encoding="utf-8")


async def test_zone_same_in_chat_panel_report(tmp_path: Path, tui_relay: Relay) -> None:
    """At 23:04 UTC on 7 March, WITA shows 07:04 on 8 March in all three places."""
    clock_zone.use(WITA)
    save_settings(tmp_path / "bk", Settings(time_zone=WITA))
    clock = FixedClock(LATE_EVENING_UTC)

    async with session_with_message(tmp_path, tui_relay.url, clock) as setup:
        app = ZoneHost(setup.counselor, setup.student_id, tmp_path)
        async with app.run_test(size=(160, 40)):
            await settle(app)
            panel = app.query_one(KopastaPanel)
            await wait_for(lambda: panel.session is not None, "the panel's session")

            lines = view_lines(app.query_one(ChatView))
            header = next(line for line in lines if line.startswith("Dimas"))
            assert header.split()[1] == "07:04"
            assert any("Sabtu, 8 Maret 2025" in line for line in lines)
            expected_status = t("kopasta.session.open", started="08-03-2025 07:04")
            assert shown(panel, "#kopasta-status") == expected_status

            screen = await _open_report(app)
            markdown = await _export(screen, tmp_path / "laporan.md")

    assert "Sabtu, 8 Maret 2025" in markdown
    assert "07.04 WITA" in markdown
    assert "WIB" not in markdown
    document = json.loads((tmp_path / "laporan.json").read_text(encoding="utf-8"))
    assert document["time_zone"] == WITA
    assert document["sessions"][0]["started_at"].startswith("2025-03-08T07:04")


async def test_report_file_date_matches_content(tmp_path: Path, tui_relay: Relay) -> None:
    """With the real clock, the default file name carries the date the report shows."""
    clock_zone.use(WITA)

    async with session_with_message(tmp_path, tui_relay.url, None) as setup:
        app = ZoneHost(setup.counselor, setup.student_id, tmp_path)
        async with app.run_test(size=(160, 40)):
            await settle(app)
            panel = app.query_one(KopastaPanel)
            await wait_for(lambda: panel.session is not None, "the panel's session")
            separator = view_lines(app.query_one(ChatView))[0]
            assert t("chat.day.today") in separator
            screen = await _open_report(app)
            # Only the proposed file name is kept: the folder is the user's own documents.
            default_name = Path(screen.query_one("#report-path", Input).value).name
            markdown = await _export(screen, tmp_path / default_name)

    # NOTE: a run that crosses midnight WITA between starting the session and opening the
    # export screen fails here, because the file name then carries the next day.
    session_day = day_of(setup.started_at)
    stamp = session_day.strftime("%Y%m%d")
    assert default_name == t("kopasta.report.file_name", session=setup.session_id, date=stamp)
    assert report_date(session_day, "id") in markdown
