"""Find the safety code to compare with a contact, including one whose key just changed.

:meth:`Engine.safety_code` uses the identity key in the contact's row. While a key change
is held (:attr:`Engine.key_changes`), that row still has the old key, but the contact's
screen already shows the code of the new one. Comparing those two would always fail, so
for a held change the code here is :meth:`Engine.pending_safety_code`, the code of the
key that :meth:`Engine.confirm_key_change` would store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from konsel.client.core.engine import Engine
from konsel.protocol.safety import SafetyCode

logger = logging.getLogger("konsel.client.tui.pairing")


@dataclass(frozen=True)
class ShownCode:
    """The safety code a screen shows, and whether it is the code of a held new key."""

    code: SafetyCode
    new_key: bool


async def code_to_compare(engine: Engine, contact_id: int) -> ShownCode:
    """Return the safety code to compare with a contact.

    Raises:
        EngineError: ``contact_not_found``.
    """
    held = await engine.pending_safety_code(contact_id)
    if held is not None:
        return ShownCode(held, new_key=True)
    return ShownCode(await engine.safety_code(contact_id), new_key=False)
