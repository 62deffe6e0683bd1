"""Export counseling sessions from the store as an Indonesian report and as JSON.

A counselor (guru BK) reports every service given. :func:`export_session` exports one
counseling session and :func:`export_range` every session that started in a time range.
Each returns a :class:`Report` with two texts: a Markdown "Laporan Pelaksanaan Layanan
Konseling Perorangan" (in Indonesian, or in English with ``language="en"``), written by
:mod:`.report_markdown`, and a versioned JSON document for other tools, written by
:mod:`.report_json`. :func:`write_report` saves either text as a file only its owner can
read.

Both writers format the same :class:`~.report_records.SessionRecord` values, which
:mod:`.report_records` collects from the store.

Warning:
    A report contains the konseli's name, private notes and risk levels in plaintext.
    Save it only where the counselor chooses, and delete it when it is no longer needed.
"""

from __future__ import annotations

import datetime
import functools
import os
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from .content_files import load_evaluation_forms, load_kopasta_guide
from .kopasta import EvaluationForms, KopastaGuide, Language
from .profile import FILE_MODE
from .report_json import render_json
from .report_markdown import render_markdown
from .report_records import (
    ReportContext,
    SessionRecord,
    collect_session,
    sessions_started_between,
    unix_ms,
)
from .store import Store

DEFAULT_TIME_ZONE = "Asia/Jakarta"
"""Zone of a report whose caller names none (WIB). The app passes the profile's zone."""
LANGUAGES: tuple[Language, ...] = ("id", "en")


@dataclass(frozen=True)
class Report:
    """An exported report as Markdown and as JSON, both ready to write to a file."""

    markdown: str
    json: str
    session_ids: tuple[int, ...]
    """The exported sessions, in report order."""


def export_session(
    store: Store,
    session_id: int,
    *,
    language: Language = "id",
    tz: str = DEFAULT_TIME_ZONE,
    counselor_name: str | None = None,
    guide: KopastaGuide | None = None,
    forms: EvaluationForms | None = None,
) -> Report:
    """Export one counseling session as a Markdown report and as JSON.

    Args:
        store: the counselor's open store.
        session_id: the session to export.
        language: ``"id"`` for Indonesian labels, ``"en"`` for English ones.
        tz: IANA time zone name that every time is shown in, such as ``Asia/Makassar``.
        counselor_name: the guru BK's name, which the store does not keep; None shows "-".
        guide, forms: the school's KOPASTA guide and evaluation forms; the packaged
            defaults when None.

    Raises:
        RecordNotFound: no session or contact has that id.
        ValueError: ``language`` or ``tz`` is not valid.
    """
    context = _context(language, tz, guide, forms)
    record = collect_session(store, session_id, context, counselor_name)
    return _render([record], context)


def export_range(
    store: Store,
    start: datetime.datetime | datetime.date,
    end: datetime.datetime | datetime.date,
    *,
    language: Language = "id",
    tz: str = DEFAULT_TIME_ZONE,
    counselor_name: str | None = None,
    guide: KopastaGuide | None = None,
    forms: EvaluationForms | None = None,
) -> Report:
    """Export every session that started in ``[start, end)``, oldest first.

    A date stands for midnight at its start in ``tz``, and a datetime without a time zone
    is read as a time in ``tz``. So ``export_range(store, date(2026, 12, 1),
    date(2027, 1, 1))`` exports December 2026 in WIB. Other arguments are as in
    :func:`export_session`.

    Raises:
        ValueError: ``end`` is before ``start``, or ``language`` or ``tz`` is not valid.
    """
    context = _context(language, tz, guide, forms)
    range_start = _as_zoned(start, context.time_zone)
    range_end = _as_zoned(end, context.time_zone)
    if range_end < range_start:
        raise ValueError(f"range end {range_end.isoformat()} is before its start; swap them")
    context = ReportContext(
        language=context.language,
        time_zone=context.time_zone,
        guide=context.guide,
        forms=context.forms,
        range_start=range_start,
        range_end=range_end,
    )

    session_ids = sessions_started_between(store, unix_ms(range_start), unix_ms(range_end))
    records = [collect_session(store, sid, context, counselor_name) for sid in session_ids]
    return _render(records, context)


def write_report(path: Path | str, text: str) -> None:
    """Write a report text to ``path`` as UTF-8 with mode 0600, replacing an existing file.

    The mode is set on the open file before anything is written, so a file that existed
    with wider permissions never contains report text while it is still readable by others.
    A symbolic link at ``path`` is not followed.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
        os.fchmod(file.fileno(), FILE_MODE)
        file.write(text)


# ---------------------------------------------------------------------------------------
# Settings


@functools.cache
def _packaged_guide() -> KopastaGuide:
    return load_kopasta_guide()


@functools.cache
def _packaged_forms() -> EvaluationForms:
    return load_evaluation_forms()


def _context(
    language: str, tz: str, guide: KopastaGuide | None, forms: EvaluationForms | None
) -> ReportContext:
    if language not in LANGUAGES:
        raise ValueError(f"invalid report language {language!r}; use 'id' or 'en'")
    try:
        time_zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Asia/Jakarta'"
        ) from None
    return ReportContext(
        language="id" if language == "id" else "en",
        time_zone=time_zone,
        guide=guide or _packaged_guide(),
        forms=forms or _packaged_forms(),
    )


def _as_zoned(
    moment: datetime.datetime | datetime.date, zone: zoneinfo.ZoneInfo
) -> datetime.datetime:
    if not isinstance(moment, datetime.datetime):
        return datetime.datetime.combine(moment, datetime.time(), tzinfo=zone)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _render(records: list[SessionRecord], context: ReportContext) -> Report:
    return Report(
        markdown=render_markdown(records, context),
        json=render_json(records, context),
        session_ids=tuple(record.session_id for record in records),
    )
