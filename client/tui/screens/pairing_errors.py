"""Turn pairing and counseling errors from the engine into text in the user's language.

The engine reports short-code and invitation-link failures with codes whose texts live
in the protocol package (:data:`konsel.protocol.shortcode_errors.MESSAGES` and
:data:`konsel.protocol.invitation.MESSAGES`) next to the engine's own
:data:`~konsel.client.core.events.ERROR_MESSAGES`. The app-wide :func:`.error_text`
reads only the engine's table, so the pairing screens read all three here.
"""

from __future__ import annotations

import logging

from konsel.client.core.events import ERROR_MESSAGES, EngineError
from konsel.client.core.kopasta import Language
from konsel.protocol.invitation import MESSAGES as INVITATION_MESSAGES
from konsel.protocol.shortcode_errors import MESSAGES as SHORTCODE_MESSAGES

from .. import catalog
from ..error_text import error_text

logger = logging.getLogger("konsel.client.tui.pairing")

_TABLES = (ERROR_MESSAGES, SHORTCODE_MESSAGES, INVITATION_MESSAGES)


def current_language() -> Language:
    """Return the language of the catalog in use, as the content loaders name it."""
    return "en" if catalog.current().language == "en" else "id"


def code_text(code: str, **values: str) -> str | None:
    """Return the text of an engine, short-code or link error code, or None if unknown.

    ``values`` fill the placeholders some texts have, such as ``{word}``. A text whose
    placeholder has no value is returned as it is, braces included.
    """
    language = current_language()
    for table in _TABLES:
        texts = table.get(code)
        if texts is None:
            continue
        template = texts.get(language, texts["id"])
        try:
            return template.format(**values)
        except (KeyError, IndexError):
            return template
    return None


def engine_error_text(error: BaseException) -> str:
    """Return the on-screen text for an error a pairing or counseling request raised."""
    if isinstance(error, EngineError):
        text = code_text(error.code)
        if text is not None:
            return text
        logger.warning("no text for engine error code %s", error.code)
    return error_text(error)
