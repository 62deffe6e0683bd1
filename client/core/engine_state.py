"""The engine's own persistent state, kept as one msgpack blob in the encrypted store.

The blob contains what the store's tables have no columns for: the user's profile, the
inboxes this client owns on the relay with their owner keys, the route to each contact
(the peer's send id and the sender keys of both directions), contact requests waiting for
the counselor's decision, control envelopes (receipts, introductions) waiting to be sent,
and the envelope ids of control messages already handled.

Writes go through :func:`commit`, which stores the blob together with a ratchet session
and the prekey state in one transaction, so an advanced session is never saved without
the envelope it produced.

Warning:
    The blob contains private keys (inbox owner seeds and sender seeds). It is written
    only to the SQLCipher store.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .store import Store

STATE_NAME = "engine"
STATE_VERSION = 1
MAX_SEEN_CONTROL_IDS = 2048
"""Envelope ids of handled control messages kept for duplicate detection; older ones are
dropped, because the relay redelivers only messages that are still unacknowledged."""


@dataclass
class OwnedInbox:
    """An inbox this client created on the relay, with the seed of its Ed25519 owner key."""

    receive_id: bytes
    send_id: bytes
    owner_seed: bytes
    kind: str
    """``"private"`` or ``"contact"``."""
    contact_id: int | None = None
    """The contact that writes to this private inbox; None for the contact inbox."""


@dataclass
class Route:
    """How to reach one contact and how the two inboxes are secured."""

    contact_id: int
    peer_send_id: bytes
    """Send id this client writes to: the peer's private inbox, or its contact inbox
    before the peer's introduction arrived."""
    sender_seed: bytes
    """Seed of the Ed25519 key this client proves when it writes to the peer's inbox."""
    peer_sender_key: bytes | None = None
    """The key the peer proves when it writes to this client's inbox; secures that inbox."""
    peer_contact_send_id: bytes | None = None
    """The peer's contact inbox, if it has one, for fetching a bundle to renew the session."""
    accepted: bool = False
    """True once the peer's introduction arrived (or, for a counselor, once it accepted)."""
    auth_failures: int = 0
    last_seq: int = 0
    """Highest ``seq`` sent in a control message (receipt, introduction); text messages
    keep theirs in the messages table."""


@dataclass
class PendingRequest:
    """A konseli's contact request that the counselor has decrypted but not accepted or declined."""

    request_id: int
    identity_key: bytes
    display_name: str
    relay_url: str
    inbox_id: bytes
    sender_key: bytes
    session: bytes
    envelope_id: bytes
    received_at: int


@dataclass
class ControlItem:
    """An encrypted control envelope (receipt, introduction) waiting for the relay."""

    item_id: int
    contact_id: int
    destination: bytes
    envelope: bytes


@dataclass
class EngineState:
    """Everything the engine persists besides the store's own tables."""

    display_name: str
    role: str
    """``"counselor"`` or ``"student"``, as in the store's contacts table."""
    relay_url: str | None
    max_envelope: int = 65536
    """The relay's envelope limit from its last hello."""
    read_receipts: bool = True
    one_time_prekey_target: int = 20
    contact_inbox: OwnedInbox | None = None
    private_inboxes: dict[bytes, OwnedInbox] = field(default_factory=dict)
    routes: dict[int, Route] = field(default_factory=dict)
    pending: dict[int, PendingRequest] = field(default_factory=dict)
    control_outbox: list[ControlItem] = field(default_factory=list)
    seen_control_ids: deque[bytes] = field(default_factory=deque)
    next_id: int = 1

    def new_id(self) -> int:
        """Return a fresh number for a pending request or control item."""
        value = self.next_id
        self.next_id += 1
        return value

    def remember_control(self, envelope_id: bytes) -> None:
        """Record a handled control envelope id, dropping the oldest above the cap."""
        self.seen_control_ids.append(envelope_id)
        while len(self.seen_control_ids) > MAX_SEEN_CONTROL_IDS:
            self.seen_control_ids.popleft()

    def is_known_control(self, envelope_id: bytes) -> bool:
        """Return whether a control envelope or a pending request has this id."""
        if envelope_id in self.seen_control_ids:
            return True
        return any(request.envelope_id == envelope_id for request in self.pending.values())

    def inbox_for_contact(self, contact_id: int) -> OwnedInbox | None:
        """Return the private inbox this client made for a contact."""
        for inbox in self.private_inboxes.values():
            if inbox.contact_id == contact_id:
                return inbox
        return None

    def to_bytes(self) -> bytes:
        """Serialize the state as a msgpack map."""
        document = {
            "v": STATE_VERSION,
            "display_name": self.display_name,
            "role": self.role,
            "relay_url": self.relay_url,
            "max_envelope": self.max_envelope,
            "read_receipts": self.read_receipts,
            "otk_target": self.one_time_prekey_target,
            "contact_inbox": _inbox_dict(self.contact_inbox),
            "private_inboxes": [_inbox_dict(inbox) for inbox in self.private_inboxes.values()],
            "routes": [vars(route) for route in self.routes.values()],
            "pending": [vars(request) for request in self.pending.values()],
            "control_outbox": [vars(item) for item in self.control_outbox],
            "seen": list(self.seen_control_ids),
            "next_id": self.next_id,
        }
        packed: bytes = msgpack.packb(document, use_bin_type=True)
        return packed

    @classmethod
    def from_bytes(cls, data: bytes) -> EngineState:
        """Load a state written by :meth:`to_bytes` (trusted bytes from the encrypted store).

        Raises:
            ValueError: the blob has another version or a missing field.
        """
        document: dict[str, Any] = msgpack.unpackb(data, raw=False, strict_map_key=False)
        if document.get("v") != STATE_VERSION:
            raise ValueError(f"engine state version {document.get('v')!r} is not supported")

        contact_inbox = document["contact_inbox"]
        private = [OwnedInbox(**item) for item in document["private_inboxes"]]
        routes = [Route(**item) for item in document["routes"]]
        pending = [PendingRequest(**item) for item in document["pending"]]
        return cls(
            display_name=document["display_name"],
            role=document["role"],
            relay_url=document["relay_url"],
            max_envelope=document["max_envelope"],
            read_receipts=document["read_receipts"],
            one_time_prekey_target=document["otk_target"],
            contact_inbox=None if contact_inbox is None else OwnedInbox(**contact_inbox),
            private_inboxes={inbox.receive_id: inbox for inbox in private},
            routes={route.contact_id: route for route in routes},
            pending={request.request_id: request for request in pending},
            control_outbox=[ControlItem(**item) for item in document["control_outbox"]],
            seen_control_ids=deque(document["seen"]),
            next_id=document["next_id"],
        )


def _inbox_dict(inbox: OwnedInbox | None) -> dict[str, Any] | None:
    return None if inbox is None else vars(inbox)


def load_state(store: Store) -> EngineState | None:
    """Return the engine state saved in the store, or None for a profile without one."""
    raw = store.get_named_state(STATE_NAME)
    return None if raw is None else EngineState.from_bytes(raw)


def commit(
    store: Store,
    state: EngineState,
    *,
    session: tuple[int, bytes] | None = None,
    prekeys: bytes | None = None,
) -> None:
    """Write the engine state, and optionally a contact's session and the prekey state, at once."""
    store.put_named_state(STATE_NAME, state.to_bytes(), session=session, prekey_state=prekeys)
