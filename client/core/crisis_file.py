"""Load the crisis contacts and the crisis steps suggested to the guru BK.

``crisis-contacts.toml`` lists national crisis services, slots for the school's own
contacts, the risk questions and the safety plan steps. The steps must include every key in
RISK_QUESTIONS and SAFETY_PLAN_STEPS, and each one is a suggestion for the guru BK with a
draft question that the guru BK can edit and send.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .content_reader import (
    TomlTable,
    check_format,
    check_required_keys,
    check_unique,
    open_document,
)
from .kopasta import LocalizedText

CRISIS_FILE = "crisis-contacts.toml"

CRISIS_CHECK_INTERVAL = datetime.timedelta(days=365)
"""Age of a crisis list's ``checked`` date after which the numbers are overdue for a check."""

PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 -]{1,19}")
EXTENSION_PATTERN = re.compile(r"[0-9]{1,6}")
WEBSITE_PATTERN = re.compile(r"(https://)?[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9._~/?=&%-]*)?")

RISK_QUESTIONS = ("thoughts", "plan", "means", "timeframe")
SAFETY_PLAN_STEPS = (
    "warning_signs",
    "calming",
    "distraction",
    "people_to_ask",
    "professional_services",
    "safe_surroundings",
)


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
    document, file = open_document(CRISIS_FILE, override)
    root = TomlTable(document, file, "")
    check_format(root)

    checked = root.require("checked", datetime.date, "a date such as checked = 2027-07-01")
    if isinstance(checked, datetime.datetime):
        root.fail("checked", "expected a date without a time, such as checked = 2027-07-01")

    contact_tables = [entry.keyed() for entry in root.tables("contact")]
    contacts = tuple(_read_contact(entry) for entry in contact_tables)
    check_unique(contact_tables, [contact.key for contact in contacts])

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


def _read_contact(table: TomlTable) -> CrisisContact:
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
    table: TomlTable, key: str, pattern: re.Pattern[str], description: str
) -> str | None:
    value = table.optional_string(key)
    if value is not None and not pattern.fullmatch(value):
        table.fail(key, f"invalid value {value!r}; use {description}, or leave the key out")
    return value


def _read_steps(root: TomlTable, list_key: str, required: Sequence[str]) -> tuple[CrisisStep, ...]:
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
    check_unique(step_tables, keys)
    check_required_keys(root, list_key, keys, required)
    return steps
