"""Tests of the KOPASTA side panel with a real counselor engine, store and relay."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import Relay, bodies, reopen
from kopasta_host import PanelHost, default_content, paired, shown, wait_for
from screen_text import content_words, screen_text, words_outside
from textual.widgets import Button, Checkbox, OptionList, Select, TextArea

from konsel.client.core.content_files import load_kopasta_guide
from konsel.client.core.engine import Engine
from konsel.client.core.kopasta import Stage
from konsel.client.core.store_records import CounselingSession
from konsel.client.tui import catalog
from konsel.client.tui.catalog import Catalog, t
from konsel.client.tui.screens.risk_card import RiskCardScreen
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel


async def _session(engine: Engine, contact_id: int) -> CounselingSession | None:
    summaries = await engine.record("list_sessions", 0, 2**62)
    own = [summary for summary in summaries if summary.contact_id == contact_id]
    return await engine.record("get_session", own[-1].id) if own else None


async def _start(app: PanelHost, contact_id: int) -> CounselingSession:
    """Show the contact, press "Mulai sesi" and wait for the stored session."""
    await app.panel.show_contact(contact_id)
    app.panel.query_one("#kopasta-start", Button).press()

    async def started() -> bool:
        return await _session(app.engine, contact_id) is not None

    await wait_for(started, "the counseling session")
    await wait_for(lambda: app.panel.open_session is not None, "the panel to show the session")
    await wait_for(lambda: bool(app.panel.query("#kopasta-prompts")), "the stage view")
    await _group_done(app, "kopasta-session")
    session = await _session(app.engine, contact_id)
    assert session is not None
    return session


async def _group_done(app: PanelHost, group: str) -> None:
    """Wait until no worker of ``group`` is running or waiting to run."""
    await wait_for(
        lambda: not any(w.group == group and not w.is_finished for w in app.workers),
        f"the {group} workers to finish",
    )


async def _moves_done(app: PanelHost) -> None:
    """Wait until no stage move of the panel is running."""
    await _group_done(app, "kopasta-stage")


async def _wait_stage(app: PanelHost, session_id: int, stage: Stage) -> None:
    async def stored() -> bool:
        session = await app.engine.record("get_session", session_id)
        return bool(session.stage == stage.value)

    await wait_for(stored, f"stage {stage.value} in the store")
    marker = t("kopasta.stages.marker")
    await wait_for(
        lambda: f"{marker} {stage.number}." in shown(app.panel, "#kopasta-stages"),
        f"stage {stage.value} marked in the panel",
    )
    await _moves_done(app)


async def test_panel_stage_moves_persist(tmp_path: Path, tui_relay: Relay) -> None:
    """Moves forward and back are stored and shown again after the engine reopens."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            assert shown(app.panel, "#kopasta-status") == t("kopasta.session.none")
            assert app.panel.query_one("#kopasta-start", Button).display

            session = await _start(app, engines.student_id)
            assert session.stage == "pengantaran"
            assert not app.panel.query_one("#kopasta-start", Button).display
            stages = shown(app.panel, "#kopasta-stages")
            assert "▶ 1. Pengantaran" in stages
            assert t("kopasta.stages.elapsed", minutes=0) in stages

            app.panel.next_stage()
            await _wait_stage(app, session.id, Stage.PENJAJAGAN)
            app.panel.next_stage()
            await _wait_stage(app, session.id, Stage.PENAFSIRAN)
            app.panel.prev_stage()
            await _wait_stage(app, session.id, Stage.PENJAJAGAN)
            await pilot.pause()

        stored = await engines.counselor.record("get_session", session.id)
        assert [change.stage for change in stored.stage_changes] == [
            "pengantaran",
            "penjajagan",
            "penafsiran",
            "penjajagan",
        ]

        engines.counselor = await reopen(engines.counselor)
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            assert "▶ 2. Penjajagan" in shown(app.panel, "#kopasta-stages")
            guide = load_kopasta_guide().guide_for(Stage.PENJAJAGAN)
            assert shown(app.panel, "#kopasta-purpose") == guide.purpose.id
            await pilot.pause()


async def test_panel_stage_ends(tmp_path: Path, tui_relay: Relay) -> None:
    """Moving back from pengantaran or on from penilaian stays put."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session = await _start(app, engines.student_id)
            app.panel.prev_stage()
            await pilot.pause()
            await _moves_done(app)
            for stage in list(Stage)[1:]:
                app.panel.next_stage()
                await _wait_stage(app, session.id, stage)
            app.panel.next_stage()
            await _moves_done(app)

        stored = await engines.counselor.record("get_session", session.id)
        assert stored.stage == "penilaian"
        assert [change.stage for change in stored.stage_changes] == [stage.value for stage in Stage]


async def test_panel_moves_without_session(tmp_path: Path, tui_relay: Relay) -> None:
    """Without an open session a stage key only explains itself and stores nothing."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            app.panel.next_stage()
            await pilot.pause()
            assert await _session(engines.counselor, engines.student_id) is None
            assert not app.panel.query_one("#kopasta-nav").display


async def test_panel_prompt_becomes_draft(tmp_path: Path, tui_relay: Relay) -> None:
    """Choosing a prompt posts InsertDraft with its text, and nothing is sent."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await _start(app, engines.student_id)
            sent_before = await bodies(engines.counselor, engines.student_id)
            outbox_before = await engines.counselor.outbox_count()

            prompts = app.panel.query_one("#kopasta-prompts", OptionList)
            prompts.focus()
            await pilot.pause()
            prompts.highlighted = 1
            await pilot.press("enter")
            await pilot.pause()

            guide = load_kopasta_guide().guide_for(Stage.PENGANTARAN)
            assert app.drafts == [guide.prompts[1].text.id]
            assert await bodies(engines.counselor, engines.student_id) == sent_before
            assert await engines.counselor.outbox_count() == outbox_before


async def test_panel_fields_saved_not_sent(tmp_path: Path, tui_relay: Relay) -> None:
    """Text, choice and yes/no fields land in the store, and no message leaves."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session = await _start(app, engines.student_id)
            outbox_before = await engines.counselor.outbox_count()
            history_before = await bodies(engines.counselor, engines.student_id)

            app.panel.query_one("#kopasta-field-arrival", Select).value = "referred"
            app.panel.query_one("#kopasta-field-consent_given", Checkbox).value = True
            plan = app.panel.query_one("#kopasta-field-disconnect_plan", TextArea)
            plan.focus()
            await pilot.pause()
            plan.insert("Lanjut besok jam 10 [b]tebal[/b]")
            app.panel.query_one("#kopasta-prompts", OptionList).focus()
            await pilot.pause()

            async def saved() -> bool:
                stored = await engines.counselor.record("get_session", session.id)
                return stored.fields.get("pengantaran", {}) == {
                    "arrival": "referred",
                    "consent_given": "true",
                    "disconnect_plan": "Lanjut besok jam 10 [b]tebal[/b]",
                }

            await wait_for(saved, "the three fields in the store")

            # A field typed and not left yet is saved before the stage moves on.
            identity = app.panel.query_one("#kopasta-field-identity_check", Select)
            identity.value = "safety_code"
            app.panel.next_stage()
            await _wait_stage(app, session.id, Stage.PENJAJAGAN)
            problem = app.panel.query_one("#kopasta-field-problem_in_own_words", TextArea)
            problem.focus()
            await pilot.pause()
            problem.insert("Takut ulangan matematika")
            app.panel.prev_stage()
            await _wait_stage(app, session.id, Stage.PENGANTARAN)

            stored = await engines.counselor.record("get_session", session.id)
            assert stored.fields["pengantaran"]["identity_check"] == "safety_code"
            assert stored.fields["penjajagan"] == {
                "problem_in_own_words": "Takut ulangan matematika"
            }
            assert app.panel.query_one("#kopasta-field-arrival", Select).value == "referred"
            assert await engines.counselor.outbox_count() == outbox_before
            assert await bodies(engines.counselor, engines.student_id) == history_before


async def test_panel_note_saved(tmp_path: Path, tui_relay: Relay) -> None:
    """A free note is stored with its stage and listed under it."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session = await _start(app, engines.student_id)
            app.panel.query_one("#kopasta-note", TextArea).insert("Konseli tampak lelah.")
            app.panel.query_one("#kopasta-save-note", Button).press()

            async def stored() -> bool:
                record = await engines.counselor.record("get_session", session.id)
                return [(n.stage, n.body) for n in record.notes] == [
                    ("pengantaran", "Konseli tampak lelah.")
                ]

            await wait_for(stored, "the note in the store")
            await wait_for(
                lambda: len(app.panel.query(".kopasta-note")) == 1, "the note under the stage"
            )
            assert app.panel.query_one("#kopasta-note", TextArea).text == ""
            await pilot.pause()


async def test_panel_risk_suggestion(tmp_path: Path, tui_relay: Relay) -> None:
    """A risk cue shows a suggestion and nothing else; the card is the counselor's choice."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            box = app.panel.query_one("#kopasta-risk")
            assert not box.display
            outbox_before = await engines.counselor.outbox_count()
            screens_before = len(app.screen_stack)

            app.panel.suggest_risk_card(engines.student_id, ("capek hidup",))
            await pilot.pause()

            assert box.display
            expected = t("kopasta.risk.suggestion", cues="capek hidup")
            assert shown(app.panel, "#kopasta-risk-text") == expected
            assert len(app.screen_stack) == screens_before
            assert app.drafts == []
            assert await engines.counselor.outbox_count() == outbox_before
            assert await _session(engines.counselor, engines.student_id) is None

            # The counselor opens the card and takes the first question as a draft.
            app.panel.query_one("#kopasta-risk-open", Button).press()
            await pilot.pause()
            card = app.screen
            assert isinstance(card, RiskCardScreen)
            assert "capek hidup" in shown(card, "#risk-cues")
            questions = card.query_one("#risk-questions", OptionList)
            questions.focus()
            await pilot.pause()
            questions.highlighted = 0
            await pilot.press("enter")
            await pilot.pause()

            assert not isinstance(app.screen, RiskCardScreen)
            assert app.drafts == [card.guide.risk_questions[0].question.id]
            assert await engines.counselor.outbox_count() == outbox_before


async def test_panel_other_contact_no_risk(tmp_path: Path, tui_relay: Relay) -> None:
    """A suggestion for another contact stays hidden until that contact is shown."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(None)
            app.panel.suggest_risk_card(engines.student_id, ["dipukul"])
            await pilot.pause()
            assert not app.panel.query_one("#kopasta-risk").display

            await app.panel.show_contact(engines.student_id)
            assert app.panel.query_one("#kopasta-risk").display


async def test_panel_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """With the English catalog the panel and the stage content are English."""
    catalog.use("en")
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            assert shown(app.panel, "#kopasta-status") == t("kopasta.panel.no_contact")
            assert "Choose a conversation" in shown(app.panel, "#kopasta-status")
            await _start(app, engines.student_id)
            assert "▶ 1. Introduction" in shown(app.panel, "#kopasta-stages")
            guide = load_kopasta_guide().guide_for(Stage.PENGANTARAN)
            assert shown(app.panel, "#kopasta-purpose") == guide.purpose.en
            assert str(app.panel.query_one("#kopasta-start", Button).label) == "Start session"

            prompts = app.panel.query_one("#kopasta-prompts", OptionList)
            prompts.focus()
            await pilot.pause()
            prompts.highlighted = 0
            await pilot.press("enter")
            await pilot.pause()
            assert app.drafts == [guide.prompts[0].text.en]


async def test_panel_usable_at_80x24(tmp_path: Path, tui_relay: Relay) -> None:
    """At 80x24 the panel fits its width, scrolls, and keeps the stage list on screen."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await _start(app, engines.student_id)
            await pilot.pause()
            panel = app.query_one(KopastaPanel)
            assert 36 <= panel.outer_size.width <= 40
            assert panel.virtual_size.height > panel.size.height
            stages = panel.query_one("#kopasta-stages")
            assert stages.region.y + stages.region.height <= 24


async def test_panel_only_catalog_words(tmp_path: Path, tui_relay: Relay) -> None:
    """Every word the panel shows comes from the catalog or the content files, in both languages."""
    for language in ("id", "en"):
        catalog.use(language)
        Catalog.shown = set()
        async with paired(tmp_path / language, tui_relay.url) as engines:
            app = PanelHost(engines.counselor, default_content(tmp_path))
            async with app.run_test(size=(80, 24)) as pilot:
                await app.panel.show_contact(engines.student_id)
                await pilot.pause()
                _assert_catalog_words(app)
                await _start(app, engines.student_id)
                app.panel.suggest_risk_card(engines.student_id, ("bunuh diri",))
                await pilot.pause()
                _assert_catalog_words(app)
                app.panel.scroll_end(animate=False)
                await pilot.pause()
                _assert_catalog_words(app)
    Catalog.shown = None


def _assert_catalog_words(app: PanelHost) -> None:
    text = screen_text(app)
    strays = words_outside(text, [*(Catalog.shown or set()), *content_words()])
    assert strays == [], f"words on screen that no catalog gave: {strays}\n{text}"
