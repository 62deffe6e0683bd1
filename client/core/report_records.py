"""Collect a counseling session's records from the store for a report.

:func:`collect_session` reads one session with its contact, consents, evaluations and
follow-ups into a :class:`SessionRecord`, with every time already converted to the
report's time zone, so the Markdown and JSON writers format the same facts.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from .kopasta import EvaluationForms, KopastaGuide, Language, RecordField, Stage, StageGuide
from .store import Store
from .store_records import CounselingSession


@dataclass(frozen=True)
class StageVisit:
    """One stretch of time a session spent in a stage, from one stage change to the next."""

    stage: Stage
    started_at: datetime.datetime
    ended_at: datetime.datetime | None
    """Time of the next stage change or of the session's end, or None while the session is open."""

    @property
    def duration_ms(self) -> int | None:
        """Length of the visit in milliseconds, or None while it lasts."""
        return None if self.ended_at is None else _milliseconds(self.ended_at - self.started_at)


@dataclass(frozen=True)
class FieldEntry:
    """One structured field of a stage with its stored value."""

    key: str
    definition: RecordField | None
    """The field as kopasta.toml defines it, or None for a key the file does not list."""
    value: str | None
    """The stored text, or None when the counselor has not filled the field."""


@dataclass(frozen=True)
class NoteEntry:
    """A private note the counselor wrote during a stage."""

    created_at: datetime.datetime
    text: str


@dataclass(frozen=True)
class StageRecord:
    """Everything recorded for one KOPASTA stage of a session."""

    guide: StageGuide
    visits: tuple[StageVisit, ...]
    fields: tuple[FieldEntry, ...]
    notes: tuple[NoteEntry, ...]

    @property
    def stage(self) -> Stage:
        """The stage this record belongs to."""
        return self.guide.stage

    @property
    def first_started_at(self) -> datetime.datetime | None:
        """Time the session first entered the stage, or None if it never did."""
        return self.visits[0].started_at if self.visits else None

    @property
    def duration_ms(self) -> int | None:
        """Total time of all visits in milliseconds, or None if never entered or still running."""
        durations = [visit.duration_ms for visit in self.visits]
        if not durations or None in durations:
            return None
        return sum(duration for duration in durations if duration is not None)

    def field_value(self, key: str) -> str | None:
        """Return the stored value of field ``key``, or None when it is not filled."""
        for entry in self.fields:
            if entry.key == key:
                return entry.value
        return None


@dataclass(frozen=True)
class ConsentEntry:
    """A consent given or refused, as the store recorded it."""

    kind: str
    text: str
    """The consent text exactly as the client recorded it."""
    text_version: str | None
    """Version of the consent text the konseli accepted, or None when it was not recorded."""
    granted: bool
    recorded_at: datetime.datetime


@dataclass(frozen=True)
class FollowUpEntry:
    """A scheduled LAIJAPEN or LAIJAPANG evaluation."""

    kind: str
    due_at: datetime.datetime
    done_at: datetime.datetime | None
    note: str


@dataclass(frozen=True)
class EvaluationEntry:
    """A stored LAISEG, LAIJAPEN or LAIJAPANG evaluation and its answers."""

    kind: str
    answers: dict[str, Any]
    recorded_at: datetime.datetime


@dataclass(frozen=True)
class SessionRecord:
    """One counseling session with every record the report shows, times in the report zone."""

    session_id: int
    contact_id: int
    display_name: str
    """The konseli's name as the counselor saved the contact."""
    identity_verified: bool
    """Whether the counselor compared the konseli's safety code."""
    counselor_name: str | None
    started_at: datetime.datetime
    ended_at: datetime.datetime | None
    current_stage: Stage
    history: tuple[StageVisit, ...]
    stages: tuple[StageRecord, ...]
    consents: tuple[ConsentEntry, ...]
    evaluations: tuple[EvaluationEntry, ...]
    follow_ups: tuple[FollowUpEntry, ...]

    @property
    def duration_ms(self) -> int | None:
        """Length of the session in milliseconds, or None while it is open."""
        return None if self.ended_at is None else _milliseconds(self.ended_at - self.started_at)

    def stage_record(self, stage: Stage) -> StageRecord:
        """Return the record of ``stage``."""
        return self.stages[stage.number - 1]

    def latest_evaluation(self, kind: str) -> EvaluationEntry | None:
        """Return the newest evaluation of ``kind``, or None if there is none."""
        matching = [evaluation for evaluation in self.evaluations if evaluation.kind == kind]
        return matching[-1] if matching else None


@dataclass(frozen=True)
class ReportContext:
    """The settings one export renders with."""

    language: Language
    time_zone: zoneinfo.ZoneInfo
    guide: KopastaGuide
    forms: EvaluationForms
    range_start: datetime.datetime | None = None
    """Start of the exported range ``[range_start, range_end)``, or None for one session."""
    range_end: datetime.datetime | None = None
    """End of the exported range, or None for one session."""


_TRUE_WORDS = frozenset({"true", "1", "yes", "ya"})
_FALSE_WORDS = frozenset({"false", "0", "no", "tidak"})


def parse_bool(value: str) -> bool | None:
    """Read a stored yes/no field ("true", "1", "ya", ...), or return None if it is neither."""
    word = value.strip().casefold()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


def minutes(duration_ms: int) -> int:
    """Round a duration in milliseconds to whole minutes, halves up."""
    return (duration_ms + 30_000) // 60_000


def unix_ms(moment: datetime.datetime) -> int:
    """Return an aware time as Unix milliseconds, the unit the store keeps times in."""
    return _milliseconds(moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC))


def _milliseconds(delta: datetime.timedelta) -> int:
    return delta // datetime.timedelta(milliseconds=1)


def _zoned(moment_ms: int, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(moment_ms / 1000, tz=datetime.UTC).astimezone(zone)


# ---------------------------------------------------------------------------------------
# Reading the records


def sessions_started_between(store: Store, start_ms: int, end_ms: int) -> list[int]:
    """Return the ids of the sessions that started in ``[start_ms, end_ms)``, oldest first."""
    return [session.id for session in store.list_sessions(start_ms, end_ms)]


def collect_session(
    store: Store, session_id: int, context: ReportContext, counselor_name: str | None
) -> SessionRecord:
    """Read one session and everything the report shows about it.

    Raises:
        RecordNotFound: no session has the id ``session_id``.
    """
    zone = context.time_zone
    session = store.get_session(session_id)
    contact = store.get_contact(session.contact_id)

    history = _stage_visits(session, zone)
    stages = tuple(_stage_record(guide, session, history, zone) for guide in context.guide.stages)
    consents = tuple(
        ConsentEntry(
            kind=row["kind"],
            text=row["consent_text"],
            text_version=row["text_version"],
            granted=bool(row["granted"]),
            recorded_at=_zoned(row["recorded_at"], zone),
        )
        for row in store.list_consents(session.contact_id)
        if _consent_applies(row, session)
    )
    evaluations = tuple(
        EvaluationEntry(
            kind=evaluation.kind,
            answers=evaluation.answers,
            recorded_at=_zoned(evaluation.recorded_at, zone),
        )
        for evaluation in store.list_evaluations(session_id)
    )
    follow_ups = tuple(
        FollowUpEntry(
            kind=follow_up.kind,
            due_at=_zoned(follow_up.due_at, zone),
            done_at=None if follow_up.done_at is None else _zoned(follow_up.done_at, zone),
            note=follow_up.note,
        )
        for follow_up in store.list_follow_ups(session_id)
    )

    return SessionRecord(
        session_id=session.id,
        contact_id=contact.id,
        display_name=contact.display_name,
        identity_verified=contact.verified,
        counselor_name=counselor_name,
        started_at=_zoned(session.started_at, zone),
        ended_at=None if session.ended_at is None else _zoned(session.ended_at, zone),
        current_stage=Stage(session.stage),
        history=history,
        stages=stages,
        consents=consents,
        evaluations=evaluations,
        follow_ups=follow_ups,
    )


def _consent_applies(row: dict[str, Any], session: CounselingSession) -> bool:
    """Return whether a consent record belongs in this session's report.

    A record made for this session applies. So does one made for no session in particular
    (consent is usually given once, before the first session) if it was recorded before
    the session ended. Records made for other sessions do not apply.
    """
    if row["session_id"] is not None:
        return bool(row["session_id"] == session.id)
    return session.ended_at is None or row["recorded_at"] <= session.ended_at


def _stage_visits(session: CounselingSession, zone: zoneinfo.ZoneInfo) -> tuple[StageVisit, ...]:
    """Turn the stage changes into visits, each ending where the next change starts."""
    visits: list[StageVisit] = []
    changes = session.stage_changes
    for position, change in enumerate(changes):
        if position + 1 < len(changes):
            ended_at: int | None = changes[position + 1].changed_at
        else:
            ended_at = session.ended_at
        visits.append(
            StageVisit(
                stage=Stage(change.stage),
                started_at=_zoned(change.changed_at, zone),
                ended_at=None if ended_at is None else _zoned(ended_at, zone),
            )
        )
    return tuple(visits)


def _stage_record(
    guide: StageGuide,
    session: CounselingSession,
    history: tuple[StageVisit, ...],
    zone: zoneinfo.ZoneInfo,
) -> StageRecord:
    stored = session.fields.get(guide.stage.value, {})

    # Fields in the order the guide lists them, then keys the guide does not know, so a
    # value saved under an old or misspelled key still reaches the report.
    fields = [
        FieldEntry(definition.key, definition, stored.get(definition.key) or None)
        for definition in guide.fields
    ]
    known = {definition.key for definition in guide.fields}
    fields += [
        FieldEntry(key, None, value or None)
        for key, value in sorted(stored.items())
        if key not in known
    ]

    notes = tuple(
        NoteEntry(_zoned(note.created_at, zone), note.body)
        for note in session.notes
        if note.stage == guide.stage.value
    )
    return StageRecord(
        guide=guide,
        visits=tuple(visit for visit in history if visit.stage is guide.stage),
        fields=tuple(fields),
        notes=notes,
    )
