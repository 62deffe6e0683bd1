"""Write counseling sessions as a Markdown "Laporan Pelaksanaan Layanan Konseling Perorangan".

Every fixed text of the report is here in Indonesian and English. Every text a person typed (names, notes, field values, evaluation answers) passes through
:func:`escape_text`, so it shows as written and cannot add headings, lists, links or HTML
to the report.
"""

from __future__ import annotations

import datetime
from typing import Any

from .kopasta import FieldKind, Language, RecordField, Stage
from .report_records import (
    ConsentEntry,
    EvaluationEntry,
    FieldEntry,
    FollowUpEntry,
    ReportContext,
    SessionRecord,
    StageRecord,
    minutes,
    parse_bool,
)
from .report_text import (
    EMPTY,
    LIST_INDENT,
    escape_text,
    format_date,
    format_moment,
    format_time,
)

_TEXT = {
    "title": ("Laporan Pelaksanaan Layanan Konseling Perorangan", "Individual Counseling Service Report"),
    "period": ("Periode", "Period"),
    "period_to": ("sampai sebelum", "up to but not including"),
    "session_count": ("Jumlah sesi", "Number of sessions"),
    "no_sessions": ("Tidak ada sesi konseling yang dimulai pada periode ini.", "No counseling session started in this period."),
    "session": ("Sesi", "Session"),
    "identity": ("Identitas", "Identity"),
    "student_name": ("Nama konseli (sesuai catatan guru BK)", "Student's name (as the counselor recorded it)"),
    "identity_verified": ("Kode keamanan konseli sudah dicocokkan", "Student's safety code compared"),
    "counselor_name": ("Nama guru BK", "Counselor's name"),
    "time": ("Waktu pelaksanaan", "Time of the service"),
    "date": ("Hari, tanggal", "Day, date"),
    "start": ("Waktu mulai", "Start time"),
    "end": ("Waktu selesai", "End time"),
    "still_open": ("sesi belum ditutup", "session not closed yet"),
    "duration": ("Lama sesi (dihitung sebagai jam kerja guru BK)", "Session length (counts toward the counselor's working hours)"),
    "minutes": ("menit", "minutes"),
    "consent": ("Persetujuan", "Consent"),
    "no_consent": ("Belum ada persetujuan yang dicatat.", "No consent has been recorded."),
    "granted": ("diberikan", "given"),
    "refused": ("ditolak", "refused"),
    "text_version": ("versi naskah", "text version"),
    "recorded_at": ("dicatat", "recorded"),
    "guardian_status": ("Status persetujuan orang tua/wali", "Parent or guardian consent status"),
    "consent_online_counseling": ("Persetujuan konseling daring", "Consent to online counseling"),
    "consent_guardian": ("Persetujuan orang tua/wali", "Parent or guardian consent"),
    "stages": ("Tahap KOPASTA", "KOPASTA stages"),
    "number": ("No.", "No."),
    "stage": ("Tahap", "Stage"),
    "stage_started": ("Mulai", "Started"),
    "stage_ended": ("Selesai", "Ended"),
    "stage_minutes": ("Lama (menit)", "Length (minutes)"),
    "first_started": ("Mulai", "Started"),
    "stage_duration": ("Lama di tahap ini", "Time in this stage"),
    "not_visited": ("Tahap ini tidak dilalui.", "This stage was not reached."),
    "ongoing": ("masih berlangsung", "still in progress"),
    "visits": ("Berapa kali dilalui", "Times entered"),
    "fields": ("Catatan terstruktur", "Structured record"),
    "notes": ("Catatan pribadi guru BK", "Counselor's private notes"),
    "no_notes": ("Tidak ada catatan.", "No notes."),
    "laiseg_missing": ("LAISEG belum diisi.", "LAISEG has not been filled in yet."),
    "follow_up_plan": ("Rencana tindak lanjut", "Follow-up plan"),
    "no_follow_ups": ("Belum ada LAIJAPEN atau LAIJAPANG yang dijadwalkan.", "No LAIJAPEN or LAIJAPANG is scheduled yet."),
    "due": ("jadwal", "due"),
    "done_at": ("dilaksanakan", "done"),
    "not_done": ("belum dilaksanakan", "not done yet"),
    "note": ("catatan", "note"),
    "result": ("Hasil", "Results"),
    "problem_status": ("Status masalah", "Problem status"),
    "yes": ("Ya", "Yes"),
    "no": ("Tidak", "No"),
    "not_yet": ("Belum", "Not yet"),
}  # fmt: skip

FOLLOW_UP_TITLES = {"laijapen": "LAIJAPEN", "laijapang": "LAIJAPANG"}


def text(key: str, language: Language) -> str:
    """Return the report's fixed text ``key`` in ``language``."""
    indonesian, english = _TEXT[key]
    return indonesian if language == "id" else english


# ---------------------------------------------------------------------------------------
# Values


def format_minutes(duration_ms: int | None, language: Language) -> str:
    """Format a duration as whole minutes, or "-" when it is unknown."""
    if duration_ms is None:
        return EMPTY
    return f"{minutes(duration_ms)} {text('minutes', language)}"


def format_value(definition: RecordField | None, value: Any, context: ReportContext) -> str:
    """Format a stored value for a list item of the report, escaped, with "-" when empty.

    A choice shows its option label, a bool "Ya" or "Tidak", a date the Indonesian date
    and a rating its number with the scale label. A value that does not fit the field's
    kind is shown as stored.
    """
    if value is None or value == "":
        return EMPTY
    language = context.language
    raw = str(value)
    kind = definition.kind if definition is not None else FieldKind.TEXT

    if kind is FieldKind.CHOICE and definition is not None:
        for option in definition.options:
            if option.key == raw:
                return escape_text(option.label.in_language(language))
    elif kind is FieldKind.BOOL:
        answer = parse_bool(raw)
        if answer is not None:
            return text("yes" if answer else "no", language)
    elif kind is FieldKind.DATE:
        try:
            return format_date(datetime.date.fromisoformat(raw), language)
        except ValueError:
            pass
    elif kind is FieldKind.RATING:
        try:
            label = context.forms.rating_label(int(raw))
        except ValueError:
            pass
        else:
            return f"{int(raw)} ({escape_text(label.in_language(language))})"
    return escape_text(raw, LIST_INDENT)


# ---------------------------------------------------------------------------------------
# The report


def render_markdown(records: list[SessionRecord], context: ReportContext) -> str:
    """Write the Markdown report of ``records``: one session alone, or a range of them."""
    language = context.language
    lines = [f"# {text('title', language)}", ""]

    if context.range_start is None or context.range_end is None:
        for record in records:
            lines += _session_lines(record, context, level=2)
        return _finish(lines)

    period = (
        f"{format_moment(context.range_start, language)} {text('period_to', language)} "
        f"{format_moment(context.range_end, language)}"
    )
    lines += [
        _item(text("period", language), period),
        _item(text("session_count", language), str(len(records))),
        "",
    ]
    if not records:
        lines += [text("no_sessions", language), ""]
    for number, record in enumerate(records, start=1):
        title = (
            f"{text('session', language)} {number}: {escape_text(' '.join(record.display_name.split()))}, "
            f"{format_date(record.started_at, language)}"
        )
        lines += [f"## {title}", ""]
        lines += _session_lines(record, context, level=3)
    return _finish(lines)


def _finish(lines: list[str]) -> str:
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _item(label: str, value: str) -> str:
    """Return the list item "- **label:** value", escaping the label but not the value.

    A label that ends in its own punctuation, such as a LAISEG question, gets no colon.
    """
    colon = "" if label.endswith(("?", ".", "!", ":")) else ":"
    return f"- **{escape_text(label)}{colon}** {value}"


def _session_lines(record: SessionRecord, context: ReportContext, level: int) -> list[str]:
    language = context.language
    heading = "#" * level
    penilaian = record.stage_record(Stage.PENILAIAN)
    pengantaran = record.stage_record(Stage.PENGANTARAN)

    lines = [f"{heading} {text('identity', language)}", ""]
    lines += [
        _item(text("student_name", language), escape_text(record.display_name, LIST_INDENT)),
        _item(
            text("identity_verified", language),
            text("yes" if record.identity_verified else "not_yet", language),
        ),
    ]
    lines += _field_items(pengantaran, ("identity_check",), context)
    lines += [
        _item(
            text("counselor_name", language), escape_text(record.counselor_name or "", LIST_INDENT)
        ),
        "",
    ]

    ended = record.ended_at
    lines += [f"{heading} {text('time', language)}", ""]
    lines += [
        _item(text("date", language), format_date(record.started_at, language)),
        _item(text("start", language), format_time(record.started_at, language)),
        _item(
            text("end", language),
            format_time(ended, language) if ended is not None else text("still_open", language),
        ),
        _item(text("duration", language), format_minutes(record.duration_ms, language)),
    ]
    lines += _field_items(pengantaran, ("arrival",), context)
    lines.append("")

    lines += [f"{heading} {text('consent', language)}", ""]
    lines += [_consent_item(consent, language) for consent in record.consents]
    if not record.consents:
        lines.append(f"- {text('no_consent', language)}")
    guardian = format_value(
        _definition(pengantaran, "guardian_consent"),
        pengantaran.field_value("guardian_consent"),
        context,
    )
    lines += [_item(text("guardian_status", language), guardian), ""]

    lines += [f"{heading} {text('stages', language)}", ""]
    lines += _history_table(record, language)
    for stage_record in record.stages:
        lines += _stage_lines(stage_record, context, f"{heading}#")

    lines += _laiseg_lines(record.latest_evaluation("laiseg"), context, heading)
    lines += _follow_up_lines(record, context, heading)

    lines += [f"{heading} {text('problem_status', language)}", ""]
    lines += _field_items(penilaian, ("problem_status",), context)
    lines.append("")
    return lines


def _definition(stage_record: StageRecord, key: str) -> RecordField | None:
    for entry in stage_record.fields:
        if entry.key == key:
            return entry.definition
    return None


def _field_items(
    stage_record: StageRecord, keys: tuple[str, ...], context: ReportContext
) -> list[str]:
    return [_field_item(entry, context) for entry in stage_record.fields if entry.key in keys]


def _field_item(entry: FieldEntry, context: ReportContext) -> str:
    label = entry.definition.label.in_language(context.language) if entry.definition else entry.key
    return _item(label, format_value(entry.definition, entry.value, context))


def _consent_item(consent: ConsentEntry, language: Language) -> str:
    key = f"consent_{consent.kind}"
    label = text(key, language) if key in _TEXT else consent.kind
    answer = text("granted" if consent.granted else "refused", language)
    # A consent recorded without a text version shows "-", the mark for an empty value.
    version = escape_text(consent.text_version or "", LIST_INDENT)
    recorded = format_moment(consent.recorded_at, language)
    return _item(
        label,
        f"{answer}; {text('text_version', language)}: {version}; "
        f"{text('recorded_at', language)} {recorded}",
    )


def _history_table(record: SessionRecord, language: Language) -> list[str]:
    lines = [
        f"| {text('number', language)} | {text('stage', language)} | "
        f"{text('stage_started', language)} | {text('stage_ended', language)} | "
        f"{text('stage_minutes', language)} |",
        "|---:|---|---|---|---:|",
    ]
    for number, visit in enumerate(record.history, start=1):
        ended = (
            format_time(visit.ended_at, language)
            if visit.ended_at is not None
            else text("ongoing", language)
        )
        duration = visit.duration_ms
        length = EMPTY if duration is None else str(minutes(duration))
        lines.append(
            f"| {number} | {_stage_title(record.stage_record(visit.stage), language)} | "
            f"{format_time(visit.started_at, language)} | {ended} | {length} |"
        )
    lines.append("")
    return lines


def _stage_title(stage_record: StageRecord, language: Language) -> str:
    return escape_text(stage_record.guide.title.in_language(language))


def _stage_lines(stage_record: StageRecord, context: ReportContext, heading: str) -> list[str]:
    language = context.language
    title = f"{stage_record.stage.number}. {_stage_title(stage_record, language)}"
    lines = [f"{heading} {title}", ""]

    started = stage_record.first_started_at
    if started is None:
        lines += [f"- {text('not_visited', language)}"]
    else:
        duration = stage_record.duration_ms
        length = (
            text("ongoing", language) if duration is None else format_minutes(duration, language)
        )
        lines += [
            _item(text("first_started", language), format_time(started, language)),
            _item(text("stage_duration", language), length),
        ]
        if len(stage_record.visits) > 1:
            lines.append(_item(text("visits", language), str(len(stage_record.visits))))
    lines.append("")

    lines += [f"**{text('fields', language)}**", ""]
    lines += [_field_item(entry, context) for entry in stage_record.fields]
    lines += ["", f"**{text('notes', language)}**", ""]
    lines += [
        f"- {format_time(note.created_at, language)}: {escape_text(note.text, LIST_INDENT)}"
        for note in stage_record.notes
    ]
    if not stage_record.notes:
        lines.append(f"- {text('no_notes', language)}")
    lines.append("")
    return lines


def _evaluation_items(
    evaluation: EvaluationEntry, fields: tuple[RecordField, ...], context: ReportContext
) -> list[str]:
    """List a form's questions with their answers, then answers to questions the form lacks."""
    language = context.language
    answers = evaluation.answers
    items = [
        _item(
            field.label.in_language(language), format_value(field, answers.get(field.key), context)
        )
        for field in fields
    ]
    known = {field.key for field in fields}
    items += [
        _item(key, format_value(None, value, context))
        for key, value in sorted(answers.items())
        if key not in known
    ]
    return items


def _laiseg_lines(
    evaluation: EvaluationEntry | None, context: ReportContext, heading: str
) -> list[str]:
    form = context.forms.laiseg
    lines = [f"{heading} {escape_text(form.title.in_language(context.language))}", ""]
    if evaluation is None:
        lines += [text("laiseg_missing", context.language), ""]
        return lines
    lines += _evaluation_items(evaluation, form.fields, context)
    lines.append("")
    return lines


def _follow_up_lines(record: SessionRecord, context: ReportContext, heading: str) -> list[str]:
    language = context.language
    penilaian = record.stage_record(Stage.PENILAIAN)
    lines = [f"{heading} {text('follow_up_plan', language)}", ""]
    lines += _field_items(penilaian, ("follow_up", "laijapen_date", "laijapang_date"), context)
    lines += [_follow_up_item(follow_up, language) for follow_up in record.follow_ups]
    if not record.follow_ups:
        lines.append(f"- {text('no_follow_ups', language)}")
    lines.append("")

    for kind, form in (
        ("laijapen", context.forms.laijapen),
        ("laijapang", context.forms.laijapang),
    ):
        evaluation = record.latest_evaluation(kind)
        if evaluation is None:
            continue
        title = escape_text(form.title.in_language(language))
        lines += [f"{heading}# {text('result', language)}: {title}", ""]
        lines += _evaluation_items(evaluation, form.fields, context)
        lines.append("")
    return lines


def _follow_up_item(follow_up: FollowUpEntry, language: Language) -> str:
    title = FOLLOW_UP_TITLES.get(follow_up.kind, follow_up.kind)
    if follow_up.done_at is None:
        status = text("not_done", language)
    else:
        status = f"{text('done_at', language)} {format_moment(follow_up.done_at, language)}"
    value = f"{text('due', language)} {format_moment(follow_up.due_at, language)}; {status}"
    if follow_up.note:
        value += f"; {text('note', language)}: {escape_text(follow_up.note, LIST_INDENT)}"
    return _item(title, value)
