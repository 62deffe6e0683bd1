"""Write counseling sessions as the versioned ``konsel-report`` JSON document.

The document is for other tools, so it contains keys and typed values, never labels or
Markdown, and it is the same whatever the report language. Times are ISO 8601 with the
report zone's UTC offset, stages are keyed by English snake-case names, and field keys
are those of kopasta.toml and laiseg.toml. A reader ignores keys it does not know, and a
change that would break an existing reader raises :data:`JSON_VERSION`.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from .kopasta import FieldKind, RecordField, Stage
from .report_records import (
    ConsentEntry,
    EvaluationEntry,
    FieldEntry,
    FollowUpEntry,
    ReportContext,
    SessionRecord,
    StageRecord,
    StageVisit,
    minutes,
    parse_bool,
)

JSON_FORMAT = "konsel-report"
JSON_VERSION = 1

STAGE_KEYS = {
    Stage.PENGANTARAN: "introduction",
    Stage.PENJAJAGAN: "exploration",
    Stage.PENAFSIRAN: "interpretation",
    Stage.PEMBINAAN: "intervention",
    Stage.PENILAIAN: "evaluation",
}
"""English snake-case key of each KOPASTA stage."""


def render_json(records: list[SessionRecord], context: ReportContext) -> str:
    """Write the JSON document of ``records``, indented, with a final newline."""
    period = None
    if context.range_start is not None and context.range_end is not None:
        period = {"start": _time(context.range_start), "end": _time(context.range_end)}

    document = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "time_zone": context.time_zone.key,
        "range": period,
        "sessions": [_session(record, context) for record in records],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def typed_value(definition: RecordField | None, value: Any) -> Any:
    """Convert a stored value to the JSON type of its field kind, or keep it as stored.

    Text and choice fields stay strings (a choice as its option key), a bool becomes
    true or false, a date ``YYYY-MM-DD`` and a rating an integer. A value that does not
    fit its kind stays the stored string, and an empty value is null.
    """
    if value is None or value == "":
        return None
    kind = definition.kind if definition is not None else FieldKind.TEXT
    raw = str(value)

    if kind is FieldKind.BOOL:
        answer = parse_bool(raw)
        return value if answer is None else answer
    if kind is FieldKind.DATE:
        try:
            return datetime.date.fromisoformat(raw).isoformat()
        except ValueError:
            return value
    if kind is FieldKind.RATING:
        try:
            return int(raw)
        except ValueError:
            return value
    return value


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _minutes(duration_ms: int | None) -> int | None:
    return None if duration_ms is None else minutes(duration_ms)


def _session(record: SessionRecord, context: ReportContext) -> dict[str, Any]:
    penilaian = record.stage_record(Stage.PENILAIAN)
    return {
        "session_id": record.session_id,
        "student": {
            "contact_id": record.contact_id,
            "display_name": record.display_name,
            "identity_verified": record.identity_verified,
        },
        "counselor_name": record.counselor_name,
        "started_at": _time(record.started_at),
        "ended_at": _time(record.ended_at),
        "duration_minutes": _minutes(record.duration_ms),
        "current_stage": STAGE_KEYS[record.current_stage],
        "consents": [_consent(consent) for consent in record.consents],
        "stage_history": [_visit(visit) for visit in record.history],
        "stages": {STAGE_KEYS[stage.stage]: _stage(stage) for stage in record.stages},
        "laiseg": _answers(record.latest_evaluation("laiseg"), context.forms.laiseg.fields),
        "evaluations": [_evaluation(evaluation, context) for evaluation in record.evaluations],
        "follow_ups": [_follow_up(follow_up) for follow_up in record.follow_ups],
        "problem_status": penilaian.field_value("problem_status"),
    }


def _consent(consent: ConsentEntry) -> dict[str, Any]:
    return {
        "kind": consent.kind,
        "text": consent.text,
        "text_version": consent.text_version,
        "granted": consent.granted,
        "recorded_at": _time(consent.recorded_at),
    }


def _visit(visit: StageVisit) -> dict[str, Any]:
    return {
        "stage": STAGE_KEYS[visit.stage],
        "started_at": _time(visit.started_at),
        "ended_at": _time(visit.ended_at),
        "duration_minutes": _minutes(visit.duration_ms),
    }


def _stage(stage: StageRecord) -> dict[str, Any]:
    return {
        "kopasta_name": stage.stage.value,
        "first_started_at": _time(stage.first_started_at),
        "duration_minutes": _minutes(stage.duration_ms),
        "visit_count": len(stage.visits),
        "fields": {entry.key: _field(entry) for entry in stage.fields},
        "notes": [
            {"created_at": _time(note.created_at), "text": note.text} for note in stage.notes
        ],
    }


def _field(entry: FieldEntry) -> Any:
    return typed_value(entry.definition, entry.value)


def _answers(
    evaluation: EvaluationEntry | None, fields: tuple[RecordField, ...]
) -> dict[str, Any] | None:
    """Return the answers keyed as the form lists its questions, then any other keys."""
    if evaluation is None:
        return None
    answers = {field.key: typed_value(field, evaluation.answers.get(field.key)) for field in fields}
    known = {field.key for field in fields}
    for key, value in sorted(evaluation.answers.items()):
        if key not in known:
            answers[key] = typed_value(None, value)
    return answers


def _evaluation(evaluation: EvaluationEntry, context: ReportContext) -> dict[str, Any]:
    forms = {
        "laiseg": context.forms.laiseg,
        "laijapen": context.forms.laijapen,
        "laijapang": context.forms.laijapang,
    }
    form = forms.get(evaluation.kind)
    return {
        "kind": evaluation.kind,
        "answers": _answers(evaluation, form.fields if form is not None else ()),
    }


def _follow_up(follow_up: FollowUpEntry) -> dict[str, Any]:
    return {
        "kind": follow_up.kind,
        "due_at": _time(follow_up.due_at),
        "done_at": _time(follow_up.done_at),
        "status": "open" if follow_up.done_at is None else "done",
        "note": follow_up.note,
    }
