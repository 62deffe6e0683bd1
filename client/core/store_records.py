"""Counseling records kept by the counselor's store: KOPASTA sessions and their evaluations.

A counseling session moves through the five KOPASTA stages (pengantaran, penjajagan,
penafsiran, pembinaan, penilaian). The counselor may move forward or back, and every move
is kept with its time. Each stage has private notes and structured key/value fields.
Consent records, LAISEG / LAIJAPEN / LAIJAPANG evaluations (answers as a JSON object) and
follow-ups with due dates complete the record. An open follow-up can be completed, moved
to another due time, or cancelled (deleted). A consent record keeps the exact text shown
and, since schema version 2, the version of that text the konseli accepted. Since schema
version 3, a session started through the engine also keeps the 16-byte id that the
protocol's session messages carry.

Stages are given as their names (``"penjajagan"``) or as members of an enum whose values
are those names, such as :class:`~.kopasta.Stage`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from konsel.protocol.content import MAX_CONSENT_VERSION_CHARS, SESSION_ID_SIZE

from .errors import RecordNotFound
from .store_base import StoreBase, inserted_id
from .store_connection import serialized
from .store_schema import EVALUATION_KINDS, FOLLOW_UP_KINDS, KOPASTA_STAGES


@dataclass(frozen=True)
class StageChange:
    """One move of a session to a stage, at a time in Unix milliseconds."""

    stage: str
    changed_at: int


@dataclass(frozen=True)
class SessionNote:
    """A private note the counselor wrote during one stage."""

    id: int
    stage: str
    body: str
    created_at: int


@dataclass(frozen=True)
class CounselingSession:
    """One counseling session with its stage history, notes and structured fields."""

    id: int
    contact_id: int
    started_at: int
    ended_at: int | None
    stage: str
    stage_changes: tuple[StageChange, ...]
    notes: tuple[SessionNote, ...]
    fields: dict[str, dict[str, str]]


@dataclass(frozen=True)
class SessionSummary:
    """One counseling session's own row, without its stage history, notes and fields."""

    id: int
    contact_id: int
    started_at: int
    ended_at: int | None
    """Time the session was closed, or None while it is open."""
    stage: str


@dataclass(frozen=True)
class FollowUp:
    """A LAIJAPEN or LAIJAPANG evaluation that is due at ``due_at``."""

    id: int
    session_id: int
    kind: str
    due_at: int
    note: str
    done_at: int | None
    """Time the follow-up was completed, or None while it is open."""

    @property
    def status(self) -> Literal["open", "done"]:
        """``"done"`` once the follow-up is completed, ``"open"`` before."""
        return "open" if self.done_at is None else "done"


class Evaluation(NamedTuple):
    """A stored evaluation. Items 0 and 1 are the kind and answers, as in earlier versions."""

    kind: str
    answers: dict[str, str]
    recorded_at: int
    id: int


_SESSION_COLUMNS = "id, contact_id, started_at, ended_at, stage"
_FOLLOW_UP_COLUMNS = "id, session_id, kind, due_at, note, done_at"

# The rule of the protocol's Consent.text_version, so that the store keeps only versions
# a Consent message could carry.
_TEXT_VERSION = re.compile(f"[A-Za-z0-9._-]{{1,{MAX_CONSENT_VERSION_CHARS}}}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(choices)}")


def _check_text_version(text_version: str) -> None:
    if _TEXT_VERSION.fullmatch(text_version) is None:
        raise ValueError(
            f"consent text version {text_version!r} is invalid; use 1 to "
            f"{MAX_CONSENT_VERSION_CHARS} characters from A-Z a-z 0-9 . _ -"
        )


def _stage_name(stage: str | enum.Enum) -> str:
    name = stage.value if isinstance(stage, enum.Enum) else stage
    if not isinstance(name, str):
        raise ValueError(f"stage {stage!r} has no stage name")
    _check_choice("stage", name, KOPASTA_STAGES)
    return name


class CounselingRecords(StoreBase):
    """Counseling-record operations of the store."""

    @serialized
    def start_session(self, contact_id: int, content_session_id: bytes | None = None) -> int:
        """Start a counseling session at the pengantaran stage and return its id.

        ``content_session_id`` is the 16-byte id of the protocol's session messages for
        this session, stored in the same transaction, or None for a session kept only
        on this device.

        Raises:
            ValueError: ``content_session_id`` is not 16 bytes.
            IntegrityError: (the SQLCipher driver's) another session already has
                ``content_session_id``; nothing is written.
        """
        if content_session_id is not None and len(content_session_id) != SESSION_ID_SIZE:
            raise ValueError(
                f"content session id has {len(content_session_id)} bytes; expected {SESSION_ID_SIZE}"
            )
        now = self._clock()
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO counseling_sessions (contact_id, started_at, stage) VALUES (?, ?, ?)",
                [contact_id, now, KOPASTA_STAGES[0]],
            )
            session_id = inserted_id(cursor)
            self._add_stage_change(session_id, KOPASTA_STAGES[0], now)
            if content_session_id is not None:
                self.db.execute(
                    "INSERT INTO session_content_ids (session_id, content_session_id) "
                    "VALUES (?, ?)",
                    [session_id, content_session_id],
                )
        return session_id

    @serialized
    def find_session_by_content_id(self, content_session_id: bytes) -> SessionSummary | None:
        """Return the session whose protocol session id is ``content_session_id``, or None."""
        row = self.db.execute(
            "SELECT s.id, s.contact_id, s.started_at, s.ended_at, s.stage "
            "FROM session_content_ids AS c JOIN counseling_sessions AS s ON s.id = c.session_id "
            "WHERE c.content_session_id = ?",
            [content_session_id],
        ).fetchone()
        return None if row is None else SessionSummary(*row)

    @serialized
    def content_session_id(self, session_id: int) -> bytes | None:
        """Return the protocol session id of a session, or None for one kept only locally.

        Raises:
            RecordNotFound: no session has the id ``session_id``.
        """
        self._session_row(session_id)
        row = self.db.execute(
            "SELECT content_session_id FROM session_content_ids WHERE session_id = ?",
            [session_id],
        ).fetchone()
        return None if row is None else bytes(row[0])

    @serialized
    def change_stage(self, session_id: int, stage: str | enum.Enum) -> None:
        """Move an open session to a KOPASTA stage, forward or back, and log the move."""
        stage = _stage_name(stage)
        self._open_session(session_id)
        now = self._clock()
        with self._write():
            self.db.execute(
                "UPDATE counseling_sessions SET stage = ? WHERE id = ?", [stage, session_id]
            )
            self._add_stage_change(session_id, stage, now)

    @serialized
    def set_field(self, session_id: int, stage: str | enum.Enum, key: str, value: str) -> None:
        """Set one structured field of a stage, such as the risk level during penjajagan."""
        stage = _stage_name(stage)
        self._session_row(session_id)
        with self._write():
            self.db.execute(
                "INSERT INTO session_fields (session_id, stage, key, value, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, stage, key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [session_id, stage, key, value, self._clock()],
            )

    @serialized
    def add_note(self, session_id: int, stage: str | enum.Enum, body: str) -> int:
        """Add a private note to a stage of a session and return its id."""
        stage = _stage_name(stage)
        self._session_row(session_id)
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO session_notes (session_id, stage, body, created_at) "
                "VALUES (?, ?, ?, ?)",
                [session_id, stage, body, self._clock()],
            )
        return inserted_id(cursor)

    @serialized
    def record_consent(
        self,
        contact_id: int,
        kind: str,
        consent_text: str,
        *,
        granted: bool,
        session_id: int | None = None,
        text_version: str | None = None,
    ) -> int:
        """Record a consent given or refused, with the exact text shown, and return its id.

        ``kind`` names the consent, for example ``online_counseling`` or ``guardian``.
        ``text_version`` is the version of the consent text, as the protocol's Consent
        message carries it, or None when no version is known.

        Raises:
            ValueError: ``text_version`` is not 1 to 32 characters from A-Z a-z 0-9 . _ -.
        """
        if text_version is not None:
            _check_text_version(text_version)
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO consents (contact_id, session_id, kind, consent_text, text_version, "
                "granted, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    contact_id,
                    session_id,
                    kind,
                    consent_text,
                    text_version,
                    int(granted),
                    self._clock(),
                ],
            )
        return inserted_id(cursor)

    @serialized
    def list_consents(self, contact_id: int) -> list[dict[str, Any]]:
        """Return a contact's consent records, oldest first.

        Each record has the keys ``id``, ``session_id``, ``kind``, ``consent_text``,
        ``text_version`` (None for records without a known version), ``granted`` (0 or 1)
        and ``recorded_at``.
        """
        return list(
            self.db.query(
                "SELECT id, session_id, kind, consent_text, text_version, granted, recorded_at "
                "FROM consents WHERE contact_id = ? ORDER BY id",
                [contact_id],
            )
        )

    @serialized
    def store_evaluation(self, session_id: int, kind: str, answers: Mapping[str, str]) -> int:
        """Store a LAISEG, LAIJAPEN or LAIJAPANG evaluation and return its id.

        For LAISEG the answers are usually ``understanding``, ``comfort`` and ``action``.
        """
        _check_choice("evaluation kind", kind, EVALUATION_KINDS)
        self._session_row(session_id)
        document = json.dumps(dict(answers), ensure_ascii=False, sort_keys=True)
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO evaluations (session_id, kind, answers, recorded_at) "
                "VALUES (?, ?, ?, ?)",
                [session_id, kind, document, self._clock()],
            )
        return inserted_id(cursor)

    @serialized
    def list_evaluations(self, session_id: int) -> list[Evaluation]:
        """Return a session's evaluations, oldest first."""
        rows = self.db.execute(
            "SELECT kind, answers, recorded_at, id FROM evaluations WHERE session_id = ? "
            "ORDER BY id",
            [session_id],
        ).fetchall()
        return [Evaluation(row[0], json.loads(row[1]), row[2], row[3]) for row in rows]

    @serialized
    def add_follow_up(self, session_id: int, kind: str, due_at: int, note: str = "") -> int:
        """Schedule a LAIJAPEN or LAIJAPANG evaluation and return its id."""
        _check_choice("follow-up kind", kind, FOLLOW_UP_KINDS)
        self._session_row(session_id)
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO follow_ups (session_id, kind, due_at, note) VALUES (?, ?, ?, ?)",
                [session_id, kind, due_at, note],
            )
        return inserted_id(cursor)

    @serialized
    def due_follow_ups(self, now: int | None = None) -> list[FollowUp]:
        """Return the follow-ups not done yet that are due at ``now`` or earlier, oldest first."""
        moment = self._clock() if now is None else now
        rows = self.db.execute(
            f"SELECT {_FOLLOW_UP_COLUMNS} FROM follow_ups "  # noqa: S608
            "WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id",
            [moment],
        ).fetchall()
        return [FollowUp(*row) for row in rows]

    @serialized
    def list_follow_ups(self, session_id: int) -> list[FollowUp]:
        """Return every follow-up of a session, open and done, by due time.

        Raises:
            RecordNotFound: no session has the id ``session_id``.
        """
        self._session_row(session_id)
        rows = self.db.execute(
            f"SELECT {_FOLLOW_UP_COLUMNS} FROM follow_ups "  # noqa: S608
            "WHERE session_id = ? ORDER BY due_at, id",
            [session_id],
        ).fetchall()
        return [FollowUp(*row) for row in rows]

    @serialized
    def complete_follow_up(self, follow_up_id: int) -> None:
        """Mark an open follow-up as done now.

        Raises:
            RecordNotFound: no open follow-up has the id ``follow_up_id``.
        """
        with self._write():
            cursor = self.db.execute(
                "UPDATE follow_ups SET done_at = ? WHERE id = ? AND done_at IS NULL",
                [self._clock(), follow_up_id],
            )
            if cursor.rowcount == 0:
                raise RecordNotFound("open follow-up", follow_up_id)

    @serialized
    def reschedule_follow_up(self, follow_up_id: int, due_at: int) -> None:
        """Move an open follow-up to a new due time in Unix ms.

        Raises:
            RecordNotFound: no open follow-up has the id ``follow_up_id`` (it does not
                exist or is already done), and nothing is written.
        """
        with self._write():
            cursor = self.db.execute(
                "UPDATE follow_ups SET due_at = ? WHERE id = ? AND done_at IS NULL",
                [due_at, follow_up_id],
            )
            if cursor.rowcount == 0:
                raise RecordNotFound("open follow-up", follow_up_id)

    @serialized
    def cancel_follow_up(self, follow_up_id: int) -> None:
        """Delete an open follow-up, so it is neither due nor listed any more.

        A follow-up that is done stays, because it records an evaluation that took place.

        Raises:
            RecordNotFound: no open follow-up has the id ``follow_up_id``, and nothing
                is deleted.
        """
        with self._write():
            cursor = self.db.execute(
                "DELETE FROM follow_ups WHERE id = ? AND done_at IS NULL", [follow_up_id]
            )
            if cursor.rowcount == 0:
                raise RecordNotFound("open follow-up", follow_up_id)

    @serialized
    def end_session(self, session_id: int) -> None:
        """Close an open session now; its records stay."""
        self._open_session(session_id)
        with self._write():
            self.db.execute(
                "UPDATE counseling_sessions SET ended_at = ? WHERE id = ?",
                [self._clock(), session_id],
            )

    @serialized
    def get_session(self, session_id: int) -> CounselingSession:
        """Return a session with its stage history, notes and fields."""
        row = self._session_row(session_id)
        changes = self.db.execute(
            "SELECT stage, changed_at FROM stage_changes WHERE session_id = ? ORDER BY id",
            [session_id],
        ).fetchall()
        notes = self.db.execute(
            "SELECT id, stage, body, created_at FROM session_notes WHERE session_id = ? "
            "ORDER BY id",
            [session_id],
        ).fetchall()
        fields: dict[str, dict[str, str]] = {}
        for stage, key, value in self.db.execute(
            "SELECT stage, key, value FROM session_fields WHERE session_id = ? ORDER BY stage, key",
            [session_id],
        ).fetchall():
            fields.setdefault(stage, {})[key] = value

        return CounselingSession(
            id=row[0],
            contact_id=row[1],
            started_at=row[2],
            ended_at=row[3],
            stage=row[4],
            stage_changes=tuple(StageChange(*change) for change in changes),
            notes=tuple(SessionNote(*note) for note in notes),
            fields=fields,
        )

    @serialized
    def latest_session_for(self, contact_id: int) -> SessionSummary | None:
        """Return a contact's newest open session, else its newest ended one, else None."""
        row = self.db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM counseling_sessions "  # noqa: S608
            "WHERE contact_id = ? ORDER BY ended_at IS NULL DESC, started_at DESC, id DESC "
            "LIMIT 1",
            [contact_id],
        ).fetchone()
        return None if row is None else SessionSummary(*row)

    @serialized
    def list_sessions(self, started_from_ms: int, started_before_ms: int) -> list[SessionSummary]:
        """Return the sessions that started in ``[started_from_ms, started_before_ms)``.

        The sessions are ordered by start time, then by id.

        Raises:
            ValueError: ``started_before_ms`` is below ``started_from_ms``.
        """
        if started_before_ms < started_from_ms:
            raise ValueError(
                f"range end {started_before_ms} is before its start {started_from_ms}; swap them"
            )
        rows = self.db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM counseling_sessions "  # noqa: S608
            "WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id",
            [started_from_ms, started_before_ms],
        ).fetchall()
        return [SessionSummary(*row) for row in rows]

    def _session_row(self, session_id: int) -> tuple[Any, ...]:
        row = self.db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM counseling_sessions WHERE id = ?",  # noqa: S608
            [session_id],
        ).fetchone()
        if row is None:
            raise RecordNotFound("counseling session", session_id)
        return tuple(row)

    def _open_session(self, session_id: int) -> None:
        if self._session_row(session_id)[3] is not None:
            raise ValueError(f"counseling session {session_id} has ended; start a new one")

    def _add_stage_change(self, session_id: int, stage: str, changed_at: int) -> None:
        self.db.execute(
            "INSERT INTO stage_changes (session_id, stage, changed_at) VALUES (?, ?, ?)",
            [session_id, stage, changed_at],
        )
