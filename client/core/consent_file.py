"""Load the informed consent text for online counseling that a student agrees to.

The packaged text is ``consent-v1.toml``, and a school's edited copy is named
``consent.toml``. The text must cover every topic in CONSENT_SECTIONS, and an edited text
needs its own ``version``, because each record keeps the version the student agreed to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .content_reader import (
    TomlTable,
    check_format,
    check_required_keys,
    check_unique,
    open_document,
)
from .kopasta import Language, LocalizedText

CONSENT_FILE = "consent-v1.toml"
CONSENT_OVERRIDE_FILE = "consent.toml"

VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
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
    document, file = open_document(CONSENT_FILE, override)
    root = TomlTable(document, file, "")
    check_format(root)

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
    check_unique(section_tables, section_keys)
    check_required_keys(root, "section", section_keys, CONSENT_SECTIONS)

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


def _check_placeholders(root: TomlTable, consent: ConsentText) -> None:
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
