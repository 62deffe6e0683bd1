"""Penilaian: request LAISEG, read the answers, manage LAIJAPEN and LAIJAPANG, end the session."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Iterable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from konsel.client.core.engine import Engine
from konsel.client.core.errors import RecordNotFound
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
    cancel_follow_up,
    day_of,
    follow_up_state,
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
    (the panel forwards :class:`EvaluationReceived` here), and sets the LAIJAPEN and
    LAIJAPANG dates. Each follow-up is listed with its state. An open one can be marked
    done, moved by saving another date for its kind, or cancelled after a second press.
    The session ends after a second confirming press too. Escape closes.
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
    KopastaEvaluationScreen #evaluation-scheduled { height: auto; margin-top: 1; }
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
        self.cancel_armed: int | None = None
        """The follow-up whose cancel button was pressed once, so the next press cancels it."""
        self.follow_ups: dict[int, FollowUp] = {}
        """The listed follow-ups by id."""
        self._list_lock = asyncio.Lock()

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
                yield Button(
                    t("kopasta.evaluation.save_dates"), id="evaluation-save-dates", compact=True
                )
                yield Vertical(id="evaluation-scheduled")

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
        # Focus starts in the LAIJAPEN date rather than on the LAISEG request above it,
        # because Enter on that button sends a message to the konseli.
        self.query_one("#evaluation-date-laijapen", Input).focus()
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

        self._show_dates(session, follow_ups, FOLLOW_UP_FIELDS)
        await self._show_follow_ups(follow_ups)

    def _show_answers(self, answers: dict[str, str]) -> None:
        self.query_one("#evaluation-answers", Static).update(answers_text(answers, self.forms))

    def _show_dates(
        self, session: CounselingSession, follow_ups: list[FollowUp], kinds: Iterable[str]
    ) -> None:
        stored = session.fields.get(FOLLOW_UP_STAGE.value, {})
        for kind in kinds:
            shown = shown_date(kind, follow_ups, stored.get(FOLLOW_UP_FIELDS[kind], ""))
            self.query_one(f"#evaluation-date-{kind}", Input).value = shown

    async def _show_follow_ups(self, follow_ups: list[FollowUp]) -> None:
        """List every follow-up with its state, and buttons for the open ones."""
        now = self.engine.clock()
        rows: list[Static | Horizontal] = []
        for follow_up in follow_ups:
            state = follow_up_state(follow_up, now)
            line = t(
                "kopasta.evaluation.scheduled_line",
                kind=kind_title(self.forms, follow_up.kind),
                date=format_day(follow_up.due_at),
                status=t(f"kopasta.evaluation.state_{state}"),
            )
            rows.append(Static(Content(line), id=f"follow-up-{follow_up.id}"))
            if state != "done":
                rows.append(
                    Horizontal(
                        Button(
                            t("kopasta.evaluation.mark_done"),
                            id=f"follow-up-done-{follow_up.id}",
                            classes="follow-up-action",
                            compact=True,
                        ),
                        Button(
                            t("kopasta.evaluation.cancel"),
                            id=f"follow-up-cancel-{follow_up.id}",
                            classes="follow-up-action",
                            compact=True,
                        ),
                    )
                )
        if not rows:
            rows.append(Static(t("kopasta.evaluation.none_scheduled"), id="follow-up-none"))

        # Two refreshes at once would mount rows with the same ids.
        async with self._list_lock:
            if not self.is_attached:
                return
            self.follow_ups = {follow_up.id: follow_up for follow_up in follow_ups}
            self.cancel_armed = None
            listing = self.query_one("#evaluation-scheduled", Vertical)
            # A pressed row button is disabled or removed, which leaves focus nowhere.
            lost_focus = listing.has_focus_within or self.focused is None
            await listing.remove_children()
            await listing.mount_all(rows)
            if lost_focus:
                self._focus_near_list()

    def _focus_near_list(self) -> None:
        """Focus the first follow-up button, or "Simpan jadwal" when none is left."""
        buttons = self.query(".follow-up-action").results(Button)
        target = next(buttons, None) or self.query_one("#evaluation-save-dates", Button)
        target.focus()

    async def _refresh_follow_ups(self, kinds: Iterable[str]) -> None:
        """Read the follow-ups again, list them, and reset the date inputs of ``kinds``."""
        session: CounselingSession = await self.engine.record("get_session", self.session_id)
        follow_ups: list[FollowUp] = await self.engine.record("list_follow_ups", self.session_id)
        if not self.is_attached:
            return
        self._show_dates(session, follow_ups, kinds)
        await self._show_follow_ups(follow_ups)

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
        unchanged = 0
        for kind in FOLLOW_UP_FIELDS:
            field_input = self.query_one(f"#evaluation-date-{kind}", Input)
            error = self.query_one(f"#evaluation-date-{kind}-error", Static)
            error.update("")
            value = field_input.value.strip()
            if not value:
                continue
            try:
                day = parse_date(value)
                if day == self._open_day(kind):
                    # A due follow-up's date has passed, and keeping it is no error.
                    unchanged += 1
                    continue
                if day < today():
                    raise DateInputError(value, too_early=True)
            except DateInputError as invalid:
                error.update(Content(invalid.text()))
                return
            chosen[kind] = day
        if chosen:
            self._run(self._save_dates(chosen))
        elif unchanged:
            self.notify(t("kopasta.evaluation.dates_saved"))

    def _open_day(self, kind: str) -> datetime.date | None:
        for follow_up in self.follow_ups.values():
            if follow_up.kind == kind and follow_up.done_at is None:
                return day_of(follow_up.due_at)
        return None

    async def _save_dates(self, chosen: dict[str, datetime.date]) -> None:
        moved: list[str] = []
        for kind, day in chosen.items():
            result = await schedule_follow_up(self.engine, self.session_id, kind, day)
            if result == "moved":
                moved.append(
                    t(
                        "kopasta.evaluation.moved",
                        kind=kind_title(self.forms, kind),
                        date=format_date(day),
                    )
                )
        await self._refresh_follow_ups(chosen)
        self.notify(" ".join(moved) if moved else t("kopasta.evaluation.dates_saved"))

    # --- completing and cancelling follow-ups --------------------------------------------

    @on(Button.Pressed, ".follow-up-action")
    def _follow_up_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action, _, number = (event.button.id or "").removeprefix("follow-up-").partition("-")
        follow_up = self.follow_ups.get(int(number)) if number.isdigit() else None
        if follow_up is None:
            return
        if action == "done":
            event.button.disabled = True
            self._run(self._complete(follow_up))
        elif action == "cancel" and self.cancel_armed != follow_up.id:
            self._disarm_cancel()
            self.cancel_armed = follow_up.id
            relabel(event.button, t("kopasta.evaluation.cancel_confirm"))
        elif action == "cancel":
            event.button.disabled = True
            self._run(self._cancel(follow_up))

    def _disarm_cancel(self) -> None:
        if self.cancel_armed is None:
            return
        for button in self.query(f"#follow-up-cancel-{self.cancel_armed}").results(Button):
            relabel(button, t("kopasta.evaluation.cancel"))
        self.cancel_armed = None

    async def _complete(self, follow_up: FollowUp) -> None:
        kind = kind_title(self.forms, follow_up.kind)
        try:
            await self.engine.record("complete_follow_up", follow_up.id)
            self.notify(t("kopasta.evaluation.marked_done", kind=kind))
        except RecordNotFound:
            self.notify(t("kopasta.evaluation.follow_up_gone"), severity="warning")
        await self._refresh_follow_ups([follow_up.kind])

    async def _cancel(self, follow_up: FollowUp) -> None:
        kind = kind_title(self.forms, follow_up.kind)
        try:
            await cancel_follow_up(self.engine, follow_up)
            self.notify(t("kopasta.evaluation.cancelled", kind=kind))
        except RecordNotFound:
            self.notify(t("kopasta.evaluation.follow_up_gone"), severity="warning")
        await self._refresh_follow_ups([follow_up.kind])

    # --- ending the session --------------------------------------------------------------

    @on(Button.Pressed, "#evaluation-end")
    def _end_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = self.query_one("#evaluation-end", Button)
        if not self.end_armed:
            self.end_armed = True
            relabel(button, t("kopasta.evaluation.end_confirm"))
            return
        # Disabling the button drops its focus, so "Tutup", the likely next step, gets it.
        self.query_one("#evaluation-close", Button).focus()
        button.disabled = True
        # The disabled button would otherwise keep asking for a second press.
        relabel(button, t("kopasta.evaluation.end"))
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


def relabel(button: Button, label: str) -> None:
    """Set a button's label and lay the button out again.

    Textual 8.2 only repaints a button whose label changes, so without the layout pass
    a longer label would be cut to the width of the old one.
    """
    button.label = label
    button.refresh(layout=True)


def kind_title(forms: EvaluationForms, kind: str) -> str:
    """Return the title of the LAIJAPEN or LAIJAPANG form in the user's language."""
    form = forms.laijapen if kind == "laijapen" else forms.laijapang
    return form.title.in_language(language())


def shown_date(kind: str, follow_ups: list[FollowUp], field_value: str) -> str:
    """Return the date a kind's input shows: its open follow-up's, else its penilaian field.

    A field date that a done follow-up of the kind already had is left out, so that saving
    again does not schedule the same evaluation twice. A field that does not parse is shown
    as stored, so the counselor sees it and can correct it.
    """
    of_kind = [follow_up for follow_up in follow_ups if follow_up.kind == kind]
    for follow_up in of_kind:
        if follow_up.done_at is None:
            return format_day(follow_up.due_at)
    if not field_value:
        return ""
    try:
        day = parse_date(field_value)
    except DateInputError:
        return field_value
    done_days = {day_of(follow_up.due_at) for follow_up in of_kind}
    return "" if day in done_days else format_date(day)
