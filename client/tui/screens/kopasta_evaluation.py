"""Penilaian: request LAISEG, read the answers, schedule LAIJAPEN and LAIJAPANG, end the session."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EvaluationReceived
from konsel.client.core.kopasta import EvaluationForms
from konsel.client.core.records_flow import laiseg_questions
from konsel.client.core.store_records import CounselingSession, FollowUp
from konsel.client.tui.catalog import t
from konsel.client.tui.messages import EngineEvent
from konsel.client.tui.widgets.kopasta_laiseg import answers_text
from konsel.client.tui.widgets.kopasta_session import (
    FOLLOW_UP_FIELDS,
    FOLLOW_UP_STAGE,
    DateInputError,
    FollowUpScheduled,
    format_date,
    format_day,
    format_moment,
    language,
    parse_date,
    run_guarded,
    schedule_follow_up,
    today,
)


class KopastaEvaluationScreen(ModalScreen[None]):
    """The penilaian stage's actions for one counseling session.

    The counselor sends the LAISEG request, sees the konseli's answers when they arrive
    (the panel forwards :class:`EvaluationReceived` here), sets the LAIJAPEN and LAIJAPANG
    dates, and ends the session after a second confirming press. Escape closes.
    """

    DEFAULT_CSS = """
    KopastaEvaluationScreen { align: center middle; }
    KopastaEvaluationScreen #evaluation-frame {
        width: 90%; max-width: 90; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    KopastaEvaluationScreen .evaluation-heading { text-style: bold; margin-top: 1; }
    KopastaEvaluationScreen .evaluation-error { color: $error; height: auto; }
    KopastaEvaluationScreen Horizontal { height: auto; }
    KopastaEvaluationScreen Horizontal Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, session_id: int, forms: EvaluationForms) -> None:
        super().__init__()
        self.engine = engine
        self.session_id = session_id
        self.forms = forms
        self.session: CounselingSession | None = None
        self.end_armed = False
        """Whether the next press of the end button ends the session."""

    def compose(self) -> ComposeResult:
        lang = language()
        forms = self.forms
        with Vertical(id="evaluation-frame"):
            with VerticalScroll(id="evaluation-scroll"):
                yield Static(t("kopasta.evaluation.title"), classes="evaluation-heading")
                yield Static("", id="evaluation-status")

                yield Static(
                    Content(forms.laiseg.title.in_language(lang)), classes="evaluation-heading"
                )
                yield Static(t("kopasta.laiseg.none_yet"), id="evaluation-answers")
                yield Button(t("kopasta.evaluation.request"), id="evaluation-request", compact=True)

                yield Static(t("kopasta.evaluation.follow_ups"), classes="evaluation-heading")
                yield Static(t("kopasta.evaluation.date_hint"))
                for kind, form in (("laijapen", forms.laijapen), ("laijapang", forms.laijapang)):
                    yield Label(Content(form.title.in_language(lang)))
                    yield Input(
                        placeholder=t("kopasta.dates.placeholder"),
                        id=f"evaluation-date-{kind}",
                        compact=True,
                    )
                    yield Static("", classes="evaluation-error", id=f"evaluation-date-{kind}-error")
                yield Static("", id="evaluation-scheduled")
                yield Button(
                    t("kopasta.evaluation.save_dates"), id="evaluation-save-dates", compact=True
                )

                yield Static(t("kopasta.evaluation.end_heading"), classes="evaluation-heading")
                yield Button(
                    t("kopasta.evaluation.end"),
                    id="evaluation-end",
                    variant="warning",
                    compact=True,
                )
            with Horizontal():
                yield Button(t("kopasta.common.close"), id="evaluation-close", compact=True)

    def on_mount(self) -> None:
        self._run(self._load())

    def _run(self, job: Awaitable[None]) -> None:
        self.run_worker(run_guarded(job, self), group="kopasta-evaluation")

    # --- loading -------------------------------------------------------------------------

    async def _load(self) -> None:
        session: CounselingSession = await self.engine.record("get_session", self.session_id)
        evaluations = await self.engine.record("list_evaluations", self.session_id)
        follow_ups: list[FollowUp] = await self.engine.record("list_follow_ups", self.session_id)
        if not self.is_attached:
            return  # closed while the records were read
        self.session = session

        ended = session.ended_at is not None
        if ended:
            status = t("kopasta.session.ended", ended=format_moment(session.ended_at or 0))
        else:
            status = t("kopasta.session.open", started=format_moment(session.started_at))
        self.query_one("#evaluation-status", Static).update(status)
        self.query_one("#evaluation-request", Button).disabled = ended
        self.query_one("#evaluation-end", Button).disabled = ended

        answers = [evaluation.answers for evaluation in evaluations if evaluation.kind == "laiseg"]
        if answers:
            self._show_answers(answers[-1])

        stored = session.fields.get(FOLLOW_UP_STAGE.value, {})
        for kind, key in FOLLOW_UP_FIELDS.items():
            field_input = self.query_one(f"#evaluation-date-{kind}", Input)
            if key in stored and not field_input.value:
                try:
                    field_input.value = format_date(parse_date(stored[key]))
                except DateInputError:
                    field_input.value = stored[key]
        self._show_follow_ups(follow_ups)

    def _show_answers(self, answers: dict[str, str]) -> None:
        self.query_one("#evaluation-answers", Static).update(answers_text(answers, self.forms))

    def _show_follow_ups(self, follow_ups: list[FollowUp]) -> None:
        lines = [
            t(
                "kopasta.evaluation.scheduled_line",
                kind=kind_title(self.forms, follow_up.kind),
                date=format_day(follow_up.due_at),
                status=t(f"kopasta.evaluation.status_{follow_up.status}"),
            )
            for follow_up in follow_ups
        ]
        shown = "\n".join(lines) if lines else t("kopasta.evaluation.none_scheduled")
        self.query_one("#evaluation-scheduled", Static).update(Content(shown))

    def on_engine_event(self, message: EngineEvent) -> None:
        """Show LAISEG answers that arrive for this session."""
        event = message.event
        if isinstance(event, EvaluationReceived) and event.session_id == self.session_id:
            self._show_answers(event.answers)

    # --- LAISEG request ------------------------------------------------------------------

    @on(Button.Pressed, "#evaluation-request")
    def _request_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._run(self._request())

    async def _request(self) -> None:
        questions = laiseg_questions(self.forms.laiseg, language())
        await self.engine.request_evaluation(self.session_id, questions, language=language())
        self.notify(t("kopasta.evaluation.requested"))

    # --- follow-up dates -----------------------------------------------------------------

    @on(Input.Submitted)
    @on(Button.Pressed, "#evaluation-save-dates")
    def _save_dates_pressed(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        chosen: dict[str, datetime.date] = {}
        for kind in FOLLOW_UP_FIELDS:
            field_input = self.query_one(f"#evaluation-date-{kind}", Input)
            error = self.query_one(f"#evaluation-date-{kind}-error", Static)
            error.update("")
            value = field_input.value.strip()
            if not value:
                continue
            try:
                day = parse_date(value)
                if day < today():
                    raise DateInputError(value, too_early=True)
            except DateInputError as invalid:
                error.update(Content(invalid.text()))
                return
            chosen[kind] = day
        if chosen:
            self._run(self._save_dates(chosen))

    async def _save_dates(self, chosen: dict[str, datetime.date]) -> None:
        for kind, day in chosen.items():
            try:
                await schedule_follow_up(self.engine, self.session_id, kind, day)
            except FollowUpScheduled as scheduled:
                error = self.query_one(f"#evaluation-date-{kind}-error", Static)
                date = format_day(scheduled.existing.due_at)
                error.update(Content(t("kopasta.evaluation.already_scheduled", date=date)))
        follow_ups = await self.engine.record("list_follow_ups", self.session_id)
        self._show_follow_ups(follow_ups)
        self.notify(t("kopasta.evaluation.dates_saved"))

    # --- ending the session --------------------------------------------------------------

    @on(Button.Pressed, "#evaluation-end")
    def _end_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = self.query_one("#evaluation-end", Button)
        if not self.end_armed:
            self.end_armed = True
            button.label = t("kopasta.evaluation.end_confirm")
            return
        button.disabled = True
        self._run(self._end())

    async def _end(self) -> None:
        await self.engine.end_counseling_session(self.session_id)
        self.notify(t("kopasta.evaluation.ended"))
        await self._load()

    @on(Button.Pressed, "#evaluation-close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close the screen; nothing is saved or sent by closing."""
        self.dismiss(None)


def kind_title(forms: EvaluationForms, kind: str) -> str:
    """Return the title of the LAIJAPEN or LAIJAPANG form in the user's language."""
    form = forms.laijapen if kind == "laijapen" else forms.laijapang
    return form.title.in_language(language())
