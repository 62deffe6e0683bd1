"""Tests of penilaian: LAISEG through a real relay, follow-up dates and ending the session."""

from __future__ import annotations

import datetime
from pathlib import Path

from engine_helpers import Relay, drain
from kopasta_host import PanelHost, default_content, paired, shown, wait_for
from textual.widgets import Button, Input

from konsel.client.core.events import CounselingSessionChanged, EvaluationRequested, Event
from konsel.client.core.kopasta import Stage
from konsel.client.tui import catalog
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.kopasta_evaluation import KopastaEvaluationScreen
from konsel.client.tui.widgets.kopasta_session import (
    format_date,
    parse_date,
    start_of_day_ms,
    today,
)

ANSWERS = {
    "understanding": "Diam saja tidak menyelesaikan masalah.",
    "comfort": "Lebih lega dari tadi.",
    "action": "Bicara dengan Rani hari Senin.",
}


async def _open_evaluation(app: PanelHost, contact_id: int) -> tuple[int, KopastaEvaluationScreen]:
    """Start a session, move it to penilaian and open the evaluation screen."""
    await app.panel.show_contact(contact_id)
    app.panel.query_one("#kopasta-start", Button).press()
    await wait_for(lambda: app.panel.open_session is not None, "the session")
    session = app.panel.open_session
    assert session is not None
    for stage in list(Stage)[1:]:
        app.panel.next_stage()

        async def reached(stage: Stage = stage) -> bool:
            stored = await app.engine.record("get_session", session.id)
            return bool(stored.stage == stage.value)

        await wait_for(reached, f"stage {stage.value}")
    await wait_for(
        lambda: (
            bool(app.panel.query("#kopasta-open-evaluation"))
            and app.panel.query_one("#kopasta-laiseg").display
        ),
        "the LAISEG box",
    )
    app.panel.query_one("#kopasta-open-evaluation", Button).press()
    await wait_for(lambda: isinstance(app.screen, KopastaEvaluationScreen), "the evaluation screen")
    screen = app.screen
    assert isinstance(screen, KopastaEvaluationScreen)
    await wait_for(lambda: screen.session is not None, "the evaluation screen to load")
    return session.id, screen


async def test_evaluation_laiseg_round_trip(tmp_path: Path, tui_relay: Relay) -> None:
    """The request reaches the student engine; its answers show in the panel and the screen."""
    async with paired(tmp_path, tui_relay.url) as engines:
        student_events = engines.student.events()
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            assert shown(app.panel, "#kopasta-laiseg-answers") == t("kopasta.laiseg.none_yet")

            screen.query_one("#evaluation-request", Button).press()
            seen: list[Event] = []

            def requested() -> bool:
                seen.extend(drain(student_events))
                return any(isinstance(event, EvaluationRequested) for event in seen)

            await wait_for(requested, "the LAISEG request at the student")
            request = next(event for event in seen if isinstance(event, EvaluationRequested))
            assert [question.key for question in request.questions][:3] == list(ANSWERS)
            content_id = await engines.counselor.record("content_session_id", session_id)
            assert request.session_id == content_id

            await engines.student.answer_evaluation(
                engines.counselor_id, request.session_id, ratings={"rating_feeling": 4}, **ANSWERS
            )
            await wait_for(
                lambda: ANSWERS["action"] in shown(screen, "#evaluation-answers"),
                "the answers in the evaluation screen",
            )
            screen.dismiss(None)
            await pilot.pause()
            panel_answers = shown(app.panel, "#kopasta-laiseg-answers")
            for answer in ANSWERS.values():
                assert answer in panel_answers
            assert "4 Setuju" in panel_answers
            (evaluation,) = await engines.counselor.record("list_evaluations", session_id)
            assert evaluation.answers == {**ANSWERS, "rating_feeling": "4"}
        student_events.close()


async def test_evaluation_dates_validated(tmp_path: Path, tui_relay: Relay) -> None:
    """A bad or past date shows a catalog error naming it; good dates become follow-ups."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            laijapen = screen.query_one("#evaluation-date-laijapen", Input)
            laijapang = screen.query_one("#evaluation-date-laijapang", Input)
            save = screen.query_one("#evaluation-save-dates", Button)

            laijapen.value = "31-02-2027"
            save.press()
            await pilot.pause()
            expected = t("kopasta.dates.invalid", value="31-02-2027")
            assert shown(screen, "#evaluation-date-laijapen-error") == expected
            assert "31-02-2027" in expected

            laijapen.value = "01-01-2020"
            save.press()
            await pilot.pause()
            expected = t("kopasta.dates.past", value="01-01-2020")
            assert shown(screen, "#evaluation-date-laijapen-error") == expected
            assert await engines.counselor.record("list_follow_ups", session_id) == []

            short_term = today() + datetime.timedelta(days=14)
            long_term = today() + datetime.timedelta(days=120)
            laijapen.value = format_date(short_term)
            laijapang.value = long_term.isoformat()
            save.press()

            async def scheduled() -> bool:
                return len(await engines.counselor.record("list_follow_ups", session_id)) == 2

            await wait_for(scheduled, "two follow-ups")
            follow_ups = await engines.counselor.record("list_follow_ups", session_id)
            assert [(f.kind, f.due_at) for f in follow_ups] == [
                ("laijapen", start_of_day_ms(short_term)),
                ("laijapang", start_of_day_ms(long_term)),
            ]
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.fields["penilaian"] == {
                "laijapen_date": short_term.isoformat(),
                "laijapang_date": long_term.isoformat(),
            }
            assert shown(screen, "#evaluation-date-laijapen-error") == ""
            await wait_for(
                lambda: format_date(short_term) in shown(screen, "#evaluation-scheduled"),
                "the scheduled dates listed",
            )

            # Another LAIJAPEN date is refused while the first is open.
            laijapen.value = format_date(short_term + datetime.timedelta(days=1))
            save.press()
            await wait_for(
                lambda: (
                    shown(screen, "#evaluation-date-laijapen-error")
                    == t("kopasta.evaluation.already_scheduled", date=format_date(short_term))
                ),
                "the already-scheduled error",
            )
            assert len(await engines.counselor.record("list_follow_ups", session_id)) == 2


async def test_evaluation_end_session(tmp_path: Path, tui_relay: Relay) -> None:
    """The end button asks for a second press, then ends the session at both sides."""
    async with paired(tmp_path, tui_relay.url) as engines:
        student_events = engines.student.events()
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            end = screen.query_one("#evaluation-end", Button)
            end.press()
            await pilot.pause()
            assert str(end.label) == t("kopasta.evaluation.end_confirm")
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.ended_at is None

            end.press()

            async def ended() -> bool:
                stored = await engines.counselor.record("get_session", session_id)
                return stored.ended_at is not None

            await wait_for(ended, "the session to end")
            seen: list[Event] = []

            def told() -> bool:
                seen.extend(drain(student_events))
                return any(
                    isinstance(event, CounselingSessionChanged) and event.action == "end"
                    for event in seen
                )

            await wait_for(told, "the end at the student")
            await wait_for(
                lambda: screen.query_one("#evaluation-request", Button).disabled,
                "the request button to be disabled",
            )

            screen.dismiss(None)
            await wait_for(lambda: app.panel.open_session is None, "the panel to see the end")
            assert app.panel.query_one("#kopasta-start", Button).display
            assert not app.panel.query_one("#kopasta-export", Button).disabled
        student_events.close()


async def test_evaluation_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """The screen is English with the English catalog and still names a bad value."""
    catalog.use("en")
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            _, screen = await _open_evaluation(app, engines.student_id)
            laijapang = screen.query_one("#evaluation-date-laijapang", Input)
            laijapang.value = "besok"
            screen.query_one("#evaluation-save-dates", Button).press()
            await pilot.pause()
            error = shown(screen, "#evaluation-date-laijapang-error")
            assert (
                error == 'The date "besok" cannot be read. Write it like 31-12-2026 or 2026-12-31.'
            )


def test_parse_date_forms() -> None:
    """Day-first with -, / or . and ISO dates parse; other text does not."""
    expected = datetime.date(2026, 12, 31)
    for text in ("31-12-2026", "31/12/2026", "31.12.2026", "2026-12-31", " 31-12-2026 "):
        assert parse_date(text) == expected
    for text in ("2026/12/31", "31-13-2026", "12-31-2026", "", "31 Desember 2026"):
        try:
            parse_date(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} parsed")
