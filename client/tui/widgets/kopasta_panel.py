"""The KOPASTA side panel: the counselor's guide and private record of a counseling session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EvaluationReceived
from konsel.client.core.kopasta import Stage
from konsel.client.core.store_records import CounselingSession, SessionNote
from konsel.client.tui.catalog import t
from konsel.client.tui.messages import EngineEvent, InsertDraft
from konsel.client.tui.screens.crisis_panel import CrisisPanelScreen
from konsel.client.tui.screens.kopasta_evaluation import KopastaEvaluationScreen
from konsel.client.tui.screens.kopasta_report import KopastaReportScreen
from konsel.client.tui.screens.risk_card import RiskCardScreen
from konsel.client.tui.widgets.kopasta_fields import KopastaFields
from konsel.client.tui.widgets.kopasta_laiseg import KopastaLaisegBox
from konsel.client.tui.widgets.kopasta_session import (
    FOLLOW_UP_FIELDS,
    SchoolContent,
    format_moment,
    language,
    latest_session,
    load_school_content,
    move_stage,
    run_guarded,
    stage_entered_at,
)
from konsel.client.tui.widgets.kopasta_stage import KopastaStageView
from konsel.client.tui.widgets.kopasta_stages import KopastaStageList

REFRESH_SECONDS = 5.0
"""How often the time spent in the current stage is redrawn."""


class KopastaPanel(VerticalScroll):
    """Guide the counselor through the five KOPASTA stages and keep the session's record.

    The counselor moves between stages (:meth:`prev_stage`, :meth:`next_stage`); the panel
    never moves by itself. Stage moves, fields and notes go to the counselor's store and
    are never sent. Prompts become drafts in the composer through :class:`InsertDraft`.
    """

    DEFAULT_CSS = """
    KopastaPanel { width: 38; height: 1fr; padding: 0 1; border-left: vkey $panel; }
    KopastaPanel #kopasta-title { text-style: bold; }
    KopastaPanel Horizontal { height: auto; }
    KopastaPanel Horizontal Button { margin-right: 1; }
    KopastaPanel #kopasta-risk { height: auto; border: round $warning; padding: 0 1; }
    KopastaPanel #kopasta-body { height: auto; }
    """

    def __init__(
        self,
        engine: Engine,
        *,
        content: SchoolContent | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.engine = engine
        self.content = content or load_school_content()
        self.contact_id: int | None = None
        """The contact whose session the panel shows."""
        self.session: CounselingSession | None = None
        """The contact's newest session (open if one is), or None."""
        self.risk_cues: dict[int, tuple[str, ...]] = {}
        """Risk cues seen per contact since the app started, for the suggestion box."""
        self._lock = asyncio.Lock()
        self._render_lock = asyncio.Lock()

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        bundle = self.content.bundle
        yield Static(t("kopasta.panel.title"), id="kopasta-title")
        yield Static(t("kopasta.panel.no_contact"), id="kopasta-status")
        yield Button(
            t("kopasta.session.start"), id="kopasta-start", variant="primary", compact=True
        )
        with Vertical(id="kopasta-risk"):
            yield Static("", id="kopasta-risk-text")
            yield Button(t("kopasta.risk.open"), id="kopasta-risk-open", compact=True)
        yield KopastaStageList(bundle.kopasta, id="kopasta-stages")
        with Horizontal(id="kopasta-nav"):
            yield Button(t("kopasta.stages.previous"), id="kopasta-prev", compact=True)
            yield Button(t("kopasta.stages.next"), id="kopasta-next", compact=True)
        yield Vertical(id="kopasta-body")
        yield KopastaLaisegBox(bundle.evaluation, id="kopasta-laiseg")
        with Horizontal(id="kopasta-actions"):
            yield Button(t("kopasta.crisis.open"), id="kopasta-crisis", compact=True)
            yield Button(t("kopasta.report.open"), id="kopasta-export", compact=True)

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self._refresh_time)
        if self.content.error is not None:
            self.notify(
                t("kopasta.content.invalid", detail=str(self.content.error)),
                severity="warning",
                timeout=15,
            )
        self.query_one(KopastaLaisegBox).display = False
        self._render_header()

    # --- the contact and its session -----------------------------------------------------

    async def show_contact(self, contact_id: int | None) -> None:
        """Show the newest counseling session of ``contact_id``, or nothing when None."""
        await self._write_edits(self._take_pending_edits())
        self.contact_id = contact_id
        self.session = None
        if contact_id is not None:
            session = await latest_session(self.engine, contact_id)
            if self.contact_id != contact_id:
                return
            self.session = session
        await self._render_session()

    @property
    def open_session(self) -> CounselingSession | None:
        """The shown session while it is open, else None."""
        if self.session is None or self.session.ended_at is not None:
            return None
        return self.session

    async def _reload(self, session_id: int) -> None:
        session: CounselingSession = await self.engine.record("get_session", session_id)
        if self.session is None or self.session.id != session_id:
            return
        self.session = session
        await self._render_session()

    async def _render_session(self) -> None:
        # Renders replace the stage view, so two at once would mount it twice.
        async with self._render_lock:
            await self._render_session_now()

    async def _render_session_now(self) -> None:
        # Rendering hides the start button, so its focus moves to the new stage's prompts.
        keep_focus = self.query_one("#kopasta-start", Button).has_focus
        self._render_header()
        opened = self.open_session
        stage = None if opened is None else Stage(opened.stage)
        await self._render_body(opened, stage, keep_focus=keep_focus)

    def _render_header(self) -> None:
        """Show the session's status, the buttons that fit it, the risk box and the stages."""
        session = self.session
        opened = self.open_session
        status = self.query_one("#kopasta-status", Static)
        if self.contact_id is None:
            status.update(t("kopasta.panel.no_contact"))
        elif session is None:
            status.update(t("kopasta.session.none"))
        elif opened is None:
            ended_at = session.ended_at or session.started_at
            status.update(t("kopasta.session.ended", ended=format_moment(ended_at)))
        else:
            status.update(t("kopasta.session.open", started=format_moment(session.started_at)))

        self.query_one("#kopasta-start", Button).display = (
            self.contact_id is not None and opened is None
        )
        self.query_one("#kopasta-nav").display = opened is not None
        self.query_one("#kopasta-export", Button).disabled = session is None
        self._render_risk()

        stage = None if opened is None else Stage(opened.stage)
        entered_at = None if opened is None else stage_entered_at(opened)
        stages = self.query_one(KopastaStageList)
        stages.show_stage(stage, entered_at, self.engine.clock())

    async def _render_body(
        self, session: CounselingSession | None, stage: Stage | None, *, keep_focus: bool = False
    ) -> None:
        """Show the stage view of ``stage``, and the LAISEG box at penilaian.

        Focus inside the old stage view would be lost when the view is removed, so it moves
        to the new view's prompts, or to the start button once the session has ended.
        ``keep_focus`` asks for that move as well.
        """
        body = self.query_one("#kopasta-body", Vertical)
        laiseg = self.query_one(KopastaLaisegBox)
        keep_focus = keep_focus or body.has_focus_within
        await body.remove_children()
        laiseg.display = stage is Stage.PENILAIAN
        if session is None or stage is None:
            start = self.query_one("#kopasta-start", Button)
            if keep_focus and start.display:
                start.focus()
            return

        bundle = self.content.bundle
        hidden = frozenset(FOLLOW_UP_FIELDS.values()) if stage is Stage.PENILAIAN else frozenset()
        await body.mount(
            KopastaStageView(
                bundle.kopasta.guide_for(stage),
                session.fields.get(stage.value, {}),
                session.notes,
                bundle.evaluation.rating_scale,
                hidden_fields=hidden,
                id="kopasta-stage",
            )
        )
        if keep_focus:
            self.query_one("#kopasta-prompts").focus()
        if stage is Stage.PENILAIAN:
            evaluations = await self.engine.record("list_evaluations", session.id)
            answers = [e.answers for e in evaluations if e.kind == "laiseg"]
            laiseg.show_answers(answers[-1] if answers else None)

    def _refresh_time(self) -> None:
        self.query_one(KopastaStageList).refresh_time(self.engine.clock())

    # --- stage moves ---------------------------------------------------------------------

    def next_stage(self) -> None:
        """Move the open session to the next stage, at the counselor's request."""
        self._start_move(forward=True)

    def prev_stage(self) -> None:
        """Move the open session back to the previous stage, at the counselor's request."""
        self._start_move(forward=False)

    def _start_move(self, *, forward: bool) -> None:
        session = self.open_session
        if session is None:
            self.notify(t("kopasta.session.none_open"), severity="warning")
            return
        self._run(self._move(session.id, forward), "kopasta-stage")

    async def _move(self, session_id: int, forward: bool) -> None:
        # The lock makes two quick presses move two stages, each from the stored stage.
        async with self._lock:
            await self._write_edits(self._take_pending_edits())
            target = await move_stage(self.engine, session_id, forward)
            if target is None:
                key = "kopasta.stages.at_last" if forward else "kopasta.stages.at_first"
                self.notify(t(key))
                return
            await self._reload(session_id)
            if not self.display:
                # Hidden (the default at 80 columns), the move would otherwise go unseen.
                self.notify(t("app.notices.stage_moved_hidden"), timeout=5)

    # --- records -------------------------------------------------------------------------

    @on(Button.Pressed, "#kopasta-start")
    def _start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.contact_id is not None:
            self._run(self._start_session(self.contact_id), "kopasta-session")

    async def _start_session(self, contact_id: int) -> None:
        session_id = await self.engine.start_counseling_session(contact_id)
        if self.contact_id != contact_id:
            return
        self.session = await self.engine.record("get_session", session_id)
        await self._render_session()
        self.notify(t("kopasta.session.started"))

    @on(KopastaFields.Edited)
    def _field_edited(self, event: KopastaFields.Edited) -> None:
        event.stop()
        if self.session is not None:
            self._run(self._save_field(self.session.id, event.stage, event.key, event.value))

    async def _save_field(self, session_id: int, stage: Stage, key: str, value: str) -> None:
        await self.engine.record("set_field", session_id, stage.value, key, value)

    def _take_pending_edits(self) -> list[tuple[int, Stage, str, str]]:
        """Return what was typed in the shown stage and not saved yet, with its session."""
        views = self.query(KopastaStageView)
        if self.session is None or not views:
            return []
        view = views.first()
        return [
            (self.session.id, view.guide.stage, key, value) for key, value in view.pending_edits()
        ]

    async def _write_edits(self, edits: list[tuple[int, Stage, str, str]]) -> None:
        for session_id, stage, key, value in edits:
            await self._save_field(session_id, stage, key, value)

    @on(KopastaStageView.NoteAdded)
    def _note_added(self, event: KopastaStageView.NoteAdded) -> None:
        event.stop()
        views = self.query(KopastaStageView)
        if self.session is not None and views:
            stage = views.first().guide.stage
            self._run(self._add_note(self.session.id, stage, event.body))

    async def _add_note(self, session_id: int, stage: Stage, body: str) -> None:
        note_id = await self.engine.record("add_note", session_id, stage.value, body)
        views = self.query(KopastaStageView)
        if self.session is None or self.session.id != session_id or not views:
            return
        view = views.first()
        if view.guide.stage is stage:
            await view.show_note(SessionNote(note_id, stage.value, body, self.engine.clock()))
        self.notify(t("kopasta.stage.note_saved"))

    # --- evaluation, report, risk and crisis ---------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        """Show LAISEG answers of the shown session, and pass them to an open evaluation screen."""
        event = message.event
        if not isinstance(event, EvaluationReceived):
            return
        if isinstance(self.app.screen, KopastaEvaluationScreen):
            self.app.screen.post_message(EngineEvent(event))
        if self.session is not None and self.session.id == event.session_id:
            self.query_one(KopastaLaisegBox).show_answers(event.answers)
            self.notify(t("kopasta.laiseg.arrived"))

    @on(Button.Pressed, "#kopasta-open-evaluation")
    def _evaluation_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.open_evaluation()

    def open_evaluation(self) -> None:
        """Open the penilaian screen of the open session once it is at the penilaian stage.

        Otherwise a notification says what is missing, so a key bound to this method
        never fails silently.
        """
        session = self.open_session
        if session is None or Stage(session.stage) is not Stage.PENILAIAN:
            self._notify_missing_penilaian(session)
            return
        screen = KopastaEvaluationScreen(self.engine, session.id, self.content.bundle.evaluation)
        self.app.push_screen(screen, lambda _: self._run(self._reload(session.id)))

    def _notify_missing_penilaian(self, session: CounselingSession | None) -> None:
        if self.contact_id is None:
            self.notify(t("kopasta.panel.no_contact"), severity="warning")
        elif session is None:
            self.notify(t("kopasta.session.none_open"), severity="warning")
        else:
            title = self.content.bundle.kopasta.guide_for(Stage.PENILAIAN).title
            self.notify(
                t("kopasta.laiseg.not_yet", stage=title.in_language(language())),
                severity="warning",
            )

    @on(Button.Pressed, "#kopasta-export")
    def _export_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.open_report()

    def open_report(self) -> None:
        """Open the report export screen for the shown session, open or ended."""
        if self.session is None:
            key = "kopasta.panel.no_contact" if self.contact_id is None else "kopasta.session.none"
            self.notify(t(key), severity="warning")
            return
        bundle = self.content.bundle
        screen = KopastaReportScreen(
            self.engine, self.session.id, guide=bundle.kopasta, forms=bundle.evaluation
        )
        self.app.push_screen(screen)

    def suggest_risk_card(self, contact_id: int, cues: tuple[str, ...] | list[str]) -> None:
        """Show a suggestion to open the risk card for ``contact_id``; nothing else happens."""
        known = self.risk_cues.get(contact_id, ())
        self.risk_cues[contact_id] = known + tuple(cue for cue in cues if cue not in known)
        self._render_risk()

    def _render_risk(self) -> None:
        cues = self.risk_cues.get(self.contact_id, ()) if self.contact_id is not None else ()
        box = self.query_one("#kopasta-risk", Vertical)
        box.display = bool(cues)
        if cues:
            text = t("kopasta.risk.suggestion", cues=", ".join(cues))
            self.query_one("#kopasta-risk-text", Static).update(Content(text))

    @on(Button.Pressed, "#kopasta-risk-open")
    def _open_risk_card(self, event: Button.Pressed) -> None:
        event.stop()
        cues = self.risk_cues.get(self.contact_id, ()) if self.contact_id is not None else ()
        bundle = self.content.bundle
        screen = RiskCardScreen(cues, bundle.risk_cues, bundle.crisis)
        self.app.push_screen(screen, self._insert_chosen_draft)

    def _insert_chosen_draft(self, text: str | None) -> None:
        if text:
            self.post_message(InsertDraft(text))

    @on(Button.Pressed, "#kopasta-crisis")
    def _crisis_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.open_crisis()

    def open_crisis(self) -> None:
        """Show the crisis panel: crisis contacts and the steps for the counselor."""
        self.app.push_screen(CrisisPanelScreen(self.content.bundle.crisis))

    # --- workers -------------------------------------------------------------------------

    def _run(self, job: Awaitable[None], group: str = "kopasta-records") -> None:
        self.run_worker(run_guarded(job, self), group=group)
