"""The engine's own persistent state, kept as one msgpack blob in the encrypted store.

The blob contains what the store's tables have no columns for: the user's profile, the
inboxes this client owns on the relay with their owner keys, the route to each contact
(the peer's send id and the sender keys of both directions), contact requests waiting for
the counselor's decision, control envelopes (receipts, introductions) waiting to be sent,
the envelope ids of control messages already handled, inboxes to delete on the relay,
and the identity keys that konseli proved in a short-code exchange.

Writes go through :func:`commit_state`, which stores the blob together with a ratchet
session and the prekey state in one transaction, so an advanced session is never saved
without the envelope it produced. It runs on :func:`write_store`, which makes a store
write and the update of the engine's memory caches one step that cancellation cannot
split (see there for why).

Warning:
    The blob contains private keys (inbox owner seeds and sender seeds). It is written
    only to the SQLCipher store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack

from .store import Store

if TYPE_CHECKING:
    from konsel.protocol.prekeys import PrekeyStore
    from konsel.protocol.session import Session

    from .engine import Engine

logger = logging.getLogger("konsel.client.engine_state")

T = TypeVar("T")

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
    """``"private"``, ``"contact"``, or ``"one_time"``: a contact inbox on the relay that
    only one one-time invitation names, retired after its first contact request. One-time
    inboxes are kept with the private inboxes, so the sync loop subscribes them."""
    contact_id: int | None = None
    """The contact that writes to this private inbox; None for a contact inbox."""
    expires_at: int | None = None
    """Unix seconds at which a one-time inbox's invitation expires; None for no expiry."""


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
    peer_last_seq: int = 0
    """Highest ``seq`` received in a control message from the peer; received text
    messages keep theirs in the messages table."""
    recovered_at: int = 0
    """Clock (Unix ms) when this side last replaced the session or asked for a new one."""
    renew_nonces: list[bytes] = field(default_factory=list)
    """Nonces of the renew requests accepted from this contact, newest last."""
    declined: bool = False
    """True once the counselor declined this konseli's contact request."""


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
    """The contact it goes to; 0 for a decline to a konseli who never became a contact."""
    destination: bytes
    envelope: bytes
    seq: int = 0
    """The content's ``seq``. Texts with a lower seq are sent first, so the peer sees the
    seqs in order; 0 sends the item before every text (introductions, renew requests)."""


@dataclass
class ExpectedKey:
    """A konseli identity key from a short-code reply whose contact request is still due."""

    identity_key: bytes
    added_at: int
    """Clock (Unix ms) when the reply arrived."""


MAX_RENEW_NONCES = 64
"""Renew request nonces kept per contact. Requests older than a week are rejected by their
timestamp, so this only needs to cover the requests of one week."""
MAX_SPENT_ONE_TIME_IDS = 64
"""Receive ids of used one-time inboxes kept to recognize late requests to them. Only
requests pushed before the inbox was deleted can still arrive, all on one connection."""
MAX_EXPECTED_KEYS = 64
EXPECTED_KEY_LIFETIME_MS = 7 * 24 * 3600 * 1000
"""A short-code reply's key is dropped after a week, or when 64 newer ones wait."""


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
    retired_inboxes: list[OwnedInbox] = field(default_factory=list)
    """Inboxes no longer subscribed that the client still has to delete on the relay:
    used or expired one-time inboxes, and a konseli's inbox for a declined request."""
    spent_one_time_ids: deque[bytes] = field(default_factory=deque)
    """Receive ids of one-time inboxes whose first request arrived, newest last."""
    expected_keys: list[ExpectedKey] = field(default_factory=list)
    """Konseli identity keys from short-code replies, oldest first. A contact request
    with one of them is accepted without asking the counselor."""

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

    def spend_one_time_inbox(self, inbox: OwnedInbox) -> None:
        """Retire a one-time inbox after its first request and remember its receive id."""
        self.private_inboxes.pop(inbox.receive_id, None)
        self.retired_inboxes.append(inbox)
        self.spent_one_time_ids.append(inbox.receive_id)
        while len(self.spent_one_time_ids) > MAX_SPENT_ONE_TIME_IDS:
            self.spent_one_time_ids.popleft()

    def expect_key(self, identity_key: bytes, now: int) -> None:
        """Add a key from a short-code reply, dropping old ones by age and count."""
        self.expected_keys = [
            expected
            for expected in self.expected_keys
            if expected.identity_key != identity_key
            and now - expected.added_at < EXPECTED_KEY_LIFETIME_MS
        ]
        self.expected_keys.append(ExpectedKey(identity_key, now))
        del self.expected_keys[:-MAX_EXPECTED_KEYS]

    def is_expected_key(self, identity_key: bytes, now: int) -> bool:
        """Return whether a short-code reply carried this key within the last week."""
        return any(
            expected.identity_key == identity_key
            and now - expected.added_at < EXPECTED_KEY_LIFETIME_MS
            for expected in self.expected_keys
        )

    def forget_key(self, identity_key: bytes) -> None:
        """Drop an expected key once its request was accepted."""
        self.expected_keys = [
            expected for expected in self.expected_keys if expected.identity_key != identity_key
        ]

    def inbox_for_contact(self, contact_id: int) -> OwnedInbox | None:
        """Return the private inbox this client made for a contact."""
        for inbox in self.private_inboxes.values():
            if inbox.contact_id == contact_id:
                return inbox
        return None

    def replace_with(self, saved: EngineState) -> None:
        """Overwrite every field with the one of ``saved``, keeping this object's identity."""
        for item in dataclasses.fields(self):
            setattr(self, item.name, getattr(saved, item.name))

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
            "retired_inboxes": [vars(inbox) for inbox in self.retired_inboxes],
            "spent_one_time": list(self.spent_one_time_ids),
            "expected_keys": [vars(expected) for expected in self.expected_keys],
        }
        packed: bytes = msgpack.packb(document, use_bin_type=True)
        return packed

    @classmethod
    def from_bytes(cls, data: bytes) -> EngineState:
        """Load a state written by :meth:`to_bytes` (trusted bytes from the encrypted store).

        Keys added after the first release (retired inboxes, spent one-time inboxes,
        expected keys) may be missing from an older blob and then start empty.

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
            retired_inboxes=[OwnedInbox(**item) for item in document.get("retired_inboxes", [])],
            spent_one_time_ids=deque(document.get("spent_one_time", [])),
            expected_keys=[ExpectedKey(**item) for item in document.get("expected_keys", [])],
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
    """Write the engine state, and optionally a contact's session and the prekey state, at once.

    This is for a profile without a running engine. A running engine commits with
    :func:`commit_state`, which also updates its caches.
    """
    store.put_named_state(STATE_NAME, state.to_bytes(), session=session, prekey_state=prekeys)


# --- writes that keep the memory caches in step with the store --------------------------
#
# The engine caches each contact's ratchet session and its prekey state in memory and
# updates a cache only after the write that stores the new value. If the task awaiting a
# write in a worker thread is cancelled (the sync loop cancels its helpers when a
# connection drops), the thread still commits, but the cache update after the await
# never runs. The cache then lags one step behind the store, and the next encryption
# reuses a message key. Dropping the cache on cancellation is not enough: a write that
# has not started yet is cancelled with its executor future, and the engine state in
# memory would then name envelopes that the store never saw. So every write runs to its
# end in its own task together with the cache update, while the caller keeps
# :attr:`Engine.lock`. A cancellation takes effect after that, and it delays the caller
# by at most one write.


async def run_to_completion(step: Coroutine[Any, Any, T]) -> T:
    """Run ``step`` in its own task and wait for its end, even if the caller is cancelled.

    A cancellation of the caller is raised once ``step`` has finished, whatever its
    outcome. Otherwise this returns the result of ``step`` or raises its error.
    """
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            # asyncio.wait leaves the task running when the caller is cancelled.
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise asyncio.CancelledError
    return task.result()


async def write_store(
    engine: Engine, write: Callable[[], T], update: Callable[[T], None] | None = None
) -> T:
    """Run a store write in a worker thread, then pass its result to ``update``.

    ``update`` sets the memory caches from the written values. Call with
    :attr:`Engine.lock` held. The write and ``update`` finish even if the caller is
    cancelled meanwhile, so the caches match the store whenever the lock is free.

    If the write fails, its transaction is rolled back and the caches still hold the
    stored values, but the engine state in memory may contain changes that were meant
    to be committed with it. The state is therefore reloaded from the store, which is
    the source of truth, before the error is raised.
    """
    hook = engine.hooks.before_write

    def run() -> T:
        if hook is not None:
            hook()
        return write()

    async def step() -> T:
        try:
            result = await asyncio.to_thread(run)
        except Exception:
            await _reload_state(engine)
            raise
        if update is not None:
            update(result)
        return result

    return await run_to_completion(step())


async def commit_state(
    engine: Engine,
    *,
    session: tuple[int, Session] | None = None,
    prekeys: PrekeyStore | None = None,
    effect: Callable[[], Any] | None = None,
    then: Callable[[Any], None] | None = None,
) -> Any:
    """Commit the engine state, optionally with a contact's session and the prekey state.

    The new session and prekey state replace the cached ones once they are stored.
    Call with :attr:`Engine.lock` held.

    Args:
        session: a contact id and the session to store for it.
        prekeys: the prekey state to store.
        effect: another store write, such as a counseling record, that runs first in
            the same worker call, so that no cancellation comes between the two. A
            process crash still can, because each is its own transaction.
        then: runs in the event loop right after the commit, together with the cache
            update, with the result of ``effect``. It is for memory changes and events
            that must follow the commit even if the caller is cancelled.

    Returns:
        The result of ``effect``, or None without one.
    """
    blob = engine.state.to_bytes()
    session_row = None if session is None else (session[0], session[1].to_bytes())
    prekey_bytes = None if prekeys is None else prekeys.to_bytes()

    def write() -> Any:
        result = None if effect is None else effect()
        engine.store.put_named_state(
            STATE_NAME, blob, session=session_row, prekey_state=prekey_bytes
        )
        return result

    def update(result: Any) -> None:
        if session is not None:
            engine.sessions[session[0]] = session[1]
        if prekeys is not None:
            engine.prekeys = prekeys
        if then is not None:
            then(result)

    return await write_store(engine, write, update)


async def _reload_state(engine: Engine) -> None:
    logger.warning("a store write failed; reloading the engine state from the store")
    try:
        saved = await asyncio.to_thread(load_state, engine.store)
    except Exception:
        logger.exception("reloading the engine state failed")
        return
    if saved is not None:
        # The relay's limit comes from the current connection's hello, not from a commit.
        saved.max_envelope = engine.state.max_envelope
        engine.state.replace_with(saved)
