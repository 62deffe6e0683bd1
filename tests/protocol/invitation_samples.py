"""A sample invitation and its binary fields, shared by the invitation tests."""

from __future__ import annotations

from typing import Any

from konsel.protocol.invitation import Invitation

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
NOW = 1_800_000_000

INVITATION = Invitation(
    relay_url="wss://relay.sman1.sch.id/konsel",
    inbox_id=bytes(range(16)),
    identity_key=bytes(range(32, 64)),
    prekey_bundle=bytes(range(64, 128)),
    kind="one_time",
    expires_at=NOW + 3600,
    display_name="Bu Sari (guru BK)",
)


def invitation_fields(**changes: Any) -> dict[str, Any]:
    """Return the binary form of INVITATION as a map, with ``changes`` applied; ``...`` removes a key."""
    fields: dict[str, Any] = {
        "v": 1,
        "t": "invitation",
        "relay": INVITATION.relay_url,
        "inbox": INVITATION.inbox_id,
        "ik": INVITATION.identity_key,
        "bundle": INVITATION.prekey_bundle,
        "kind": INVITATION.kind,
        "exp": INVITATION.expires_at,
        "name": INVITATION.display_name,
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not ...}
