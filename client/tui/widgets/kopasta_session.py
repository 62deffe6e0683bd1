"""Read and write the counseling records that the KOPASTA panel and its screens show.

Everything goes through the engine's records API (:meth:`Engine.record`), so every store
call runs in a worker thread. This module holds no widget: the panel and its screens call
these helpers from their async workers.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from textual.widget import Widget

from konsel.client.core.content_files import (
    ContentBundle,
    ContentFileError,
    default_override_folder,
    load_content,
)
from konsel.client.core.engine import Engine
from konsel.client.core.events import ERROR_MESSAGES, EngineError
from konsel.client.core.kopasta import Language, Stage
from konsel.client.core.store_records import CounselingSession, FollowUp
from konsel.client.tui import clock_zone
from konsel.client.tui.catalog import current, t

logger = logging.getLogger("konsel.client.tui.kopasta")

FOLLOW_UP_FIELDS: dict[str, str] = {"laijapen": "laijapen_date", "laijapang": "laijapang_date"}
"""Follow-up kind mapped to the penilaian record field that keeps its date."""

FOLLOW_UP_STAGE = Stage.PENILAIAN

FollowUpState = Literal["scheduled", "due", "done"]
"""State of a follow-up: open with its due time ahead, open and due, or done."""

ScheduleResult = Literal["added", "moved", "unchanged"]
"""Change that saving a date made: a new follow-up, a moved one, or none."""


_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_YEAR_FIRST = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


class DateInputError(ValueError):
    """A typed date that is not a valid calendar date, or lies before the earliest allowed."""

    def __init__(self, value: str, *, too_early: bool = False) -> None:
        super().__init__(f"invalid date {value!r}")
        self.value = value
        self.too_early = too_early

    def text(self) -> str:
        """Return the catalog message that names the value and the expected form."""
        if self.too_early:
            return t("kopasta.dates.past", value=self.value)
        return t("kopasta.dates.invalid", value=self.value)


@dataclass(frozen=True)
class SchoolContent:
    """The content files the panel uses, and the error of a school copy that was rejected."""

    bundle: ContentBundle
    error: ContentFileError | None
    """Why the school's copies were not used, or None when they were (or there are none)."""


def load_school_content(folder: Path | None = None) -> SchoolContent:
    """Load the content files from ``folder`` (the school's override folder by default).

    A school copy that fails validation must not leave the counselor without a panel, so
    the packaged defaults are used instead and the error is returned for a notification.
    """
    chosen = default_override_folder() if folder is None else folder
    try:
        return SchoolContent(load_content(chosen), None)
    except ContentFileError as error:
        return SchoolContent(load_content(None), error)


def language() -> Language:
    """Return the language of the catalog in use, as the content files name it."""
    return "en" if current().language == "en" else "id"


def parse_date(text: str) -> datetime.date:
    """Parse a date typed as ``31-12-2026``, ``31/12/2026`` or ``2026-12-31``.

    Raises:
        DateInputError: the text is none of those forms or not a real calendar date.
    """
    value = text.strip()
    day_first = _DAY_FIRST.fullmatch(value)
    year_first = _YEAR_FIRST.fullmatch(value)
    try:
        if day_first is not None:
            day, month, year = (int(part) for part in day_first.groups())
            return datetime.date(year, month, day)
        if year_first is not None:
            year, month, day = (int(part) for part in year_first.groups())
            return datetime.date(year, month, day)
    except ValueError:
        pass
    raise DateInputError(value)


def format_date(day: datetime.date) -> str:
    """Return a date the way Indonesian forms write it, such as ``31-12-2026``."""
    return day.strftime("%d-%m-%Y")


def today() -> datetime.date:
    """Return today's date in the profile's time zone, where follow-ups fall due."""
    return clock_zone.today()


def start_of_day_ms(day: datetime.date) -> int:
    """Return midnight at the start of ``day`` in the profile's time zone, in Unix ms."""
    moment = datetime.datetime.combine(day, datetime.time(), tzinfo=clock_zone.current_zone())
    return int(moment.timestamp() * 1000)


async def latest_session(engine: Engine, contact_id: int) -> CounselingSession | None:
    """Return the contact's newest open session, else its newest ended one, else None."""
    chosen = await engine.record("latest_session_for", contact_id)
    if chosen is None:
        return None
    session: CounselingSession = await engine.record("get_session", chosen.id)
    return session


def stage_entered_at(session: CounselingSession) -> int:
    """Return when the session entered its current stage, in Unix ms."""
    if session.stage_changes:
        return session.stage_changes[-1].changed_at
    return session.started_at


async def move_stage(engine: Engine, session_id: int, forward: bool) -> Stage | None:
    """Move an open session one stage forward or back; return the new stage or None at an end."""
    session: CounselingSession = await engine.record("get_session", session_id)
    stage = Stage(session.stage)
    target = stage.next() if forward else stage.previous()
    if target is None:
        return None
    await engine.record("change_stage", session_id, target.value)
    return target


async def schedule_follow_up(
    engine: Engine, session_id: int, kind: str, day: datetime.date
) -> ScheduleResult:
    """Keep a LAIJAPEN or LAIJAPANG date as a penilaian field and as a due follow-up.

    An open follow-up of the same kind moves to ``day``; without one, a new follow-up is
    added. The caller checks that ``day`` is not in the past.

    Returns:
        ``"added"``, ``"moved"``, or ``"unchanged"`` when the open one already had that date.
    """
    due_at = start_of_day_ms(day)
    follow_ups: list[FollowUp] = await engine.record("list_follow_ups", session_id)
    for existing in follow_ups:
        if existing.kind == kind and existing.done_at is None:
            if existing.due_at == due_at:
                return "unchanged"
            await move_follow_up(engine, existing, day)
            return "moved"

    await _set_follow_up_field(engine, session_id, kind, day.isoformat())
    await engine.record("add_follow_up", session_id, kind, due_at)
    return "added"


async def move_follow_up(engine: Engine, follow_up: FollowUp, day: datetime.date) -> None:
    """Move an open follow-up to ``day`` and keep the new date in its penilaian field.

    Raises:
        RecordNotFound: the follow-up is done or cancelled by now.
    """
    await engine.record("reschedule_follow_up", follow_up.id, start_of_day_ms(day))
    await _set_follow_up_field(engine, follow_up.session_id, follow_up.kind, day.isoformat())


async def cancel_follow_up(engine: Engine, follow_up: FollowUp) -> None:
    """Cancel an open follow-up and clear its penilaian date field if it contains this date.

    A field that contains another date was edited in the panel since, so it stays.

    Raises:
        RecordNotFound: the follow-up is done or cancelled by now.
    """
    await engine.record("cancel_follow_up", follow_up.id)
    session: CounselingSession = await engine.record("get_session", follow_up.session_id)
    stored = session.fields.get(FOLLOW_UP_STAGE.value, {})
    if stored.get(FOLLOW_UP_FIELDS[follow_up.kind]) == day_of(follow_up.due_at).isoformat():
        # An empty value is how the panel's date fields store a cleared date.
        await _set_follow_up_field(engine, follow_up.session_id, follow_up.kind, "")


async def _set_follow_up_field(engine: Engine, session_id: int, kind: str, value: str) -> None:
    await engine.record(
        "set_field", session_id, FOLLOW_UP_STAGE.value, FOLLOW_UP_FIELDS[kind], value
    )


def follow_up_state(follow_up: FollowUp, now_ms: int) -> FollowUpState:
    """Return the state of a follow-up at ``now_ms``, by the due rule of ``due_follow_ups``."""
    if follow_up.done_at is not None:
        return "done"
    return "due" if follow_up.due_at <= now_ms else "scheduled"


def error_text(error: BaseException) -> str:
    """Return a failed request's message in the user's language."""
    if isinstance(error, EngineError) and error.code in ERROR_MESSAGES:
        return ERROR_MESSAGES[error.code][language()]
    if isinstance(error, DateInputError):
        return error.text()
    return t("kopasta.errors.unexpected")


def day_of(moment_ms: int) -> datetime.date:
    """Return the date of a Unix ms time in the profile's time zone."""
    return clock_zone.zoned(moment_ms).date()


def format_day(moment_ms: int) -> str:
    """Return the date of a Unix ms time as ``31-12-2026`` in the profile's time zone."""
    return format_date(day_of(moment_ms))


def format_moment(moment_ms: int) -> str:
    """Return a Unix ms time as ``31-12-2026 14:05`` in the profile's time zone."""
    return clock_zone.zoned(moment_ms).strftime("%d-%m-%Y %H:%M")


def report_zone_name() -> str:
    """Return the IANA name of the profile's time zone, for the report's ``tz`` argument."""
    return clock_zone.current_zone().key


async def run_guarded(job: Awaitable[None], node: Widget) -> None:
    """Await a worker's ``job`` and turn its failure into a notification on ``node``.

    An exception left in a Textual worker would end the app, so every failure is caught
    here. The log names only the exception type, never message content.
    """
    try:
        await job
    except Exception as error:
        logger.warning("KOPASTA request failed: %s", type(error).__name__)
        node.notify(error_text(error), severity="error")
