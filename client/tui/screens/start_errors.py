"""Turn the errors of creating or unlocking a profile into on-screen text.

The store's errors (:mod:`konsel.client.core.errors`) carry a stable ``code``. Each code
the start screens can meet has a catalog entry ``start.errors.<code>`` that tells the user
what happened and what to do. Any other error gets the app's general text
(:func:`konsel.client.tui.error_text.error_text`).
"""

from __future__ import annotations

from konsel.client.core.errors import DatabaseCorrupted, StoreError
from konsel.client.tui import error_text as app_errors
from konsel.client.tui.catalog import t

KNOWN_CODES = frozenset(
    {
        "sqlcipher_unavailable",
        "profile_not_found",
        "profile_exists",
        "profile_locked",
        "passphrase_invalid",
        "passphrase_wrong",
        "passphrase_change_interrupted",
        "database_corrupted",
        "header_corrupted",
        "header_missing",
        "schema_too_new",
    }
)
"""Store error codes that have their own ``start.errors.<code>`` message."""


def error_text(error: BaseException) -> str:
    """Return the message for a failed create or unlock in the current language."""
    if isinstance(error, StoreError) and error.code in KNOWN_CODES:
        if isinstance(error, DatabaseCorrupted):
            # The folder to restore is the one thing the user must know to act on it.
            return t(f"start.errors.{error.code}", folder=str(error.path.parent))
        return t(f"start.errors.{error.code}")
    return app_errors.error_text(error)
