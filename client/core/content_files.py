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
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NoReturn

import platformdirs

from .kopasta import (
    RATING_MAX,
    RATING_MIN,
    ChoiceOption,
    EvaluationForm,
    EvaluationForms,
    FieldKind,
    KopastaGuide,
    Language,
    LocalizedText,
    Prompt,
    RecordField,
    Stage,
    StageGuide,
)

KOPASTA_FILE = "kopasta.toml"
EVALUATION_FILE = "laiseg.toml"
CONSENT_FILE = "consent-v1.toml"
CONSENT_OVERRIDE_FILE = "consent.toml"
CRISIS_FILE = "crisis-contacts.toml"
RISK_CUES_FILE = "risk-cues.toml"

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_CHARS = 2000
MAX_ENTRIES = 300
CRISIS_CHECK_INTERVAL = datetime.timedelta(days=365)
"""Age of a crisis list's ``checked`` date after which the numbers are overdue for a check."""

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 -]{1,19}")
EXTENSION_PATTERN = re.compile(r"[0-9]{1,6}")
WEBSITE_PATTERN = re.compile(r"(https://)?[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9._~/?=&%-]*)?")
PLACEHOLDER_PATTERN = re.compile(r"\{([a-z_]+)\}")

CONSENT_PLACEHOLDERS = frozenset({"counselor_name", "school_name", "retention_period"})
CONSENT_SECTIONS = (
    "counselor",
    "reply_time",
    "risks",
    "connection_drops",
    "emergency",
    "confidentiality",
    "storage",
    "guardian_consent",
    "your_choice",
)
"""Topics every consent text must cover, by section key."""
RISK_QUESTIONS = ("thoughts", "plan", "means", "timeframe")
SAFETY_PLAN_STEPS = (
    "warning_signs",
    "calming",
    "distraction",
    "people_to_ask",
    "professional_services",
    "safe_surroundings",
)

# The national suicide line 500-454 closed in 2014. A list that still shows it sends a
# pupil in crisis to a dead number, so every content file that contains it is rejected.
CLOSED_LINE_PATTERN = re.compile(r"500\D{0,3}454")

# Characters that could rewrite the terminal or reorder text on screen. Newline and tab
# are the only control characters a text may contain.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ContentFileError(Exception):
    """A content file that is missing, unreadable or invalid.

    Attributes:
        file: the override path, or the packaged file's name.
        key_path: dotted path of the bad value, empty when the whole file is at fault.
        problem: what is wrong and what to change.
    """

    # NOTE: kept out of client/core/errors.py, whose tree covers the local store only.
    code = "content_file_invalid"

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        self.file = file
        self.key_path = key_path
        self.problem = problem
        where = f"{file}, key {key_path}" if key_path else file
        super().__init__(f"invalid content file {where}: {problem}")


# ---------------------------------------------------------------------------------------
# Reading a file and walking its tables


def _open_document(name: str, override: Path | None) -> tuple[dict[str, Any], str]:
    """Read the override file if given, else the packaged default, and return it with its label."""
    if override is not None:
        return _read_document(override, str(override)), str(override)

    resource = importlib.resources.files("konsel.client").joinpath("data", name)
    label = f"{name} (packaged default)"
    return _read_document(resource, label), label


def _read_document(source: Traversable | Path, label: str) -> dict[str, Any]:
    """Parse one TOML file of at most MAX_FILE_BYTES."""
    try:
        with source.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ContentFileError(label, "", "file not found; check the path") from None
    except OSError as error:
        raise ContentFileError(
            label, "", f"cannot be read ({error.strerror}); check its permissions"
        ) from None

    if len(data) > MAX_FILE_BYTES:
        raise ContentFileError(label, "", f"larger than {MAX_FILE_BYTES} bytes; shorten it")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContentFileError(
            label, "", f"not valid UTF-8 at byte {error.start}; save the file as UTF-8"
        ) from None

    closed_line = CLOSED_LINE_PATTERN.search(text)
    if closed_line is not None:
        line = text.count("\n", 0, closed_line.start()) + 1
        raise ContentFileError(
            label, "", f"line {line} lists the suicide line that closed in 2014; remove it"
        )

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ContentFileError(label, "", f"invalid TOML: {error}; fix the syntax there") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ContentFileError(
            label, "", "arrays or tables are nested too deeply; flatten them"
        ) from None


class _Table:
    """One TOML table being read, which remembers its file and key path for errors."""

    def __init__(self, data: Mapping[str, Any], file: str, path: str) -> None:
        self.data = data
        self.file = file
        self.path = path
        self._known: set[str] = set()

    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise ContentFileError for ``key`` of this table."""
        raise ContentFileError(self.file, self.join(key), problem)

    def join(self, key: str) -> str:
        """Return the key path of ``key`` inside this table."""
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def get(self, key: str) -> Any:
        """Return the raw value of ``key``, or None when it is absent."""
        self._known.add(key)
        return self.data.get(key)

    def require(self, key: str, expected: type, description: str) -> Any:
        """Return the value of ``key`` after checking that it is present and of ``expected`` type."""
        value = self.get(key)
        if value is None:
            self.fail(key, f"missing; add {description}")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            self.fail(key, f"expected {description}, found {type(value).__name__}")
        return value

    def string(self, key: str) -> str:
        value: str = self.require(key, str, "a text in double quotes")
        _check_text(value, self, key)
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.get(key) is not None else None

    def identifier(self, key: str = "key") -> str:
        value = self.string(key)
        if not KEY_PATTERN.fullmatch(value):
            self.fail(key, f"invalid key {value!r}; use 1-40 lowercase letters, digits or _")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if self.get(key) is None:
            return default
        value: bool = self.require(key, bool, "true or false")
        return value

    def text(self, key: str) -> LocalizedText:
        """Read ``key`` as a table with an Indonesian (id) and an English (en) text."""
        table = self.table(key)
        text = table.own_text()
        table.finish()
        return text

    def own_text(self) -> LocalizedText:
        """Read this table's own ``id`` and ``en`` texts."""
        return LocalizedText(id=self.string("id"), en=self.string("en"))

    def table(self, key: str) -> _Table:
        value = self.require(key, dict, "a table")
        return _Table(value, self.file, self.join(key))

    def tables(self, key: str) -> list[_Table]:
        """Read ``key`` as a non-empty array of tables."""
        entries = self.require(key, list, f"a list of [[{key}]] tables")
        if not 1 <= len(entries) <= MAX_ENTRIES:
            self.fail(key, f"has {len(entries)} entries; give 1 to {MAX_ENTRIES}")

        tables = []
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict):
                self.fail(f"{key}[{number}]", "expected a table")
            tables.append(_Table(entry, self.file, self.join(f"{key}[{number}]")))
        return tables

    def strings(self, key: str) -> list[str]:
        """Read ``key`` as a non-empty list of texts."""
        values = self.require(key, list, "a list of texts")
        if not 1 <= len(values) <= MAX_ENTRIES:
            self.fail(key, f"has {len(values)} entries; give 1 to {MAX_ENTRIES}")
        for number, value in enumerate(values, start=1):
            if not isinstance(value, str):
                self.fail(f"{key}[{number}]", "expected a text in double quotes")
            _check_text(value, self, f"{key}[{number}]")
        return list(values)

    def keyed(self) -> _Table:
        """Return this entry renamed by its ``key``, so that later errors name it."""
        key = self.identifier()
        base = self.path.rsplit("[", 1)[0]
        renamed = _Table(self.data, self.file, f"{base}[{key}]")
        renamed._known = self._known
        return renamed

    def finish(self) -> None:
        """Reject keys this table does not define, which are usually misspellings."""
        unknown = sorted(set(self.data) - self._known)
        if unknown:
            known = ", ".join(sorted(self._known))
            self.fail(unknown[0], f"unknown key; check its spelling (known keys here: {known})")


def _check_text(value: str, table: _Table, key: str) -> None:
    """Check one text: not blank, not too long, no terminal control characters."""
    if not value.strip():
        table.fail(key, "empty text; write the text or remove the entry")
    if len(value) > MAX_TEXT_CHARS:
        table.fail(key, f"text has {len(value)} characters; shorten it to {MAX_TEXT_CHARS}")
    for character in value:
        is_control = unicodedata.category(character) == "Cc" and character not in "\n\t"
        if is_control or character in _BIDI_CONTROLS:
            table.fail(key, f"contains control character U+{ord(character):04X}; remove it")


def _check_format(root: _Table) -> None:
    version = root.require("format", int, "format = 1")
    if version != FORMAT_VERSION:
        root.fail("format", f"format {version} is not supported; this konsel-chat reads format 1")


def _check_unique(tables: Sequence[_Table], keys: Sequence[str]) -> None:
    """Reject a key that appears twice among sibling entries."""
    seen: set[str] = set()
    for table, key in zip(tables, keys, strict=True):
        if key in seen:
            table.fail("key", f"duplicate key {key!r}; give each entry its own key")
        seen.add(key)


def _check_required_keys(
    parent: _Table, list_key: str, keys: Sequence[str], required: Sequence[str]
) -> None:
    missing = [key for key in required if key not in keys]
    if missing:
        parent.fail(list_key, f"no entry with key {missing[0]!r}; every file must keep it")


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
    document, file = _open_document(KOPASTA_FILE, override)
    root = _Table(document, file, "")
    _check_format(root)

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


def _read_stage(stage: Stage, table: _Table) -> StageGuide:
    prompt_tables = [entry.keyed() for entry in table.tables("prompt")]
    prompts = tuple(Prompt(entry.identifier(), entry.own_text()) for entry in prompt_tables)
    for entry in prompt_tables:
        entry.finish()
    _check_unique(prompt_tables, [prompt.key for prompt in prompts])

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


def _read_fields(table: _Table) -> tuple[RecordField, ...]:
    field_tables = [entry.keyed() for entry in table.tables("field")]
    fields = tuple(_read_field(entry) for entry in field_tables)
    _check_unique(field_tables, [record_field.key for record_field in fields])
    return fields


def _read_field(table: _Table) -> RecordField:
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
        _check_unique(option_tables, [option.key for option in options])
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
    document, file = _open_document(EVALUATION_FILE, override)
    root = _Table(document, file, "")
    _check_format(root)

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


def _read_form(key: str, table: _Table) -> EvaluationForm:
    form = EvaluationForm(
        key=key, title=table.text("title"), intro=table.text("intro"), fields=_read_fields(table)
    )
    table.finish()
    return form


# ---------------------------------------------------------------------------------------
# Informed consent


@dataclass(frozen=True)
class ConsentSection:
    """One topic of the consent text, such as the limits of confidentiality."""

    key: str
    heading: LocalizedText
    body: LocalizedText


@dataclass(frozen=True)
class ConsentText:
    """The informed consent for online counseling that a student agrees to.

    Texts may contain the placeholders in CONSENT_PLACEHOLDERS; :meth:`render` fills them.
    """

    version: str
    """Version the record keeps with the student's agreement; new for every changed text."""
    title: LocalizedText
    agree: LocalizedText
    decline: LocalizedText
    sections: tuple[ConsentSection, ...]

    def render(self, language: Language, values: Mapping[str, str]) -> str:
        """Return the whole text in ``language`` with every placeholder filled from ``values``.

        Raises:
            KeyError: ``values`` lacks a placeholder that the text uses.
        """
        parts = [self.title.in_language(language)]
        for section in self.sections:
            parts.append(section.heading.in_language(language))
            parts.append(section.body.in_language(language))
        text = "\n\n".join(parts)

        return PLACEHOLDER_PATTERN.sub(lambda match: values[match.group(1)], text)


def load_consent(override: Path | None = None) -> ConsentText:
    """Load the consent text from ``override``, or the packaged default version.

    An override that changes any text must also change ``version``, so that each record
    shows which text the student agreed to.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid.
    """
    document, file = _open_document(CONSENT_FILE, override)
    root = _Table(document, file, "")
    _check_format(root)

    version = root.string("version")
    if not VERSION_PATTERN.fullmatch(version):
        root.fail(
            "version", f"invalid version {version!r}; use up to 40 letters, digits, '.', '_' or '-'"
        )

    section_tables = [entry.keyed() for entry in root.tables("section")]
    sections = tuple(
        ConsentSection(entry.identifier(), entry.text("heading"), entry.text("body"))
        for entry in section_tables
    )
    section_keys = [section.key for section in sections]
    _check_unique(section_tables, section_keys)
    _check_required_keys(root, "section", section_keys, CONSENT_SECTIONS)

    consent = ConsentText(
        version=version,
        title=root.text("title"),
        agree=root.text("agree"),
        decline=root.text("decline"),
        sections=sections,
    )
    for entry in section_tables:
        entry.finish()
    root.finish()

    _check_placeholders(root, consent)
    if override is not None:
        default = load_consent()
        if consent.version == default.version and consent != default:
            root.fail(
                "version",
                f"the text differs from the default version {default.version!r}; give the edited text its own version, such as '{default.version}-school-2027'",
            )
    return consent


def _check_placeholders(root: _Table, consent: ConsentText) -> None:
    """Reject an unknown {placeholder} or a brace outside a placeholder in any consent text."""
    texts = {"title": consent.title, "agree": consent.agree, "decline": consent.decline}
    for section in consent.sections:
        texts[f"section[{section.key}].heading"] = section.heading
        texts[f"section[{section.key}].body"] = section.body
    known = ", ".join("{" + name + "}" for name in sorted(CONSENT_PLACEHOLDERS))

    for path, text in texts.items():
        for language, value in (("id", text.id), ("en", text.en)):
            for name in PLACEHOLDER_PATTERN.findall(value):
                if name not in CONSENT_PLACEHOLDERS:
                    root.fail(
                        f"{path}.{language}", f"unknown placeholder {{{name}}}; use one of {known}"
                    )

            leftover = PLACEHOLDER_PATTERN.sub("", value)
            if "{" in leftover or "}" in leftover:
                root.fail(
                    f"{path}.{language}", "stray '{' or '}'; braces may only surround a placeholder"
                )


# ---------------------------------------------------------------------------------------
# Crisis contacts and crisis steps


@dataclass(frozen=True)
class CrisisContact:
    """One crisis service or school contact; at least one channel is set unless the school fills it in."""

    key: str
    name: LocalizedText
    description: LocalizedText
    phone: str | None
    extension: str | None
    whatsapp: str | None
    website: str | None
    filled_by_school: bool
    """Whether this is a slot for the school's own contact; it may then have no channel yet."""

    @property
    def is_filled_in(self) -> bool:
        """Whether the contact has a phone number, WhatsApp number or website."""
        return any((self.phone, self.whatsapp, self.website))


@dataclass(frozen=True)
class CrisisStep:
    """One crisis question or safety plan step, as a suggestion to the guru BK."""

    key: str
    title: LocalizedText
    advice: LocalizedText
    """Suggested action for the guru BK at this step."""
    question: LocalizedText
    """A draft the guru BK can edit and send to the student."""


@dataclass(frozen=True)
class CrisisGuide:
    """Crisis contacts, the four risk questions and the six parts of a safety plan."""

    checked: datetime.date
    """Day the numbers were last checked."""
    contacts: tuple[CrisisContact, ...]
    title: LocalizedText
    intro: LocalizedText
    risk_questions: tuple[CrisisStep, ...]
    safety_plan_steps: tuple[CrisisStep, ...]

    def is_check_overdue(self, today: datetime.date) -> bool:
        """Return whether ``checked`` is more than CRISIS_CHECK_INTERVAL before ``today``."""
        return today - self.checked > CRISIS_CHECK_INTERVAL

    def contact(self, key: str) -> CrisisContact:
        """Return the contact named ``key``.

        Raises:
            KeyError: no contact has that key.
        """
        for contact in self.contacts:
            if contact.key == key:
                return contact
        raise KeyError(f"no crisis contact {key!r}")


def load_crisis_guide(override: Path | None = None) -> CrisisGuide:
    """Load the crisis contacts and crisis steps from ``override``, or the packaged default.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid.
    """
    document, file = _open_document(CRISIS_FILE, override)
    root = _Table(document, file, "")
    _check_format(root)

    checked = root.require("checked", datetime.date, "a date such as checked = 2027-07-01")
    if isinstance(checked, datetime.datetime):
        root.fail("checked", "expected a date without a time, such as checked = 2027-07-01")

    contact_tables = [entry.keyed() for entry in root.tables("contact")]
    contacts = tuple(_read_contact(entry) for entry in contact_tables)
    _check_unique(contact_tables, [contact.key for contact in contacts])

    guidance = root.table("guidance")
    guide = CrisisGuide(
        checked=checked,
        contacts=contacts,
        title=guidance.text("title"),
        intro=guidance.text("intro"),
        risk_questions=_read_steps(root, "risk_question", RISK_QUESTIONS),
        safety_plan_steps=_read_steps(root, "safety_plan_step", SAFETY_PLAN_STEPS),
    )
    guidance.finish()
    root.finish()
    return guide


def _read_contact(table: _Table) -> CrisisContact:
    phone = _optional_matching(
        table, "phone", PHONE_PATTERN, "digits, spaces or '-', such as 021-555-0123"
    )
    extension = _optional_matching(table, "extension", EXTENSION_PATTERN, "1-6 digits")
    whatsapp = _optional_matching(
        table, "whatsapp", PHONE_PATTERN, "digits, spaces or '-', such as 0811-1234-5678"
    )
    website = _optional_matching(
        table, "website", WEBSITE_PATTERN, "a lowercase address such as healing119.id"
    )

    contact = CrisisContact(
        key=table.identifier(),
        name=table.text("name"),
        description=table.text("description"),
        phone=phone,
        extension=extension,
        whatsapp=whatsapp,
        website=website,
        filled_by_school=table.boolean("filled_by_school", False),
    )
    if extension is not None and phone is None:
        table.fail("extension", "an extension needs a phone number; add phone")
    if not contact.is_filled_in and not contact.filled_by_school:
        table.fail(
            "phone", "missing; give a phone, whatsapp or website, or set filled_by_school = true"
        )
    table.finish()
    return contact


def _optional_matching(
    table: _Table, key: str, pattern: re.Pattern[str], description: str
) -> str | None:
    value = table.optional_string(key)
    if value is not None and not pattern.fullmatch(value):
        table.fail(key, f"invalid value {value!r}; use {description}, or leave the key out")
    return value


def _read_steps(root: _Table, list_key: str, required: Sequence[str]) -> tuple[CrisisStep, ...]:
    step_tables = [entry.keyed() for entry in root.tables(list_key)]
    steps = tuple(
        CrisisStep(
            entry.identifier(), entry.text("title"), entry.text("advice"), entry.text("question")
        )
        for entry in step_tables
    )
    for entry in step_tables:
        entry.finish()

    keys = [step.key for step in steps]
    _check_unique(step_tables, keys)
    _check_required_keys(root, list_key, keys, required)
    return steps


# ---------------------------------------------------------------------------------------
# Risk cues

_LETTER_FOR_DIGIT = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "6": "g",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
    }
)
_RAW_WORD = re.compile(r"[a-z0-9@$]+")
_LETTER = re.compile(r"[a-z]")
_REPEATED_CHARACTER = re.compile(r"(.)\1+")
MIN_PHRASE_LETTERS = 3


def split_words(text: str) -> list[str]:
    """Split ``text`` into normalized words for risk cue matching.

    The steps: drop accents and zero-width characters, casefold, split on anything but
    ASCII letters, digits, ``@`` and ``$``. In a word that has a letter, a final ``2``
    repeats the word (Indonesian reduplication, "teman2"), other digits and ``@$`` become
    the letters they stand for ("m4t1" is "mati"), and a run of one character counts once.
    Words without a letter, such as "112", stay as they are.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf")).casefold()

    words: list[str] = []
    for raw in _RAW_WORD.findall(plain):
        if not _LETTER.search(raw):
            words.append(raw)
            continue

        repeated = raw.endswith("2")
        stem = raw[:-1] if repeated else raw
        word = _REPEATED_CHARACTER.sub(r"\1", stem.translate(_LETTER_FOR_DIGIT))
        words.extend((word, word) if repeated else (word,))
    return words


@dataclass(frozen=True)
class RiskCueGroup:
    """A named group of risk cue phrases, such as thoughts of self-harm."""

    key: str
    label: LocalizedText
    phrases: tuple[str, ...]
    """Phrases as the file writes them, which :meth:`RiskCues.match` returns."""


@dataclass(frozen=True)
class RiskCues:
    """The risk cue phrases and the informal spellings folded into standard words."""

    groups: tuple[RiskCueGroup, ...]
    spelling: Mapping[str, tuple[str, ...]]
    """Each informal word mapped to the standard word or words it replaces."""
    _index: dict[str, list[tuple[tuple[str, ...], str]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Index the normalized phrases by their first word, so matching a message costs
        # one lookup per word instead of one comparison per phrase.
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for group in self.groups:
            for phrase in group.phrases:
                words = self.normalize(phrase)
                index.setdefault(words[0], []).append((words, phrase))
        object.__setattr__(self, "_index", index)

    def normalize(self, text: str) -> tuple[str, ...]:
        """Return the words of ``text`` after :func:`split_words` and the spelling table."""
        words: list[str] = []
        for word in split_words(text):
            words.extend(self.spelling.get(word, (word,)))
        return tuple(words)

    def match(self, text: str) -> list[str]:
        """Return the phrases that occur in ``text`` as whole words, in order of first occurrence.

        A match is a hint for the guru BK to look at the message, not a judgement.
        """
        words = self.normalize(text)

        found: list[str] = []
        for start, word in enumerate(words):
            for phrase_words, phrase in self._index.get(word, ()):
                end = start + len(phrase_words)
                if words[start:end] == phrase_words and phrase not in found:
                    found.append(phrase)
        return found

    def group_of(self, phrase: str) -> RiskCueGroup:
        """Return the group that lists ``phrase``.

        Raises:
            KeyError: no group lists it.
        """
        for group in self.groups:
            if phrase in group.phrases:
                return group
        raise KeyError(f"no risk cue group lists {phrase!r}")


def load_risk_cues(override: Path | None = None) -> RiskCues:
    """Load the risk cue phrases and spellings from ``override``, or the packaged default.

    Raises:
        ContentFileError: the file is missing, unreadable or invalid, or two phrases are
            the same after normalization.
    """
    document, file = _open_document(RISK_CUES_FILE, override)
    root = _Table(document, file, "")
    _check_format(root)

    spelling = _read_spelling(root)
    group_tables = [entry.keyed() for entry in root.tables("group")]
    groups = tuple(
        RiskCueGroup(entry.identifier(), entry.text("label"), tuple(entry.strings("phrases")))
        for entry in group_tables
    )
    _check_unique(group_tables, [group.key for group in groups])
    for entry in group_tables:
        entry.finish()
    root.finish()

    cues = RiskCues(groups=(), spelling=spelling)
    first_seen: dict[tuple[str, ...], str] = {}
    for entry, group in zip(group_tables, groups, strict=True):
        for number, phrase in enumerate(group.phrases, start=1):
            words = cues.normalize(phrase)
            if sum(len(_LETTER.findall(word)) for word in words) < MIN_PHRASE_LETTERS:
                entry.fail(
                    f"phrases[{number}]",
                    f"phrase {phrase!r} is too short to match safely; give at least {MIN_PHRASE_LETTERS} letters",
                )
            if words in first_seen:
                entry.fail(
                    f"phrases[{number}]",
                    f"phrase {phrase!r} is the same as {first_seen[words]!r} after normalization; remove one",
                )
            first_seen[words] = phrase

    return RiskCues(groups=groups, spelling=spelling)


def _read_spelling(root: _Table) -> dict[str, tuple[str, ...]]:
    """Read the [[spelling]] entries into a map from informal word to standard words."""
    if root.get("spelling") is None:
        return {}

    spelling: dict[str, tuple[str, ...]] = {}
    standards: list[tuple[_Table, tuple[str, ...]]] = []
    for entry in root.tables("spelling"):
        standard = tuple(split_words(entry.string("standard")))
        if not standard:
            entry.fail("standard", "has no letters or digits; write the standard word")
        standards.append((entry, standard))

        for number, variant in enumerate(entry.strings("variants"), start=1):
            words = split_words(variant)
            if len(words) != 1:
                entry.fail(f"variants[{number}]", f"variant {variant!r} must be one word")
            if words[0] in spelling or (words[0],) == standard:
                entry.fail(
                    f"variants[{number}]",
                    f"variant {variant!r} is listed twice or equals its standard word; remove it",
                )
            spelling[words[0]] = standard
        entry.finish()

    # One pass of replacement only, so a standard word must not itself be a variant.
    for entry, standard in standards:
        for word in standard:
            if word in spelling:
                entry.fail(
                    "standard",
                    f"{word!r} is a variant of {' '.join(spelling[word])!r}; write that word instead",
                )
    return spelling


@functools.cache
def _packaged_risk_cues() -> RiskCues:
    return load_risk_cues()


def match_risk_cues(text: str, cues: RiskCues | None = None) -> list[str]:
    """Return the risk cue phrases found in ``text``, using the packaged list unless ``cues`` is given.

    Pass the school's list, from :func:`load_content`, when it has one.
    """
    if cues is None:
        cues = _packaged_risk_cues()
    return cues.match(text)


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
