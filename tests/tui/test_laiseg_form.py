"""Tests of the konseli's LAISEG form: validation and a round trip to the counselor's records."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeVar

from engine_helpers import Relay, new_engine, pair
from pairing_host import ScreenHost, click_button, shown, wait_for_text
from textual.widgets import Select, TextArea

from konsel.client.core.content_files import load_evaluation_forms
from konsel.client.core.engine import Engine
from konsel.client.core.events import EvaluationReceived, EvaluationRequested, EventStream
from konsel.client.tui import catalog
from konsel.client.tui.screens.laiseg_form import LaisegFormScreen
from konsel.client.tui.screens.laiseg_questions import answers_for_engine, form_questions
from konsel.protocol.content import MAX_EVAL_ANSWER_CHARS, EvalQuestion

SIZE = (80, 24)
E = TypeVar("E")


async def next_event(stream: EventStream, kind: type[E]) -> E:
    """Return the next event of ``kind``; fail after 20 s."""
    async with asyncio.timeout(20):
        while True:
            event = await anext(stream)
            if isinstance(event, kind):
                return event


async def requested(
    tmp_path: Path, relay: Relay
) -> tuple[Engine, Engine, int, EvaluationRequested]:
    """Pair, start a session and request the LAISEG; return the konseli's request event."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, _ = await pair(counselor, student)
    stream = student.events()
    session_id = await counselor.start_counseling_session(on_counselor)
    await counselor.request_evaluation(session_id, language="id")
    event = await next_event(stream, EvaluationRequested)
    stream.close()
    return counselor, student, session_id, event


async def test_laiseg_round_trip(tmp_path: Path, tui_relay: Relay) -> None:
    """Typed answers and a chosen rating land in the counselor's records."""
    counselor, student, session_id, event = await requested(tmp_path, tui_relay)
    stream = counselor.events()
    try:
        screen = LaisegFormScreen(student, event)
        app = ScreenHost(screen)
        async with app.run_test(size=SIZE) as pilot:
            title = await wait_for_text(screen, "#title", bool, "the form title")
            assert title == load_evaluation_forms().laiseg.title.id
            answers = {
                "understanding": "Aku paham kenapa aku cemas.",
                "comfort": "Lebih lega.",
                "action": "Bicara dengan Ibu malam ini.",
            }
            for key, text in answers.items():
                screen.query_one(f"#answer-{key}", TextArea).focus()
                await pilot.press(*text)

            rating = screen.query_one("#answer-rating_feeling", Select)
            rating.focus()
            await pilot.press("enter", "down", "down", "down", "down", "enter")
            assert rating.value == 4

            await click_button(pilot, screen, "#submit")
            await wait_for_text(screen, "#status", lambda s: "Terima kasih" in s, "thanks")
            received = await next_event(stream, EvaluationReceived)
            await click_button(pilot, screen, "#close")
            await pilot.pause()

        assert app.results == [True]
        assert received.session_id == session_id
        assert received.answers == {**answers, "rating_feeling": "4"}
        (stored,) = await counselor.record("list_evaluations", session_id)
        assert stored.kind == "laiseg"
        assert stored.answers == received.answers
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_laiseg_names_missing_answers(tmp_path: Path, tui_relay: Relay) -> None:
    """Empty required answers are named by number in Indonesian and in English."""
    counselor, student, _, event = await requested(tmp_path, tui_relay)
    try:
        screen = LaisegFormScreen(student, event)
        async with ScreenHost(screen).run_test(size=SIZE) as pilot:
            await wait_for_text(screen, "#title", bool, "the form title")
            await click_button(pilot, screen, "#submit")
            assert shown(screen, "#status") == (
                "Pertanyaan nomor 1, 2, 3 belum dijawab. Isi jawabannya, lalu kirim lagi."
            )

            screen.query_one("#answer-comfort", TextArea).focus()
            await pilot.press(*"Lega.")
            await click_button(pilot, screen, "#submit")
            assert shown(screen, "#status").startswith("Pertanyaan nomor 1, 3 belum dijawab.")

        catalog.use("en")
        english = LaisegFormScreen(student, event)
        async with ScreenHost(english).run_test(size=SIZE) as pilot:
            await wait_for_text(english, "#title", bool, "the form title")
            english.query_one("#answer-understanding", TextArea).text = "x" * (
                MAX_EVAL_ANSWER_CHARS + 1
            )
            await click_button(pilot, english, "#submit")
            assert shown(english, "#status") == (
                f"The answer to question 1 is too long: {MAX_EVAL_ANSWER_CHARS + 1} characters, "
                f"at most {MAX_EVAL_ANSWER_CHARS}. Shorten it, then send again."
            )
            english.query_one("#answer-understanding", TextArea).text = ""
            await click_button(pilot, english, "#submit")
            assert shown(english, "#status") == (
                "Questions not answered yet: 1, 2, 3. Fill in the answers, then send again."
            )
        assert await counselor.record("list_evaluations", 1) == []
    finally:
        await counselor.close()
        await student.close()


def test_laiseg_unknown_keys_fold() -> None:
    """Unknown keys are ratings unless EvalAnswers has a text field of that name.

    An extra text question goes into the comment after its prompt.
    """
    forms = load_evaluation_forms()
    questions = form_questions(
        (
            EvalQuestion("understanding", "Apa yang kamu pahami?"),
            EvalQuestion("comment", "Ada lagi?"),
            EvalQuestion("rating_new", "Aku merasa didengar."),
        ),
        forms,
    )
    assert [(q.number, q.rating, q.optional) for q in questions] == [
        (1, False, False),
        (2, False, True),
        (3, True, True),
    ]

    school_question = questions[0].__class__(4, "school_extra", "Pesan untuk sekolah?", False, True)
    answers = answers_for_engine(
        (*questions, school_question),
        {"understanding": "Paham.", "comment": "Terima kasih.", "school_extra": "Tidak ada."},
        {"rating_new": 5},
    )
    assert answers.understanding == "Paham."
    assert answers.comfort == ""
    assert answers.comment == "Terima kasih.\n\nPesan untuk sekolah?\nTidak ada."
    assert answers.ratings == {"rating_new": 5}
