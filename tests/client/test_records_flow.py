"""Tests of the counseling content flow against a real relay: sessions, consent, LAISEG."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from engine_helpers import (
    Relay,
    bodies,
    drain,
    new_engine,
    pair,
    relay,
    relays,
    reopen,
    wait_until,
)

from konsel.client.core.content_files import load_consent, load_evaluation_forms
from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ConsentReceived,
    CounselingSessionChanged,
    EngineError,
    EngineErrorEvent,
    EvaluationReceived,
    EvaluationRequested,
    Event,
    EventStream,
)
from konsel.client.core.records_flow import laiseg_questions
from konsel.protocol.content import EvalQuestion, SessionControl, new_message_id

__all__ = ["relay", "relays"]

E = TypeVar("E")


class EventLog:
    """The events of one engine, collected while a test waits for a particular one."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.seen: list[Event] = []

    async def wait_for(self, kind: type[E], match: Callable[[E], bool] = lambda _: True) -> E:
        """Return the first event of ``kind`` that ``match`` accepts, waiting for it."""

        async def arrived() -> bool:
            self.seen.extend(drain(self.stream))
            return any(isinstance(e, kind) and match(e) for e in self.seen)

        await wait_until(arrived, kind.__name__)
        return next(e for e in self.seen if isinstance(e, kind) and match(e))

    def of(self, kind: type[E]) -> list[E]:
        """Return the collected events of ``kind``."""
        self.seen.extend(drain(self.stream))
        return [e for e in self.seen if isinstance(e, kind)]


def _rendered_consent() -> tuple[str, str]:
    """Return the packaged consent text's version and its Indonesian text as shown."""
    consent = load_consent()
    values = {
        "counselor_name": "Bu Sari",
        "school_name": "SMP Negeri 4",
        "retention_period": "3 tahun",
    }
    return consent.version, consent.render("id", values)


async def test_records_round_trip(tmp_path: Path, relay: Relay) -> None:
    """Start, consent, LAISEG request and answers, end: each lands in the counselor's store."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    version, consent_text = _rendered_consent()
    counselor.consent_texts[version] = consent_text
    at_counselor = EventLog(counselor.events())
    at_student = EventLog(student.events())
    try:
        session_id = await counselor.start_counseling_session(on_counselor)
        started = await at_student.wait_for(CounselingSessionChanged)
        assert started.action == "start"
        assert started.contact_id == on_student
        content_id = await counselor.record("content_session_id", session_id)
        assert started.session_id == content_id
        assert len(content_id) == 16

        await student.send_consent(on_student, version, True, "not_needed")
        consent = await at_counselor.wait_for(ConsentReceived)
        assert (consent.contact_id, consent.text_version) == (on_counselor, version)
        assert consent.accepted is True
        assert consent.guardian_consent == "not_needed"
        (stored_consent,) = await counselor.record("list_consents", on_counselor)
        assert stored_consent["id"] == consent.consent_id
        assert stored_consent["kind"] == "online_counseling"
        assert stored_consent["text_version"] == version
        assert stored_consent["consent_text"] == consent_text
        assert stored_consent["granted"] == 1

        await counselor.request_evaluation(session_id, language="id")
        requested = await at_student.wait_for(EvaluationRequested)
        assert requested.session_id == content_id
        form = load_evaluation_forms().laiseg
        assert [q.key for q in requested.questions] == [f.key for f in form.fields]
        assert requested.questions[0].prompt == form.fields[0].label.id

        # The link between the two session ids is in the store, not only in memory.
        counselor = await reopen(counselor)
        at_counselor = EventLog(counselor.events())
        await student.answer_evaluation(
            on_student,
            requested.session_id,
            understanding="Diam saja tidak membuat masalah selesai.",
            comfort="Lebih lega dari tadi.",
            action="Belajar bareng Rani hari Senin.",
            ratings={"rating_feeling": 4, "rating_action": 5},
        )
        received = await at_counselor.wait_for(EvaluationReceived)
        expected = {
            "understanding": "Diam saja tidak membuat masalah selesai.",
            "comfort": "Lebih lega dari tadi.",
            "action": "Belajar bareng Rani hari Senin.",
            "rating_feeling": "4",
            "rating_action": "5",
        }
        assert (received.contact_id, received.session_id) == (on_counselor, session_id)
        assert received.answers == expected
        (evaluation,) = await counselor.record("list_evaluations", session_id)
        assert (evaluation.kind, evaluation.answers) == ("laiseg", expected)
        assert evaluation.id == received.evaluation_id

        await counselor.end_counseling_session(session_id)
        ended = await at_student.wait_for(CounselingSessionChanged, lambda e: e.action == "end")
        assert ended.session_id == content_id
        assert (await counselor.record("get_session", session_id)).ended_at is not None
        assert at_counselor.of(EngineErrorEvent) == []
        assert at_student.of(EngineErrorEvent) == []
    finally:
        await counselor.close()
        await student.close()


async def test_records_unknown_session(tmp_path: Path, relay: Relay) -> None:
    """Answers for a session id the counselor never gave this konseli are not stored."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    other = await new_engine(tmp_path / "siswa2", "Rani", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    _, other_on_student = await pair(counselor, other)
    at_counselor = EventLog(counselor.events())
    try:
        session_id = await counselor.start_counseling_session(on_counselor)
        content_id = await counselor.record("content_session_id", session_id)
        answers: dict[str, Any] = {
            "understanding": "Saya paham.",
            "comfort": "Biasa saja.",
            "action": "Tidak ada.",
        }
        await student.answer_evaluation(on_student, os.urandom(16), **answers)
        unmatched = await at_counselor.wait_for(EngineErrorEvent)
        assert unmatched.code == "evaluation_unmatched"

        # Another konseli naming this konseli's session is rejected the same way.
        await other.answer_evaluation(other_on_student, content_id, **answers)

        async def two_errors() -> bool:
            return len(at_counselor.of(EngineErrorEvent)) == 2

        await wait_until(two_errors, "the second rejected evaluation")
        assert [e.code for e in at_counselor.of(EngineErrorEvent)] == ["evaluation_unmatched"] * 2
        assert await counselor.record("list_evaluations", session_id) == []
        assert at_counselor.of(EvaluationReceived) == []

        # The ratchet session moved on, so the conversation continues.
        await student.send_text(on_student, "Bu, maaf tadi salah kirim.")

        async def text_arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == ["Bu, maaf tadi salah kirim."]

        await wait_until(text_arrived, "the text after the rejected answers")
    finally:
        await counselor.close()
        await student.close()
        await other.close()


async def test_records_request_errors(tmp_path: Path, relay: Relay) -> None:
    """Requests from the wrong role or for a missing or ended session fail with a code."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        calls: list[tuple[Engine, str, tuple[Any, ...], str]] = [
            (student, "start_counseling_session", (on_student,), "wrong_role"),
            (counselor, "send_consent", (on_counselor, "1", True, "given"), "wrong_role"),
            (counselor, "end_counseling_session", (999,), "session_not_found"),
            (counselor, "request_evaluation", (999,), "session_not_found"),
            (counselor, "start_counseling_session", (999,), "contact_not_found"),
            (student, "send_consent", (on_student, "versi 1", True, "given"), "message_invalid"),
        ]
        for engine, method, args, code in calls:
            with pytest.raises(EngineError) as raised:
                await getattr(engine, method)(*args)
            assert raised.value.code == code, (method, args)

        session_id = await counselor.start_counseling_session(on_counselor)
        too_many = [EvalQuestion(f"q{number}", "Bagaimana?") for number in range(17)]
        with pytest.raises(EngineError) as raised:
            await counselor.request_evaluation(session_id, too_many)
        assert raised.value.code == "message_invalid"

        await counselor.end_counseling_session(session_id)
        with pytest.raises(EngineError) as raised:
            await counselor.end_counseling_session(session_id)
        assert raised.value.code == "session_ended"
        with pytest.raises(EngineError) as raised:
            await counselor.request_evaluation(session_id)
        assert raised.value.code == "session_ended"

        local = await counselor.record("start_session", on_counselor)
        with pytest.raises(EngineError) as raised:
            await counselor.request_evaluation(local)
        assert raised.value.code == "session_not_found"
        await counselor.end_counseling_session(local)
        assert (await counselor.record("get_session", local)).ended_at is not None
    finally:
        await counselor.close()
        await student.close()


async def test_records_unexpected_content(tmp_path: Path, relay: Relay) -> None:
    """A session message from a konseli is ignored with an error, and the chat goes on."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    at_counselor = EventLog(counselor.events())
    try:
        async with student.lock:
            seq = await student.next_seq(on_student)
            forged = SessionControl(new_message_id(), seq, student.clock(), "start", os.urandom(16))
            await student.queue_control(on_student, forged)
        unexpected = await at_counselor.wait_for(EngineErrorEvent)
        assert (unexpected.code, unexpected.detail) == ("content_unexpected", "session")
        assert await counselor.record("list_sessions", 0, 2**62) == []

        await student.send_text(on_student, "Bu, saya mau tanya.")

        async def text_arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == ["Bu, saya mau tanya."]

        await wait_until(text_arrived, "the text after the ignored message")
    finally:
        await counselor.close()
        await student.close()


def test_records_laiseg_questions() -> None:
    """The LAISEG form becomes one question per field, in the chosen language."""
    form = load_evaluation_forms().laiseg
    english = laiseg_questions(form, "en")
    assert [q.key for q in english] == [f.key for f in form.fields]
    assert [q.prompt for q in english] == [f.label.en for f in form.fields]
    assert laiseg_questions(form, "id")[0].prompt == form.fields[0].label.id


async def test_latest_session_prefers_an_open_one(tmp_path: Path, relay: Relay) -> None:
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    try:
        on_counselor, _ = await pair(counselor, student)
        assert await counselor.record("latest_session_for", on_counselor) is None

        first = await counselor.start_counseling_session(on_counselor)
        await counselor.end_counseling_session(first)
        assert (await counselor.record("latest_session_for", on_counselor)).id == first

        second = await counselor.start_counseling_session(on_counselor)
        assert (await counselor.record("latest_session_for", on_counselor)).id == second
        await counselor.end_counseling_session(second)
        assert (await counselor.record("latest_session_for", on_counselor)).id == second
    finally:
        await counselor.close()
        await student.close()
