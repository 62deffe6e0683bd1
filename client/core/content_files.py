"""Load and validate the counseling content files of konsel-chat.

The packaged defaults live in the ``data`` folder of the ``konsel.client`` package:

    kopasta.toml          KOPASTA stages: purpose, guiding prompts, record fields
    laiseg.toml           LAISEG, LAIJAPEN and LAIJAPANG forms and the 1-5 rating scale
    consent-v1.toml       informed consent for online counseling, version "1"
    crisis-contacts.toml  crisis contacts and the crisis steps suggested to the guru BK
    risk-cues.toml        phrases that highlight a message and suggest the risk card

A school may put edited copies in an override folder (:func:`default_override_folder`)
under the same names, except that the consent copy is named ``consent.toml``. A file a
school edits is never trusted: every loader checks the whole file and raises
:class:`ContentFileError` naming the file, the key path and what to fix. Key paths count
array entries from 1 and name an entry by its ``key`` once that is known, for example
``penjajagan.field[risk_level].label.en``.

This module loads the KOPASTA and LAISEG files and all files together
(:func:`load_content`). The other loaders live in :mod:`.consent_file`,
:mod:`.crisis_file` and :mod:`.risk_cues`, and the reading and checks they share in
:mod:`.content_reader`. Their public names are imported here as well, so callers may
import every loader from this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .consent_file import (
    CONSENT_OVERRIDE_FILE,
    CONSENT_PLACEHOLDERS,
    CONSENT_SECTIONS,
    ConsentSection,
    ConsentText,
    load_consent,
)
from .content_reader import (
    MAX_FILE_BYTES,
    ContentFileError,
    TomlTable,
    check_format,
    check_unique,
    open_document,
)
from .crisis_file import (
    CRISIS_CHECK_INTERVAL,
    CRISIS_FILE,
    RISK_QUESTIONS,
    SAFETY_PLAN_STEPS,
    CrisisContact,
    CrisisGuide,
    CrisisStep,
    load_crisis_guide,
)
from .kopasta import (
    RATING_MAX,
    RATING_MIN,
    ChoiceOption,
    EvaluationForm,
    EvaluationForms,
    FieldKind,
    KopastaGuide,
    Prompt,
    RecordField,
    Stage,
    StageGuide,
)
from .risk_cues import (
    RISK_CUES_FILE,
    RiskCueGroup,
    RiskCues,
    load_risk_cues,
    match_risk_cues,
    split_words,
)

__all__ = [
    "CONSENT_PLACEHOLDERS",
    "CONSENT_SECTIONS",
    "CRISIS_CHECK_INTERVAL",
    "EVALUATION_FILE",
    "KOPASTA_FILE",
    "MAX_FILE_BYTES",
    "OVERRIDE_FILE_NAMES",
    "RISK_QUESTIONS",
    "SAFETY_PLAN_STEPS",
    "ConsentSection",
    "ConsentText",
    "ContentBundle",
    "ContentFileError",
    "CrisisContact",
    "CrisisGuide",
    "CrisisStep",
    "RiskCueGroup",
    "RiskCues",
    "default_override_folder",
    "load_consent",
    "load_content",
    "load_crisis_guide",
    "load_evaluation_forms",
    "load_kopasta_guide",
    "load_risk_cues",
    "match_risk_cues",
    "split_words",
]

KOPASTA_FILE = "kopasta.toml"
EVALUATION_FILE = "laiseg.toml"


# ---------------------------------------------------------------------------------------
# KOPASTA stages and evaluation forms


def load_kopasta_guide(override: Path | None = None) -> KopastaGuide:
    """Load the KOPASTA stage guide from ``override``, or the packaged default.

    An override may reword texts and add prompts, fields and options, but it must keep
    every default record field with its kind and option keys, because saved records and
    reports use them.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid.
    """
    document, file = open_document(KOPASTA_FILE, override)
    root = TomlTable(document, file, "")
    check_format(root)

    guides = tuple(_read_stage(stage, root.table(stage.value)) for stage in Stage)
    root.finish()

    stage_fields = {stage_guide.stage.value: stage_guide.fields for stage_guide in guides}
    _check_unique_field_keys(file, stage_fields)
    if override is not None:
        default = load_kopasta_guide()
        default_fields = {
            stage_guide.stage.value: stage_guide.fields for stage_guide in default.stages
        }
        _check_keeps_fields(file, default_fields, stage_fields)
    return KopastaGuide(guides)


def _read_stage(stage: Stage, table: TomlTable) -> StageGuide:
    prompt_tables = [entry.keyed() for entry in table.tables("prompt")]
    prompts = tuple(Prompt(entry.identifier(), entry.own_text()) for entry in prompt_tables)
    for entry in prompt_tables:
        entry.finish()
    check_unique(prompt_tables, [prompt.key for prompt in prompts])

    guide = StageGuide(
        stage=stage,
        title=table.text("title"),
        purpose=table.text("purpose"),
        prompts=prompts,
        fields=_read_fields(table),
        offers_risk_card=table.boolean("offers_risk_card", False),
    )
    table.finish()
    return guide


def _read_fields(table: TomlTable) -> tuple[RecordField, ...]:
    field_tables = [entry.keyed() for entry in table.tables("field")]
    fields = tuple(_read_field(entry) for entry in field_tables)
    check_unique(field_tables, [record_field.key for record_field in fields])
    return fields


def _read_field(table: TomlTable) -> RecordField:
    kind_name = table.string("kind")
    try:
        kind = FieldKind(kind_name)
    except ValueError:
        known = ", ".join(member.value for member in FieldKind)
        table.fail("kind", f"unknown field kind {kind_name!r}; use one of {known}")

    options: tuple[ChoiceOption, ...] = ()
    if kind is FieldKind.CHOICE:
        option_tables = [entry.keyed() for entry in table.tables("option")]
        options = tuple(
            ChoiceOption(entry.identifier(), entry.text("label")) for entry in option_tables
        )
        for entry in option_tables:
            entry.finish()
        check_unique(option_tables, [option.key for option in options])
    elif table.get("option") is not None:
        table.fail("option", f"options are only allowed for kind 'choice', not {kind_name!r}")

    record_field = RecordField(
        key=table.identifier(),
        label=table.text("label"),
        kind=kind,
        optional=table.boolean("optional", False),
        options=options,
    )
    table.finish()
    return record_field


def _check_unique_field_keys(file: str, groups: Mapping[str, Sequence[RecordField]]) -> None:
    """Reject a record field key used in two groups, because records are keyed by it."""
    owner: dict[str, str] = {}
    for group, fields in groups.items():
        for record_field in fields:
            if record_field.key in owner:
                raise ContentFileError(
                    file,
                    f"{group}.field[{record_field.key}]",
                    f"duplicate key; {owner[record_field.key]!r} already has a field with this key",
                )
            owner[record_field.key] = group


def _check_keeps_fields(
    file: str,
    default: Mapping[str, Sequence[RecordField]],
    override: Mapping[str, Sequence[RecordField]],
) -> None:
    """Reject an override that drops or changes a default field that saved records use."""
    for group, default_fields in default.items():
        fields = {record_field.key: record_field for record_field in override[group]}
        for expected in default_fields:
            path = f"{group}.field[{expected.key}]"
            found = fields.get(expected.key)
            if found is None:
                raise ContentFileError(
                    file,
                    path,
                    "missing; saved records use this field, so keep it (you may reword its label)",
                )
            if found.kind is not expected.kind:
                raise ContentFileError(
                    file,
                    f"{path}.kind",
                    f"must stay {expected.kind.value!r}, because saved records use it",
                )
            option_keys = {option.key for option in found.options}
            for option in expected.options:
                if option.key not in option_keys:
                    raise ContentFileError(
                        file,
                        f"{path}.option[{option.key}]",
                        "missing; saved records use this option, so keep it",
                    )


def load_evaluation_forms(override: Path | None = None) -> EvaluationForms:
    """Load the LAISEG, LAIJAPEN and LAIJAPANG forms from ``override``, or the packaged default.

    An override must keep every default field, as :func:`load_kopasta_guide` describes.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid.
    """
    document, file = open_document(EVALUATION_FILE, override)
    root = TomlTable(document, file, "")
    check_format(root)

    scale_tables = root.tables("rating_scale")
    if len(scale_tables) != RATING_MAX - RATING_MIN + 1:
        root.fail(
            "rating_scale",
            f"has {len(scale_tables)} labels; give exactly one for each rating {RATING_MIN} to {RATING_MAX}",
        )
    rating_scale = tuple(entry.own_text() for entry in scale_tables)
    for entry in scale_tables:
        entry.finish()

    forms = {key: _read_form(key, root.table(key)) for key in ("laiseg", "laijapen", "laijapang")}
    root.finish()

    form_fields = {key: form.fields for key, form in forms.items()}
    _check_unique_field_keys(file, form_fields)
    if override is not None:
        default = load_evaluation_forms()
        default_fields = {
            form.key: form.fields for form in (default.laiseg, default.laijapen, default.laijapang)
        }
        _check_keeps_fields(file, default_fields, form_fields)

    return EvaluationForms(
        laiseg=forms["laiseg"],
        laijapen=forms["laijapen"],
        laijapang=forms["laijapang"],
        rating_scale=rating_scale,
    )


def _read_form(key: str, table: TomlTable) -> EvaluationForm:
    form = EvaluationForm(
        key=key, title=table.text("title"), intro=table.text("intro"), fields=_read_fields(table)
    )
    table.finish()
    return form


# ---------------------------------------------------------------------------------------
# All content files together


@dataclass(frozen=True)
class ContentBundle:
    """Every content file, each taken from the school's override folder or the packaged default."""

    kopasta: KopastaGuide
    evaluation: EvaluationForms
    consent: ConsentText
    crisis: CrisisGuide
    risk_cues: RiskCues


OVERRIDE_FILE_NAMES = (
    KOPASTA_FILE,
    EVALUATION_FILE,
    CONSENT_OVERRIDE_FILE,
    CRISIS_FILE,
    RISK_CUES_FILE,
)


def default_override_folder() -> Path:
    """Return the folder a school puts edited content files in: ``<user config dir>/konsel/content``."""
    return Path(platformdirs.user_config_dir("konsel", appauthor=False)) / "content"


def load_content(override_folder: Path | None = None) -> ContentBundle:
    """Load every content file, taking each from ``override_folder`` when a copy is there.

    Raises:
        ContentFileError: a file is invalid, or the folder contains a .toml file with an
            unknown name (such as a consent copy not named consent.toml).
    """
    chosen: dict[str, Path | None] = dict.fromkeys(OVERRIDE_FILE_NAMES)
    if override_folder is not None and override_folder.is_dir():
        for path in sorted(override_folder.glob("*.toml")):
            if path.name not in chosen:
                known = ", ".join(OVERRIDE_FILE_NAMES)
                raise ContentFileError(
                    str(path), "", f"unknown file name; konsel-chat reads only {known}"
                )
            chosen[path.name] = path

    return ContentBundle(
        kopasta=load_kopasta_guide(chosen[KOPASTA_FILE]),
        evaluation=load_evaluation_forms(chosen[EVALUATION_FILE]),
        consent=load_consent(chosen[CONSENT_OVERRIDE_FILE]),
        crisis=load_crisis_guide(chosen[CRISIS_FILE]),
        risk_cues=load_risk_cues(chosen[RISK_CUES_FILE]),
    )
