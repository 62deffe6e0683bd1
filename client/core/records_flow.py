"""Counseling sessions, consent and LAISEG evaluations exchanged as content messages.

The counselor's store keeps the counseling record; the konseli's client keeps none and
only shows what arrives. The messages flow like this, with C the counselor and K the
konseli:

* C starts a session (``session`` with action ``start`` and a random 16-byte session
  id). The store session and the link between the two ids are written in the same
  worker call as the queued message.
* K answers the consent text (``consent``). C records it with the text's version.
* C requests the LAISEG evaluation (``eval_request`` with the form's questions in C's
  language), and K answers (``eval_answers``). C stores the answers with the session
  that the session id names, and rejects answers for a session it does not know.
* C ends the session (``session`` with action ``end``).

Content that does not fit the receiver's role (a counselor receiving an evaluation
request, for example) advances the ratchet session and is otherwise ignored with a
``content_unexpected`` error event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from konsel.protocol.content import (
    SESSION_ID_SIZE,
    Consent,
    EvalAnswers,
    EvalQuestion,
    EvalRating,
    EvalRequest,
    GuardianConsent,
    SessionControl,
    new_message_id,
)
from konsel.protocol.errors import InvalidContentError

from .content_files import EVALUATION_FILE, default_override_folder, load_evaluation_forms
from .engine_state import commit_state
from .errors import RecordNotFound
from .events import (
    ConsentReceived,
    CounselingSessionChanged,
    EngineError,
    EngineErrorEvent,
    EvaluationReceived,
    EvaluationRequested,
)
from .kopasta import EvaluationForm, Language
from .store_records import CounselingSession, FollowUp

if TYPE_CHECKING:
    from konsel.protocol.session import Session

    from .engine import Engine

logger = logging.getLogger("konsel.client.records_flow")

CONSENT_KIND = "online_counseling"
"""The kind of consent record a ``consent`` message becomes in the counselor's store."""

CounselingContent = SessionControl | Consent | EvalRequest | EvalAnswers


class CounselingApi:
    """The engine's counseling-record requests; :class:`~.engine.Engine` inherits them."""

    # --- the counselor's side ------------------------------------------------------------

    async def start_counseling_session(self, contact_id: int) -> int:
        """Start a counseling session with a konseli and tell the konseli; return its id.

        Raises:
            EngineError: ``wrong_role``, ``contact_not_found``, ``contact_pending`` or
                ``message_too_large``.
        """
        engine = _as_engine(self)
        _require_role(engine, "counselor")
        content_session_id = secrets.token_bytes(SESSION_ID_SIZE)
        start = functools.partial(SessionControl, action="start", session_id=content_session_id)

        def create() -> int:
            return engine.store.start_session(contact_id, content_session_id)

        session_id: int = await _send(engine, contact_id, start, effect=create)
        return session_id

    async def end_counseling_session(self, session_id: int) -> None:
        """End an open counseling session, and tell the konseli if it has a protocol id.

        A session started with the store alone (``record("start_session", ...)``) has no
        protocol id, so it ends on this device only.

        Raises:
            EngineError: ``wrong_role``, ``session_not_found``, ``session_ended``,
                ``contact_not_found`` or ``contact_pending``.
        """
        engine = _as_engine(self)
        _require_role(engine, "counselor")
        session, content_session_id = await _open_session(engine, session_id)

        def end() -> None:
            engine.store.end_session(session_id)

        if content_session_id is None:
            await asyncio.to_thread(end)
            return
        stop = functools.partial(SessionControl, action="end", session_id=content_session_id)
        await _send(engine, session.contact_id, stop, effect=end)

    async def request_evaluation(
        self,
        session_id: int,
        questions: Sequence[EvalQuestion] | None = None,
        *,
        language: Language = "id",
    ) -> None:
        """Ask the konseli of an open session to answer the LAISEG evaluation.

        Args:
            questions: the questions to send; by default the LAISEG form's fields in
                ``language``, from the school's copy of laiseg.toml if there is one.

        Raises:
            EngineError: ``wrong_role``, ``session_not_found``, ``session_ended``,
                ``message_invalid`` (for example more than 16 questions),
                ``contact_not_found`` or ``contact_pending``.
            ContentFileError: the school's copy of laiseg.toml is invalid.
        """
        engine = _as_engine(self)
        _require_role(engine, "counselor")
        session, content_session_id = await _open_session(engine, session_id)
        if content_session_id is None:
            raise EngineError(
                "session_not_found",
                f"session {session_id} has no protocol id; start it with start_counseling_session",
            )
        if questions is None:
            form = await asyncio.to_thread(_load_laiseg_form)
            questions = laiseg_questions(form, language)
        request = functools.partial(
            EvalRequest, session_id=content_session_id, questions=tuple(questions)
        )
        await _send(engine, session.contact_id, request)

    # --- the konseli's side --------------------------------------------------------------

    async def send_consent(
        self,
        contact_id: int,
        text_version: str,
        accepted: bool,
        guardian_consent: GuardianConsent,
    ) -> None:
        """Send the konseli's answer to a version of the consent text to the counselor.

        Raises:
            EngineError: ``wrong_role``, ``message_invalid`` (an invalid version),
                ``contact_not_found`` or ``contact_pending``.
        """
        engine = _as_engine(self)
        _require_role(engine, "student")
        consent = functools.partial(
            Consent,
            text_version=text_version,
            accepted=accepted,
            guardian_consent=guardian_consent,
        )
        await _send(engine, contact_id, consent)

    async def answer_evaluation(
        self,
        contact_id: int,
        session_id: bytes,
        *,
        understanding: str,
        comfort: str,
        action: str,
        comment: str | None = None,
        ratings: Mapping[str, int] | None = None,
    ) -> None:
        """Send the konseli's LAISEG answers for the session an evaluation request named.

        Args:
            session_id: the protocol session id of :class:`~.events.EvaluationRequested`.
            ratings: question key to a score from 1 to 5, for the rating questions.

        Raises:
            EngineError: ``wrong_role``, ``message_invalid`` (such as a score outside
                1 to 5), ``contact_not_found`` or ``contact_pending``.
        """
        engine = _as_engine(self)
        _require_role(engine, "student")
        scores = tuple(EvalRating(key, score) for key, score in (ratings or {}).items())
        answers = functools.partial(
            EvalAnswers,
            session_id=session_id,
            understanding=understanding,
            comfort=comfort,
            action=action,
            comment=comment,
            ratings=scores,
        )
        await _send(engine, contact_id, answers)

    # --- the store's records -------------------------------------------------------------

    async def record(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Run one counseling record operation of the store (for example ``start_session``)."""
        engine = _as_engine(self)
        if operation not in _RECORD_OPERATIONS:
            raise ValueError(f"{operation!r} is not a counseling record operation")
        method = getattr(engine.store, operation)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def due_follow_ups(self, now: int | None = None) -> list[FollowUp]:
        """Return follow-ups whose due time has passed and that are not done."""
        engine = _as_engine(self)
        return await asyncio.to_thread(engine.store.due_follow_ups, now)


_RECORD_OPERATIONS = frozenset(
    {
        "start_session",
        "change_stage",
        "set_field",
        "add_note",
        "record_consent",
        "list_consents",
        "store_evaluation",
        "list_evaluations",
        "add_follow_up",
        "list_follow_ups",
        "complete_follow_up",
        "reschedule_follow_up",
        "cancel_follow_up",
        "end_session",
        "get_session",
        "list_sessions",
        "latest_session_for",
        "content_session_id",
        "find_session_by_content_id",
    }
)


def laiseg_questions(form: EvaluationForm, language: Language) -> tuple[EvalQuestion, ...]:
    """Return the fields of a LAISEG form as evaluation questions in ``language``."""
    return tuple(
        EvalQuestion(field.key, field.label.in_language(language)) for field in form.fields
    )


def _load_laiseg_form() -> EvaluationForm:
    override = default_override_folder() / EVALUATION_FILE
    return load_evaluation_forms(override if override.is_file() else None).laiseg


def _as_engine(api: CounselingApi) -> Engine:
    # CounselingApi is a mixin of Engine alone, so every instance is an Engine.
    return cast("Engine", api)


def _require_role(engine: Engine, role: str) -> None:
    if engine.state.role != role:
        raise EngineError("wrong_role", f"only a {role} sends this")


async def _open_session(engine: Engine, session_id: int) -> tuple[CounselingSession, bytes | None]:
    """Return an open store session with its protocol id (None for a local session)."""

    def read() -> tuple[CounselingSession, bytes | None]:
        return engine.store.get_session(session_id), engine.store.content_session_id(session_id)

    try:
        session, content_session_id = await asyncio.to_thread(read)
    except RecordNotFound:
        raise EngineError("session_not_found", f"session {session_id}") from None
    if session.ended_at is not None:
        raise EngineError("session_ended", f"session {session_id}")
    return session, content_session_id


async def _send(
    engine: Engine,
    contact_id: int,
    build: Callable[[bytes, int, int], CounselingContent],
    *,
    effect: Callable[[], Any] | None = None,
) -> Any:
    """Build a content message with the next header and queue it for the contact.

    ``build`` takes the message id, ``seq`` and ``sent_at``. ``effect`` is a store write
    committed in the same worker call; its result is returned.
    """
    route = engine.state.routes.get(contact_id)
    if route is None:
        raise EngineError("contact_not_found", f"contact {contact_id}")
    if not route.accepted:
        raise EngineError("contact_pending", f"contact {contact_id}")

    async with engine.lock:
        if await engine.session(contact_id) is None:
            raise EngineError("contact_not_found", f"no session with contact {contact_id}")
        seq = await engine.next_seq(contact_id)
        try:
            content = build(new_message_id(), seq, engine.clock())
        except InvalidContentError as error:
            engine.release_seq(contact_id, seq)
            raise EngineError("message_invalid", str(error)) from None
        return await engine.queue_control(contact_id, content, effect=effect)


# --- receiving ---------------------------------------------------------------------------


async def apply_counseling_content(
    engine: Engine, contact_id: int, content: CounselingContent, session: Session
) -> None:
    """Commit the ratchet session after one counseling content message, with its effect.

    Call with :attr:`Engine.lock` held. The record and the session are written in one
    worker call, and the event is emitted right after, even if the caller is cancelled.
    """
    counselor = engine.state.role == "counselor"
    if counselor and isinstance(content, Consent):
        await _record_consent(engine, contact_id, content, session)
    elif counselor and isinstance(content, EvalAnswers):
        await _store_answers(engine, contact_id, content, session)
    elif not counselor and isinstance(content, SessionControl):
        changed = CounselingSessionChanged(contact_id, content.action, content.session_id)
        await commit_state(engine, session=(contact_id, session), then=_emit(engine, changed))
    elif not counselor and isinstance(content, EvalRequest):
        requested = EvaluationRequested(contact_id, content.session_id, content.questions)
        await commit_state(engine, session=(contact_id, session), then=_emit(engine, requested))
    else:
        logger.warning("ignored %s content from contact %d", content.TAG, contact_id)
        unexpected = EngineErrorEvent("content_unexpected", content.TAG)
        await commit_state(engine, session=(contact_id, session), then=_emit(engine, unexpected))


def _emit(engine: Engine, event: Any) -> Callable[[object], None]:
    def emit(result: object) -> None:
        del result
        engine.emit(event)

    return emit


async def _record_consent(
    engine: Engine, contact_id: int, consent: Consent, session: Session
) -> None:
    # NOTE: the message carries only the version. Without a text of that version in
    # Engine.consent_texts, the record keeps an empty text next to the version.
    text = engine.consent_texts.get(consent.text_version, "")

    def record() -> int:
        return engine.store.record_consent(
            contact_id,
            CONSENT_KIND,
            text,
            granted=consent.accepted,
            text_version=consent.text_version,
        )

    def emit(consent_id: int) -> None:
        engine.emit(
            ConsentReceived(
                contact_id,
                consent_id,
                consent.text_version,
                consent.accepted,
                consent.guardian_consent,
            )
        )

    await commit_state(engine, session=(contact_id, session), effect=record, then=emit)


async def _store_answers(
    engine: Engine, contact_id: int, answers: EvalAnswers, session: Session
) -> None:
    found = await asyncio.to_thread(engine.store.find_session_by_content_id, answers.session_id)
    if found is None or found.contact_id != contact_id:
        logger.warning("evaluation answers from contact %d name an unknown session", contact_id)
        unmatched = EngineErrorEvent("evaluation_unmatched", f"contact {contact_id}")
        await commit_state(engine, session=(contact_id, session), then=_emit(engine, unmatched))
        return

    stored = _answer_fields(answers)

    def store() -> int:
        return engine.store.store_evaluation(found.id, "laiseg", stored)

    def emit(evaluation_id: int) -> None:
        engine.emit(EvaluationReceived(contact_id, found.id, evaluation_id, stored))

    await commit_state(engine, session=(contact_id, session), effect=store, then=emit)


def _answer_fields(answers: EvalAnswers) -> dict[str, str]:
    """Return the answers as the store keeps LAISEG: question key to text, scores as text."""
    fields = {
        "understanding": answers.understanding,
        "comfort": answers.comfort,
        "action": answers.action,
    }
    if answers.comment is not None:
        fields["comment"] = answers.comment
    for rating in answers.ratings:
        # A rating key equal to a text answer's key would overwrite it; the text wins.
        fields.setdefault(rating.key, str(rating.score))
    return fields
