"""The consent text on both sides: what the counselor records and what the konseli agreed to.

The counselor's store records a konseli's consent with the exact text of its version, so
the counselor's app renders the same text the konseli's app shows and hands it to the
engine. The konseli's app keeps its own acceptance in its store, so the consent screen
comes once per text version rather than at every session.
"""

from __future__ import annotations

import asyncio
import logging

from konsel.client.core.consent_file import ConsentText, load_consent
from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.engine import Engine
from konsel.client.core.records_flow import CONSENT_KIND

from .catalog import t
from .screens.consent import school_consent_file

logger = logging.getLogger("konsel.client.tui.consent")


def render_consent(consent: ConsentText, counselor_name: str, language: str) -> str:
    """Return the consent text with its placeholders filled as the konseli's screen fills them."""
    values = {
        "counselor_name": counselor_name,
        "school_name": t("student.consent.school_unknown"),
        "retention_period": t("student.consent.retention_unknown"),
    }
    return consent.render("en" if language == "en" else "id", values)


async def publish_consent_text(engine: Engine, language: str) -> None:
    """Give the counselor's engine the text its konseli are shown, by version."""
    try:
        consent = await asyncio.to_thread(load_consent, school_consent_file())
    except ContentFileError as error:
        logger.error("consent text %s is invalid: %s", error.file, error.problem)
        return
    # NOTE: rendered in the counselor's language; a konseli who reads the other language
    # agreed to the same version in that language.
    engine.consent_texts[consent.version] = render_consent(
        consent, engine.state.display_name, language
    )


async def consent_given(engine: Engine, contact_id: int) -> bool:
    """Tell whether the konseli already accepted the current consent version for a contact."""
    try:
        consent = await asyncio.to_thread(load_consent, school_consent_file())
    except ContentFileError:
        return False
    records = await asyncio.to_thread(engine.store.list_consents, contact_id)
    return any(r["granted"] and r["text_version"] == consent.version for r in records)


async def remember_consent(engine: Engine, contact_id: int, language: str) -> None:
    """Record in the konseli's own store that the current version was accepted."""
    consent = await asyncio.to_thread(load_consent, school_consent_file())
    counselor = next((c for c in await engine.contacts() if c.id == contact_id), None)
    text = render_consent(consent, counselor.display_name if counselor else "", language)
    await asyncio.to_thread(
        engine.store.record_consent,
        contact_id,
        CONSENT_KIND,
        text,
        granted=True,
        text_version=consent.version,
    )
