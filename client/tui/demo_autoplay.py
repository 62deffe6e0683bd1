"""The autoplay of ``konsel-chat demo``: what a guru BK does, done on the real app.

One worker of :class:`~.demo_run.DemoApp` runs :meth:`Autoplay.run`. It uses the app
the way a counselor does: the function keys, the panel's buttons and prompts, the
composer and the penilaian and report screens. The scripted konseli
(:class:`~.demo_student.ScriptedStudent`) answers on its own engine. Short narration
notices from the ``demo`` catalog say what happens. Each wait is bounded, so a step that
never happens stops the demo with a notice instead of hanging.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import math
from typing import TYPE_CHECKING, Any

from textual.widget import Widget
from textual.widgets import Button, Input, Select, TextArea

from konsel.client.core.consent_file import load_consent
from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ConsentReceived,
    EvaluationReceived,
    EventStream,
    MessageReceived,
    ShortCodePaired,
    ShortCodeReady,
)
from konsel.client.core.kopasta import Stage

from . import demo_probes as probes
from .catalog import t
from .demo_script import StageScript, Turn, script_for
from .demo_student import ScriptedStudent
from .screens.invite import InviteScreen
from .screens.kopasta_evaluation import KopastaEvaluationScreen
from .screens.kopasta_report import KopastaReportScreen
from .screens.main import MainScreen
from .screens.verify import VerifyScreen
from .widgets.composer import Composer
from .widgets.kopasta_panel import KopastaPanel
from .widgets.kopasta_session import format_date, language, today
from .widgets.kopasta_stage import KopastaStageView

if TYPE_CHECKING:
    from .demo_run import DemoApp

AUTOPLAY_GROUP = "demo-autoplay"
"""Worker group of the autoplay and of its watch on the counselor's engine events."""

logger = logging.getLogger("konsel.client.tui.demo")

TYPING_STEPS = 20
"""Most pieces a typed line is inserted in, so typing stays short for long lines."""

NARRATION_SECONDS = 8.0
"""Shortest time a narration notice stays on screen."""

REPORT_FILE = "laporan-konseling-demo.md"

EVALUATION_WORKERS = "kopasta-evaluation"
REPORT_WORKERS = "kopasta-report"
"""Worker groups of the penilaian and report screens. They read the screen's widgets
after each request, so the autoplay closes a screen only once they are done."""


class Autoplay:
    """The counselor's side of the demo, played on the app it belongs to."""

    def __init__(self, app: DemoApp) -> None:
        self.app = app
        self.options = app.options
        self.script = script_for(app.options.language)
        self.student: ScriptedStudent | None = None
        self.step = "start"
        """The step being played, as a key of ``demo.steps`` for the failure notice."""
        self.received: list[str] = []
        """Bodies of the konseli's messages that reached the counselor's engine."""
        self.code: str | None = None
        self.paired_contact: int | None = None
        self.consents = 0
        self.evaluations = 0
        self._stream: EventStream | None = None
        self._changed = asyncio.Condition()

    # --- the whole run -------------------------------------------------------------------

    async def run(self) -> None:
        """Play the demo, then show the final notice (and quit if asked to)."""
        try:
            await self._play()
        except Exception as error:
            # A notice in the user's language replaces the traceback.
            logger.warning("demo stopped at step %s: %s", self.step, type(error).__name__)
            self.app.failure = error
            step = t(f"demo.steps.{self.step}")
            self.app.notify(t("demo.narration.failed", step=step), severity="error", timeout=3600)
            if self.options.exit_when_done:
                self.app.exit(1)
        else:
            self.app.notify(t("demo.narration.done"), timeout=3600)
            if self.options.exit_when_done:
                self.app.exit(0)
        finally:
            self.app.finished.set()

    async def close(self) -> None:
        """Close the konseli's engine and the event subscription (safe to call twice)."""
        if self._stream is not None:
            self._stream.close()
        student, self.student = self.student, None
        if student is not None:
            await student.close()

    async def _play(self) -> None:
        main = await probes.wait_for(lambda: probes.main_screen(self.app), "main")
        engine = main.engine
        self._stream = engine.events()
        self.app.run_worker(self._watch(self._stream), group=AUTOPLAY_GROUP)
        self.narrate("welcome", counselor=self.script.counselor_name)
        await self.beat(3)

        self.step = "pairing"
        contact_id = await self._pair(engine)
        self.step = "verify"
        await self._verify(engine, contact_id)
        self.step = "session"
        panel = await self._start_session(main, engine, contact_id)

        for stage_script in self.script.stages:
            await self._play_stage(main, panel, stage_script)

        self.step = "end"
        await self._end_session(panel)
        self.step = "report"
        await self._export_report(panel)
        self.step = "relay_check"
        await self._check_relay()

    # --- pairing and verifying -----------------------------------------------------------

    async def _pair(self, engine: Engine) -> int:
        self.student = await ScriptedStudent.create(
            self.app.environment.student_folder,
            self.app.environment.relay_url,
            self.script,
            load_consent(),
            kdf=self.app.kdf,
            sync_options=self.app.sync_options,
        )
        self.narrate("invite")
        await self.beat(1)
        self.app.simulate_key("f2")
        await probes.wait_for(lambda: probes.top_screen(self.app, InviteScreen), "invite screen")
        code = await probes.wait_for(lambda: self.code, "short code")
        await self.beat(3)

        self.narrate("code_typed", student=self.script.student_name, code=code)
        await self.beat(2)
        await self.student.join(code, self.app.environment.relay_url)
        contact_id = await probes.wait_for(lambda: self.paired_contact, "pairing")
        self.narrate("paired", student=self.script.student_name)
        await self.beat(3)
        invite = probes.top_screen(self.app, InviteScreen)
        if invite is not None:
            await invite.action_close()
        return contact_id

    async def _verify(self, engine: Engine, contact_id: int) -> None:
        self.app.simulate_key("f3")
        verify = await probes.wait_for(
            lambda: probes.top_screen(self.app, VerifyScreen), "verify screen"
        )
        match = await probes.wait_for(lambda: probes.code_shown(verify), "safety code")

        student = self._student()
        if student.contact_id is not None:
            theirs = await student.engine.safety_code(student.contact_id)
            ours = await engine.safety_code(contact_id)
            if theirs.digits_text() == ours.digits_text():
                self.narrate("codes_match", student=self.script.student_name)
        await self.beat(4)

        match.press()
        await probes.wait_for_async(
            lambda: probes.contact_verified(engine, contact_id), "verified mark"
        )
        await self.beat(2)
        verify.action_close()

    # --- the counseling session ----------------------------------------------------------

    async def _start_session(
        self, main: MainScreen, engine: Engine, contact_id: int
    ) -> KopastaPanel:
        panel = main.query_one(KopastaPanel)
        if not panel.display:
            self.app.simulate_key("f4")
            await probes.wait_for(lambda: panel.display, "KOPASTA panel")
        self.narrate("panel")
        await self.beat(3)

        consent = self._student().consent
        language_code = language()
        # The counselor's record keeps the exact text of the version the konseli accepts.
        engine.consent_texts.setdefault(
            consent.version,
            consent.render(
                language_code,
                {
                    "counselor_name": self.script.counselor_name,
                    "school_name": self.script.school_name,
                    "retention_period": self.script.retention_period,
                },
            ),
        )

        start = panel.query_one("#kopasta-start", Button)
        await probes.wait_for(
            lambda: panel.contact_id == contact_id and start.display, "start button"
        )
        start.press()
        await probes.wait_for(lambda: panel.open_session, "open session")
        self.narrate("session_started", student=self.script.student_name)
        await probes.wait_for(lambda: self.consents > 0, "consent")
        self.narrate("consent", student=self.script.student_name)
        await self.beat(3)
        return panel

    async def _play_stage(self, main: MainScreen, panel: KopastaPanel, part: StageScript) -> None:
        self.step = "stage"
        if part.stage is not Stage.PENGANTARAN:
            panel.next_stage()
        view = await probes.wait_for(lambda: probes.stage_view(panel, part.stage), "stage view")
        title = view.guide.title.in_language(language())
        self.narrate("stage", number=part.stage.number, title=title)
        await self.beat(3)

        if part.stage is Stage.PENILAIAN:
            self.step = "laiseg"
            await self._laiseg(panel)

        self.step = "conversation"
        composer = main.query_one(Composer)
        for index, turn in enumerate(part.turns):
            await self._exchange(panel, composer, part.stage, turn, first=index == 0)
            if turn.prompt == "schedule_follow_up":
                self.step = "follow_ups"
                await self._follow_ups(panel)
                self.step = "conversation"

        if part.fields:
            self.step = "fields"
            await self._fill_fields(panel, composer, part)

    async def _exchange(
        self, panel: KopastaPanel, composer: Composer, stage: Stage, turn: Turn, *, first: bool
    ) -> None:
        """Write the counselor's message, send it, and wait for the konseli's reply."""
        if turn.prompt is not None:
            if first and stage is Stage.PENGANTARAN:
                self.narrate("prompt")
            await self._use_prompt(panel, composer, stage, turn.prompt)
            await self.beat(2)
        if turn.line:
            separator = " " if composer.text.strip() else ""
            await self._type(composer, separator + turn.line)
        await self.beat(1)

        text = composer.text
        composer.action_submit()
        self.app.sent.append(text)
        student = self._student()
        await student.wait_for_message(text)
        await self.beat(1 + len(turn.reply) / 40)

        await student.reply(turn.reply)
        self.app.sent.append(turn.reply)
        await probes.wait_for(lambda: turn.reply in self.received, "konseli reply")
        await self.beat(2)

    async def _use_prompt(
        self, panel: KopastaPanel, composer: Composer, stage: Stage, key: str
    ) -> None:
        """Choose a guiding prompt in the panel, so it lands in the composer as a draft."""
        prompts = await probes.wait_for(lambda: probes.prompt_list(panel, stage), "guiding prompts")
        prompts.highlighted = prompts.get_option_index(key)
        prompts.scroll_visible()
        await self.beat(1)
        prompts.action_select()
        await probes.wait_for(lambda: composer.text.strip(), "prompt draft")

    async def _fill_fields(
        self, panel: KopastaPanel, composer: Composer, part: StageScript
    ) -> None:
        self.narrate("fields")
        view = await probes.wait_for(lambda: probes.stage_view(panel, part.stage), "stage view")
        for key, value in part.fields:
            widget = view.query_one(f"#kopasta-field-{key}", Widget)
            widget.scroll_visible()
            if isinstance(widget, Select):
                widget.value = value
            elif isinstance(widget, TextArea):
                # The field is saved when it loses focus, as when a counselor tabs away.
                widget.focus()
                widget.load_text(value)
                await self.beat(1)
                composer.focus()
            saved = functools.partial(probes.field_saved, panel, part.stage, key, value)
            await probes.wait_for_async(saved, "record field")
            await self.beat(1)
        composer.focus()

    # --- penilaian -----------------------------------------------------------------------

    async def _laiseg(self, panel: KopastaPanel) -> None:
        screen = await self._open_evaluation(panel)
        self.narrate("laiseg_request")
        await self.beat(2)
        screen.query_one("#evaluation-request", Button).press()
        await probes.wait_for(lambda: self.evaluations > 0, "LAISEG answers")
        self.narrate("laiseg_answers", student=self.script.student_name)
        await self.beat(5)
        await self._close_evaluation(panel, screen)

    async def _follow_ups(self, panel: KopastaPanel) -> None:
        screen = await self._open_evaluation(panel)
        for kind, days in self.script.follow_up_days:
            day = today() + datetime.timedelta(days=days)
            field_input = screen.query_one(f"#evaluation-date-{kind}", Input)
            field_input.value = format_date(day)
            await self.beat(1)
        screen.query_one("#evaluation-save-dates", Button).press()
        session_id = probes.shown_session_id(panel)
        wanted = len(self.script.follow_up_days)
        await probes.wait_for_async(
            lambda: probes.follow_up_count(panel, session_id, wanted), "follow-up dates"
        )
        self.narrate("follow_ups")
        await self.beat(3)
        await self._close_evaluation(panel, screen)

    async def _end_session(self, panel: KopastaPanel) -> None:
        session_id = probes.shown_session_id(panel)
        screen = await self._open_evaluation(panel)
        end = screen.query_one("#evaluation-end", Button)
        end.scroll_visible()
        await self.beat(1)
        # The first press arms the button and the second one ends the session.
        end.press()
        await self.beat(1)
        end.press()
        await probes.wait_for_async(lambda: probes.session_ended(panel, session_id), "session end")
        self.narrate("session_ended")
        await self.beat(2)
        await self._close_evaluation(panel, screen)

    async def _open_evaluation(self, panel: KopastaPanel) -> KopastaEvaluationScreen:
        button = panel.query_one("#kopasta-open-evaluation", Button)
        await probes.wait_for(lambda: button.display and not button.disabled, "evaluation button")
        button.press()
        screen = await probes.wait_for(
            lambda: probes.top_screen(self.app, KopastaEvaluationScreen), "evaluation screen"
        )
        await probes.wait_for(lambda: screen.session is not None, "evaluation screen")
        return screen

    async def _close_evaluation(self, panel: KopastaPanel, screen: KopastaEvaluationScreen) -> None:
        """Close the penilaian screen and wait until the panel has redrawn the session."""
        # Closing reloads the session into a new stage view (none once it has ended), so
        # the old view's prompts no longer reach the composer.
        shown = list(panel.query(KopastaStageView).results())
        await probes.wait_for(
            lambda: probes.workers_idle(self.app, EVALUATION_WORKERS), "penilaian screen"
        )
        screen.action_close()
        await probes.wait_for(
            lambda: all(not view.is_attached for view in shown), "KOPASTA panel redraw"
        )

    async def _export_report(self, panel: KopastaPanel) -> None:
        export = panel.query_one("#kopasta-export", Button)
        await probes.wait_for(lambda: not export.disabled, "report button")
        export.press()
        screen = await probes.wait_for(
            lambda: probes.top_screen(self.app, KopastaReportScreen), "report screen"
        )
        path = self.app.environment.report_folder / REPORT_FILE
        screen.query_one("#report-path", Input).value = str(path)
        await self.beat(2)
        screen.query_one("#report-export", Button).press()
        written = await probes.wait_for(lambda: screen.written, "report file")
        self.app.report_path = written[0]
        self.narrate("report", path=str(written[0]))
        await self.beat(5)
        await probes.wait_for(
            lambda: probes.workers_idle(self.app, REPORT_WORKERS), "report screen"
        )
        screen.action_close()

    async def _check_relay(self) -> None:
        found = await asyncio.to_thread(
            self.app.environment.relay_files_holding, list(self.app.sent)
        )
        if found:
            raise RuntimeError(f"{len(found)} sentences readable in the relay's files")
        self.narrate("relay_clean", count=len(self.app.sent))
        await self.beat(3)

    # --- helpers -------------------------------------------------------------------------

    def narrate(self, key: str, **values: Any) -> None:
        """Show a narration notice from the ``demo`` catalog."""
        timeout = max(NARRATION_SECONDS, 6 * self.options.pause)
        self.app.notify(t(f"demo.narration.{key}", **values), timeout=timeout)

    async def beat(self, count: float = 1) -> None:
        """Wait ``count`` beats of the demo's pace (no wait with ``--pause 0``)."""
        seconds = count * self.options.pause
        await asyncio.sleep(seconds)

    async def _type(self, composer: Composer, text: str) -> None:
        """Insert ``text`` into the composer in a few pieces, like quick typing."""
        if self.options.pause <= 0:
            composer.insert_draft(text)
            return
        steps = min(len(text), TYPING_STEPS)
        size = math.ceil(len(text) / steps)
        for start in range(0, len(text), size):
            composer.insert_draft(text[start : start + size])
            await asyncio.sleep(self.options.pause * 2 / steps)

    def _student(self) -> ScriptedStudent:
        if self.student is None:
            raise RuntimeError("the scripted konseli has not started")
        return self.student

    async def _watch(self, stream: EventStream) -> None:
        """Note what reaches the counselor's engine, for the waits of the autoplay."""
        async for event in stream:
            if isinstance(event, ShortCodeReady):
                self.code = event.code
            elif isinstance(event, ShortCodePaired):
                self.paired_contact = event.contact_id
            elif isinstance(event, MessageReceived):
                self.received.append(event.message.body)
            elif isinstance(event, ConsentReceived):
                self.consents += 1
            elif isinstance(event, EvaluationReceived):
                self.evaluations += 1
