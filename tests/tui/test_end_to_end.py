"""A whole counseling session through two KonselApp instances and a real relay.

A counselor and a konseli each create their profile on the first-run screen and pair by
the short code read off the counselor's invitation screen. They write to each other
through their composers, and the counselor goes through the five KOPASTA stages,
round-trips the LAISEG evaluation and exports the report. Both apps run in one event loop, each under its own pilot; the relay
is a ``konsel-relay`` subprocess and the profiles are real SQLite stores on disk.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from engine_helpers import FAST_SYNC, Relay, bodies
from screen_text import screen_text
from textual import events
from textual._context import active_app
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from konsel.client.core.content_files import load_content
from konsel.client.core.engine import Engine
from konsel.client.core.kopasta import Stage
from konsel.client.core.passphrase import KdfParams
from konsel.client.tui.app import KonselApp
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.consent import ConsentScreen
from konsel.client.tui.screens.invite import InviteScreen
from konsel.client.tui.screens.join import JoinScreen
from konsel.client.tui.screens.kopasta_evaluation import KopastaEvaluationScreen
from konsel.client.tui.screens.kopasta_report import KopastaReportScreen
from konsel.client.tui.screens.laiseg_form import LaisegFormScreen
from konsel.client.tui.screens.main import MainScreen
from konsel.client.tui.widgets.composer import Composer
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel
from konsel.client.tui.widgets.kopasta_stages import KopastaStageList
from konsel.client.tui.widgets.status_bar import StatusBar
from konsel.protocol.errors import ShortCodeError
from konsel.protocol.shortcode import parse_code

STEP_TIMEOUT = 15.0
"""Seconds any one step (a screen, a message, a reply) may take before the test fails."""

COUNSELOR_SIZE = (120, 40)
"""Wide enough that the KOPASTA panel sits beside the chat."""
STUDENT_SIZE = (80, 24)

COUNSELOR_NAME = "Bu Sari"
STUDENT_NAME = "Dimas"
COUNSELOR_PASSPHRASE = "teh manis di ruang BK"
STUDENT_PASSPHRASE = "layang-layang biru sore"

GREETING = "Selamat pagi, Bu 🙏"
REPLY = "Selamat pagi, Dimas. Silakan cerita 😊"
STORY = "Saya mau cerita soal nilai ujian 📚"

LAISEG_ANSWERS = {
    "understanding": "Nilai jelek bukan akhir segalanya",
    "comfort": "Lebih lega dari tadi pagi",
    "action": "Belajar bareng teman tiap Selasa",
}
"""The konseli's answers to the three required LAISEG questions, typed into the form."""

GUIDE = load_content(None).kopasta
"""The packaged KOPASTA guide, whose stage titles and purposes the panel shows."""

ScreenType = TypeVar("ScreenType", bound=Screen[Any])


class Side:
    """One person's app under its pilot: keys, clicks and waits that act on that app only.

    Textual finds "the app" of a widget through a context variable, and the inner of two
    nested ``run_test`` blocks sets it for the whole test task. Every call here sets it
    to this side's app first, so a click or a query measures against the right screen.
    """

    def __init__(self, pilot: Pilot[Any]) -> None:
        self.pilot = pilot
        self.app = pilot.app

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this side's app the active app for the calls inside the block."""
        token = active_app.set(self.app)
        try:
            yield
        finally:
            active_app.reset(token)

    async def press(self, *keys: str) -> None:
        with self.active():
            await self.pilot.press(*keys)

    async def click(self, selector: str) -> None:
        """Scroll the widget at ``selector`` into view, as a user would, and click it."""
        with self.active():
            self.app.screen.query_one(selector).scroll_visible(animate=False, immediate=True)
            await self.pilot.pause()
            assert await self.pilot.click(selector), f"the click missed {selector}"

    async def type(self, text: str) -> None:
        """Type ``text`` into the focused widget as one burst of key presses.

        The keys go to the app the way its terminal driver hands them over, one Key event
        per character, and the app handles them in order. Pilot.press would wait for the
        app to idle after each key, which takes several seconds for a passphrase, and it
        finds a character by its Unicode name, which misses names of several words such
        as 🙏's (Textual 8.2).
        """
        for character in text:
            key = character if character.isalnum() else _character_to_key(character)
            self.app.post_message(events.Key(key, character))
        with self.active():
            await self.pilot.pause()

    def focus(self, widget: Widget) -> None:
        with self.active():
            widget.focus()

    async def wait_for(
        self,
        condition: Callable[[], bool],
        what: str,
        timeout: float = STEP_TIMEOUT,  # noqa: ASYNC109
    ) -> None:
        """Let the apps run until ``condition`` holds; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.active():
            while not condition():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                await self.pilot.pause(0.05)

    async def wait_for_screen(self, kind: type[ScreenType]) -> ScreenType:
        """Wait until the app's current screen is a ``kind`` and return it."""
        await self.wait_for(
            lambda: isinstance(self.app.screen, kind),
            f"{kind.__name__} (shown: {type(self.app.screen).__name__})",
        )
        screen = self.app.screen
        assert isinstance(screen, kind)
        return screen

    async def wait_for_text(self, text: str, what: str) -> str:
        """Wait until the screen shows ``text``; return the whole screen."""
        shown = ""

        def on_screen() -> bool:
            nonlocal shown
            shown = screen_text(self.app)
            return text in shown

        try:
            await self.wait_for(on_screen, what)
        except AssertionError as error:
            raise AssertionError(f"{error}; screen:\n{shown}") from None
        return shown

    async def run(self, job: Awaitable[Any]) -> Any:
        """Await ``job`` with this side's app active."""
        with self.active():
            return await job


def static_text(widget: Widget) -> str:
    """Return what a Static shows now, as plain text."""
    assert isinstance(widget, Static)
    return str(widget.render())


def is_short_code(text: str) -> bool:
    """Return whether ``text`` reads as a short code such as ``7-kancil-pelangi``."""
    try:
        parse_code(text.strip())
    except ShortCodeError:
        return False
    return True


def current_stage_line(stages: KopastaStageList) -> str | None:
    """Return the marked line of the stage list without its marker and time, or None."""
    marker = t("kopasta.stages.marker")
    for line in static_text(stages).splitlines():
        if line.startswith(marker):
            return line.removeprefix(marker).strip().split("  ")[0]
    return None


def build_app(directory: Path, kdf: KdfParams) -> KonselApp:
    """Return an app on a new profile folder, with the cheap KDF and fast reconnects."""
    return KonselApp(directory, language="id", kdf=kdf, sync_options=FAST_SYNC)


async def fill_first_run(
    side: Side, *, role_downs: int, name: str, passphrase: str, relay_url: str
) -> None:
    """Fill the first-run form with the keyboard alone and press "Create profile".

    The form starts on the language choice (Indonesian already chosen). Tab moves to the
    role choice with its first role highlighted; ``role_downs`` presses of Down reach the
    wanted role and Enter picks it.
    """
    await side.press("tab", *["down"] * role_downs, "enter")
    await side.press("tab")
    await side.type(name)
    await side.press("tab")
    await side.type(passphrase)
    await side.press("tab")
    await side.type(passphrase)
    await side.press("tab")
    await side.type(relay_url)
    # Past the connection check button to "Create profile".
    await side.press("tab", "tab", "enter")
    await side.wait_for_screen(MainScreen)


async def pair_by_short_code(counselor: Side, student: Side) -> None:
    """Open the invitation (F2), read its code off the screen, and type it in the join screen."""
    await counselor.press("f2")
    invite = await counselor.wait_for_screen(InviteScreen)
    code_widget = invite.query_one("#code")
    await counselor.wait_for(lambda: is_short_code(static_text(code_widget)), "the short code")
    code = static_text(code_widget).strip()

    await student.press("f2")
    join = await student.wait_for_screen(JoinScreen)
    assert join.query_one("#entry", Input).has_focus
    await student.type(code)
    await student.press("enter")

    await student.wait_for_text(COUNSELOR_NAME, "the joined notice")
    await counselor.wait_for_text(STUDENT_NAME, "the paired notice")
    await student.press("escape")
    await counselor.press("escape")
    await student.wait_for_screen(MainScreen)
    await counselor.wait_for_screen(MainScreen)


async def wait_for_contact(side: Side, name: str) -> None:
    """Wait until the main screen has the contact ``name`` open (the status bar shows it)."""
    status = side.app.screen.query_one(StatusBar)
    await side.wait_for(lambda: status.contact_name == name, f"{name} opened on the main screen")
    await side.wait_for_text(name, f"{name} on the screen")


async def send_through_composer(side: Side, text: str) -> None:
    """Type ``text`` into the focused composer and press Enter."""
    composer = side.app.screen.query_one(Composer)
    assert composer.has_focus, f"focus is on {side.app.focused!r}, not the composer"
    await side.type(text)
    await side.wait_for(lambda: composer.text == text, "the typed text in the composer")
    await side.press("enter")
    await side.wait_for(lambda: composer.text == "", "the composer to empty after sending")


async def start_session_with_consent(counselor: Side, student: Side) -> KopastaPanel:
    """Start a counseling session on the panel; the konseli accepts the consent text."""
    panel = counselor.app.screen.query_one(KopastaPanel)
    await counselor.click("#kopasta-start")
    await counselor.wait_for(lambda: panel.open_session is not None, "the open session")

    consent = await student.wait_for_screen(ConsentScreen)
    agree = consent.query_one("#agree")
    await student.wait_for(lambda: not agree.disabled, "the consent text")
    await student.click("#not_needed")
    await student.click("#agree")
    await student.wait_for(lambda: consent.query_one("#close").display, "the sent consent")
    await student.press("escape")
    await student.wait_for_screen(MainScreen)
    return panel


async def walk_through_stages(counselor: Side, panel: KopastaPanel) -> None:
    """Move through all five stages with F8; the panel marks each and shows its purpose."""
    stages = panel.query_one(KopastaStageList)
    for number, guide in enumerate(GUIDE.stages, start=1):
        if number > 1:
            await counselor.press("f8")
        marked = f"{number}. {guide.title.in_language('id')}"
        purpose = guide.purpose.in_language("id")
        await counselor.wait_for(
            lambda marked=marked: current_stage_line(stages) == marked,
            f"stage {number} marked in the panel",
        )
        await counselor.wait_for(
            lambda purpose=purpose: static_text(panel.query_one("#kopasta-purpose")) == purpose,
            f"the purpose of stage {number}",
        )


async def round_trip_laiseg(counselor: Side, student: Side, panel: KopastaPanel) -> None:
    """Request LAISEG on the evaluation screen; the konseli answers; the counselor sees them."""
    await counselor.click("#kopasta-open-evaluation")
    evaluation = await counselor.wait_for_screen(KopastaEvaluationScreen)
    await counselor.click("#evaluation-request")

    form = await student.wait_for_screen(LaisegFormScreen)
    submit = form.query_one("#submit")
    await student.wait_for(lambda: not submit.disabled, "the LAISEG questions")
    for key, answer in LAISEG_ANSWERS.items():
        student.focus(form.query_one(f"#answer-{key}"))
        await student.type(answer)
    await student.click("#submit")
    await student.wait_for(lambda: not submit.display, "the sent answers")
    await student.press("escape")
    await student.wait_for_screen(MainScreen)

    shown = evaluation.query_one("#evaluation-answers")
    await counselor.wait_for(
        lambda: all(answer in static_text(shown) for answer in LAISEG_ANSWERS.values()),
        "the LAISEG answers on the evaluation screen",
    )
    await counselor.press("escape")
    await counselor.wait_for_screen(MainScreen)
    in_panel = static_text(panel.query_one("#kopasta-laiseg-answers"))
    for answer in LAISEG_ANSWERS.values():
        assert answer in in_panel


async def export_report(counselor: Side, base: Path) -> None:
    """Export the session's report to ``base`` (.md and .json) from the export screen."""
    await counselor.click("#kopasta-export")
    report = await counselor.wait_for_screen(KopastaReportScreen)
    await counselor.click("#report-path")
    await counselor.press("end", "ctrl+u")
    await counselor.type(str(base))
    await counselor.press("enter")
    result = report.query_one("#report-result")
    await counselor.wait_for(lambda: bool(static_text(result)), "the written report")
    await counselor.press("escape")
    await counselor.wait_for_screen(MainScreen)


async def test_whole_session_between_two_apps(
    tmp_path: Path, tui_relay: Relay, cheap_kdf: KdfParams
) -> None:
    counselor_app = build_app(tmp_path / "bk", cheap_kdf)
    student_app = build_app(tmp_path / "siswa", cheap_kdf)
    report_base = tmp_path / "laporan-dimas"

    async with counselor_app.run_test(size=COUNSELOR_SIZE) as counselor_pilot:
        counselor = Side(counselor_pilot)
        await fill_first_run(
            counselor,
            role_downs=0,
            name=COUNSELOR_NAME,
            passphrase=COUNSELOR_PASSPHRASE,
            relay_url=tui_relay.url,
        )

        async with student_app.run_test(size=STUDENT_SIZE) as student_pilot:
            student = Side(student_pilot)
            await fill_first_run(
                student,
                role_downs=1,
                name=STUDENT_NAME,
                passphrase=STUDENT_PASSPHRASE,
                relay_url=tui_relay.url,
            )

            await pair_by_short_code(counselor, student)
            await wait_for_contact(counselor, STUDENT_NAME)
            await wait_for_contact(student, COUNSELOR_NAME)

            await send_through_composer(student, GREETING)
            await counselor.wait_for_text(GREETING, "the greeting at the counselor")
            await student.wait_for_text(GREETING, "the greeting in the konseli's own view")
            await send_through_composer(counselor, REPLY)
            await student.wait_for_text(REPLY, "the reply at the konseli")
            await send_through_composer(student, STORY)
            await counselor.wait_for_text(STORY, "the story at the counselor")

            panel = await start_session_with_consent(counselor, student)
            await walk_through_stages(counselor, panel)
            await round_trip_laiseg(counselor, student, panel)
            await export_report(counselor, report_base)

    # The report file holds the session.
    markdown = report_base.with_name(report_base.name + ".md")
    assert stat.S_IMODE(markdown.stat().st_mode) == 0o600
    report_text = markdown.read_text(encoding="utf-8")
    assert COUNSELOR_NAME in report_text
    assert STUDENT_NAME in report_text
    for guide in GUIDE.stages:
        assert guide.title.in_language("id") in report_text
    for answer in LAISEG_ANSWERS.values():
        assert answer in report_text

    # Both stores, opened again from their files with the typed passphrases, agree.
    counselor_engine = await Engine.open(tmp_path / "bk", COUNSELOR_PASSPHRASE, options=FAST_SYNC)
    student_engine = await Engine.open(tmp_path / "siswa", STUDENT_PASSPHRASE, options=FAST_SYNC)
    try:
        (at_counselor,) = await counselor_engine.contacts()
        (at_student,) = await student_engine.contacts()
        assert at_counselor.display_name == STUDENT_NAME
        assert at_student.display_name == COUNSELOR_NAME

        assert await bodies(counselor_engine, at_counselor.id, "in") == [GREETING, STORY]
        assert await bodies(counselor_engine, at_counselor.id, "out") == [REPLY]
        assert await bodies(student_engine, at_student.id, "out") == [GREETING, STORY]
        assert await bodies(student_engine, at_student.id, "in") == [REPLY]

        (summary,) = await counselor_engine.record("list_sessions", 0, 2**62)
        session = await counselor_engine.record("get_session", summary.id)
        assert session.stage == Stage.PENILAIAN.value
        moves = [change.stage for change in session.stage_changes]
        assert moves == [stage.value for stage in Stage]

        (laiseg,) = await counselor_engine.record("list_evaluations", summary.id)
        for key, answer in LAISEG_ANSWERS.items():
            assert laiseg.answers[key] == answer
        consents = await counselor_engine.record("list_consents", at_counselor.id)
        assert [consent["granted"] for consent in consents] == [1]
    finally:
        await counselor_engine.close()
        await student_engine.close()
