"""Turn any error the app can meet into one sentence in the user's language."""

from __future__ import annotations

import logging

from konsel.client.core.errors import StoreError
from konsel.client.core.events import ERROR_MESSAGES, EngineError

from . import catalog

logger = logging.getLogger("konsel.client.tui")


def error_text(error: BaseException) -> str:
    """Return the on-screen text for ``error``, naming what to do next where we know it."""
    language = catalog.current().language
    if isinstance(error, EngineError):
        if error.code in ERROR_MESSAGES:
            return ERROR_MESSAGES[error.code][language]
        # Short-code and link errors keep their texts in their own tables.
        from .screens.pairing_errors import code_text

        text = code_text(error.code)
        if text is not None:
            return text
    if isinstance(error, StoreError):
        key = f"app.errors.{error.code}"
        if key in catalog.current().texts:
            return catalog.t(key)
    if isinstance(error, OSError):
        return catalog.t("app.errors.os_error", reason=error.strerror or type(error).__name__)

    # Unknown errors are logged with their type only, since the text may quote user data.
    logger.error("unexpected error in the app: %s", type(error).__name__)
    return catalog.t("app.errors.unexpected", kind=type(error).__name__)
