"""The client engine: the asyncio API that the terminal UI drives.

One :class:`Engine` is one open profile. It owns the encrypted store, the identity and
prekeys, the relay sync loop and the outbox, and reports what happens as events::

    engine = await Engine.open(profile_dir, passphrase)
    stream = engine.events()
    await engine.send_text(contact_id, "Selamat pagi, Bu.")
    async for event in stream:
        ...
    await engine.close()

Every store call runs in a worker thread (``asyncio.to_thread``). One asyncio lock,
:attr:`Engine.lock`, guards each read-modify-write of a ratchet session and of the engine
state, so a message being sent and one being received never advance the same session
from the same starting point. A write that changes a cached session runs to its end
with the cache update even if its caller is cancelled (:func:`.engine_state.write_store`).

The counseling requests (sessions, consent, LAISEG evaluations) come from
:class:`.records_flow.CounselingApi`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from konsel.protocol.content import MAX_TEXT_BODY_CHARS, Content, Text, new_message_id
from konsel.protocol.envelope import MAX_PLAINTEXT_SIZE, message_id
from konsel.protocol.errors import InvalidContentError
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import PrekeyStore
from konsel.protocol.safety import SafetyCode
from konsel.protocol.session import Session

from . import contact_requests, outbox, pairing, renewal, shortcode_flow
from .engine_state import (
    ControlItem,
    EngineState,
    commit,
    commit_state,
    load_state,
    write_store,
)
from .events import (
    ConnectionChanged,
    ConnectionState,
    EngineError,
    Event,
    EventHub,
    EventStream,
    MessageStatusChanged,
    OutboxChanged,
)
from .passphrase import DEFAULT_KDF, KdfParams
from .profile import resolve_profile
from .records_flow import CounselingApi
from .relay_connection import Delivery
from .store import MessageFields, Store, StoredMessage
from .sync import EngineHooks, SyncLoop, SyncOptions

logger = logging.getLogger("konsel.client.engine")

ROLES = ("counselor", "student")


def now_ms() -> int:
    """Return the wall clock in Unix milliseconds."""
    return time.time_ns() // 1_000_000


class Engine(CounselingApi):
    """An open profile with its relay sync; create it with :meth:`create` or :meth:`open`."""

    def __init__(
        self,
        store: Store,
        identity: IdentityKeyPair,
        prekeys: PrekeyStore,
        state: EngineState,
        *,
        clock: Callable[[], int] = now_ms,
        options: SyncOptions | None = None,
        hooks: EngineHooks | None = None,
    ) -> None:
        self.store = store
        self.identity = identity
        self.prekeys = prekeys
        self.state = state
        self.clock = clock
        """Wall clock in Unix milliseconds, for ``sent_at`` and the ratchet's key ages."""
        self.hooks = hooks or EngineHooks()
        self.lock = asyncio.Lock()
        self.decrypt_count = 0
        """Envelopes decrypted since opening; duplicates dropped by id do not count."""
        self.duplicate_count = 0
        """Envelopes dropped by id as copies of committed ones."""
        self.relay_prekey_count: int | None = None
        """One-time prekeys the relay held at the last subscribe or upload (counselors)."""
        self.sessions: dict[int, Session] = {}
        self.consent_texts: dict[str, str] = {}
        """Consent texts by version, exactly as the konseli's client shows them. The UI
        adds the texts it loads, and a counselor's store records a konseli's consent
        with the text of its version, or with an empty text for an unknown version."""
        self.pending_delivered: dict[int, list[bytes]] = defaultdict(list)
        self._hub = EventHub()
        self._conversations: dict[int, int] = {}
        self._last_seq: dict[int, int] = {}
        self._peer_seq: dict[int, int] = {}
        self._connection_state: ConnectionState = "offline"
        self.sync = SyncLoop(self, options or SyncOptions())
        self.shortcodes = shortcode_flow.ShortCodeFlow(self)
        self.key_changes: dict[int, list[Delivery]] = {}
        """Deliveries held unacknowledged per contact whose identity key changed, until
        :meth:`confirm_key_change`."""
        """Pairing by short code; the methods below are its API."""

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        profile_dir: Path | str,
        passphrase: str,
        display_name: str,
        role: str,
        relay_url: str | None = None,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        one_time_prekey_target: int = 20,
        **options: Any,
    ) -> Engine:
        """Create a new profile with a fresh identity and start syncing.

        Args:
            role: ``"counselor"`` or ``"student"``.
            relay_url: the relay; a student may leave it out and take it from the invitation.
            options: ``clock``, ``options`` (:class:`SyncOptions`) and ``hooks``.
        """
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {ROLES}")
        profile = resolve_profile(directory=profile_dir)
        clock = options.get("clock", now_ms)
        store = await asyncio.to_thread(Store.create, profile, passphrase, kdf=kdf, clock=clock)
        identity = IdentityKeyPair.generate()
        prekeys = PrekeyStore.create(identity, int(time.time()), one_time_count=0)
        state = EngineState(display_name, role, relay_url)
        state.one_time_prekey_target = one_time_prekey_target
        await asyncio.to_thread(store.put_identity_state, identity.to_bytes())
        await asyncio.to_thread(commit, store, state, prekeys=prekeys.to_bytes())
        engine = cls(store, identity, prekeys, state, **options)
        engine.sync.start()
        return engine

    @classmethod
    async def open(cls, profile_dir: Path | str, passphrase: str, **options: Any) -> Engine:
        """Unlock an existing profile and start syncing.

        Raises:
            ProfileNotFound, ProfileLocked, WrongPassphrase: and the other store errors.
        """
        profile = resolve_profile(directory=profile_dir)
        # The store stamps received messages and records with the same clock as the engine.
        clock = options.get("clock", now_ms)
        store = await asyncio.to_thread(Store.open, profile, passphrase, clock=clock)
        try:
            identity_bytes = await asyncio.to_thread(store.get_identity_state)
            prekey_bytes = await asyncio.to_thread(store.get_prekey_state)
            state = await asyncio.to_thread(load_state, store)
            if identity_bytes is None or prekey_bytes is None or state is None:
                raise ValueError("the profile has no engine identity; create it with Engine.create")
        except BaseException:
            await asyncio.to_thread(store.close)
            raise
        identity = IdentityKeyPair.from_bytes(identity_bytes)
        engine = cls(store, identity, PrekeyStore.from_bytes(prekey_bytes), state, **options)
        await renewal.load_key_changes(engine)
        engine.sync.start()
        return engine

    async def close(self) -> None:
        """Stop syncing and close the store; safe to call twice."""
        await self.shortcodes.close()
        await self.sync.stop()
        async with self.lock:
            await asyncio.to_thread(self.store.close)

    # --- events and state ----------------------------------------------------------------

    def events(self) -> EventStream:
        """Subscribe to events from now on; the stream is registered before this returns."""
        return self._hub.subscribe()

    def emit(self, event: Event) -> None:
        """Queue an event for every subscriber."""
        self._hub.emit(event)

    @property
    def connection_state(self) -> ConnectionState:
        """``connected``, ``connecting`` or ``offline``."""
        return self._connection_state

    async def set_connection_state(self, state: ConnectionState) -> None:
        """Record a new connection state and emit it with the outbox count.

        Once connected, it deletes on the relay the inboxes retired while offline.
        """
        if state == self._connection_state:
            return
        self._connection_state = state
        self.emit(ConnectionChanged(state, await self.outbox_count()))
        connection = self.sync.connection
        if state == "connected" and connection is not None:
            await contact_requests.delete_retired_inboxes(self, connection)

    async def outbox_count(self) -> int:
        """Return the number of text messages not yet confirmed by the relay."""
        return await asyncio.to_thread(self.store.outbox_count)

    async def emit_outbox(self) -> None:
        """Emit the current outbox count."""
        self.emit(OutboxChanged(await self.outbox_count()))

    # --- sessions ------------------------------------------------------------------------

    async def session(self, contact_id: int) -> Session | None:
        """Return the current session with a contact (call with :attr:`lock` held)."""
        cached = self.sessions.get(contact_id)
        if cached is not None:
            return cached
        raw = await asyncio.to_thread(self.store.get_session_state, contact_id)
        if raw is None:
            return None
        session = Session.from_bytes(raw)
        self.sessions[contact_id] = session
        return session

    async def conversation(self, contact_id: int) -> int:
        """Return the conversation id of a contact."""
        if contact_id not in self._conversations:
            conversation_id = await asyncio.to_thread(
                self.store.conversation_for_contact, contact_id
            )
            self._conversations[contact_id] = conversation_id
        return self._conversations[contact_id]

    async def queue_control(
        self,
        contact_id: int,
        content: Content,
        *,
        effect: Callable[[], Any] | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> Any:
        """Encrypt a control message and store it with the session in the control outbox.

        Call with :attr:`lock` held. ``effect`` and ``then`` are passed on to
        :func:`~.engine_state.commit_state`, and the result of ``effect`` is returned.
        Without a session with the contact, nothing is sent and None is returned.

        Raises:
            EngineError: ``message_too_large``, for content above the session's plaintext
                limit or an envelope above the relay's limit.
        """
        route = self.state.routes[contact_id]
        session = await self.session(contact_id)
        if session is None:
            return None
        plaintext = content.encode()
        if len(plaintext) > MAX_PLAINTEXT_SIZE:
            raise EngineError("message_too_large", f"{len(plaintext)} bytes of content")
        envelope, session = session.encrypt(plaintext)
        if len(envelope) > self.state.max_envelope:
            # The new session is dropped, so the skipped counter costs nothing.
            raise EngineError(
                "message_too_large",
                f"envelope of {len(envelope)} bytes above the relay's {self.state.max_envelope}",
            )

        route.last_seq = max(route.last_seq, content.seq)
        item = ControlItem(
            self.state.new_id(), contact_id, route.peer_send_id, envelope, content.seq
        )
        self.state.control_outbox.append(item)
        try:
            result = await commit_state(
                self, session=(contact_id, session), effect=effect, then=then
            )
        except Exception:
            self.release_seq(contact_id, content.seq)
            raise
        self.sync.wake_outbox()
        return result

    # --- messages ------------------------------------------------------------------------

    async def send_text(self, contact_id: int, body: str) -> StoredMessage:
        """Store an encrypted text message in the outbox and wake the sender.

        Raises:
            EngineError: ``message_empty``, ``message_too_large``, ``contact_not_found``,
                ``contact_declined`` or ``contact_pending``.
        """
        if not body.strip():
            raise EngineError("message_empty", "the message has no visible text")
        if len(body) > MAX_TEXT_BODY_CHARS:
            raise EngineError("message_too_large", f"{len(body)} characters")
        route = self.state.routes.get(contact_id)
        if route is None:
            raise EngineError("contact_not_found", f"contact {contact_id}")
        if route.declined:
            raise EngineError("contact_declined", f"contact {contact_id}")
        if not route.accepted:
            raise EngineError("contact_pending", f"contact {contact_id}")

        conversation_id = await self.conversation(contact_id)
        async with self.lock:
            session = await self.session(contact_id)
            if session is None:
                raise EngineError("contact_not_found", f"no session with contact {contact_id}")
            seq = await self.next_seq(contact_id)
            try:
                stored = await self._store_text(contact_id, conversation_id, session, seq, body)
            except Exception:
                # Nothing was stored, so the peer never sees this seq; a gap would make
                # it report missing messages.
                self.release_seq(contact_id, seq)
                raise

        self.sync.wake_outbox()
        await self.emit_outbox()
        return stored

    async def _store_text(
        self, contact_id: int, conversation_id: int, session: Session, seq: int, body: str
    ) -> StoredMessage:
        """Encrypt a text with ``seq`` and store it with its outbox envelope (lock held)."""
        route = self.state.routes[contact_id]
        try:
            text = Text(new_message_id(), seq, self.clock(), body)
        except InvalidContentError as error:
            raise EngineError("message_invalid", str(error)) from None
        plaintext = text.encode()
        if len(plaintext) > MAX_PLAINTEXT_SIZE:
            raise EngineError("message_too_large", f"{len(plaintext)} bytes of content")
        envelope, new_session = session.encrypt(plaintext)
        if len(envelope) > self.state.max_envelope:
            # The new session is dropped, so the skipped counter costs nothing.
            raise EngineError(
                "message_too_large",
                f"envelope of {len(envelope)} bytes above the relay's {self.state.max_envelope}",
            )

        fields = MessageFields(text.message_id, message_id(envelope), body, text.seq, text.sent_at)
        session_state = new_session.to_bytes()

        def record() -> StoredMessage:
            return self.store.record_outgoing(
                conversation_id,
                fields,
                envelope,
                session_state,
                destination=route.peer_send_id,
            )

        def cache(_: StoredMessage) -> None:
            self.sessions[contact_id] = new_session

        return await write_store(self, record, cache)

    def release_seq(self, contact_id: int, seq: int) -> None:
        """Give back ``seq`` when nothing that carries it was stored (call with the lock held)."""
        if self._last_seq.get(contact_id) == seq:
            self._last_seq[contact_id] = seq - 1

    async def next_seq(self, contact_id: int) -> int:
        """Return the next ``seq`` for a content message to a contact (call with the lock held).

        One counter covers text and control messages. After a restart it continues from
        the larger of the stored texts' highest seq and the route's last control seq.
        """
        if contact_id not in self._last_seq:
            conversation_id = await self.conversation(contact_id)
            stored = await asyncio.to_thread(self.store.max_outgoing_seq, conversation_id)
            route = self.state.routes.get(contact_id)
            self._last_seq[contact_id] = max(stored, route.last_seq if route else 0)
        self._last_seq[contact_id] += 1
        return self._last_seq[contact_id]

    async def incoming_seq_gap(self, contact_id: int, seq: int) -> int:
        """Record a ``seq`` received from a contact; return how many numbers it skipped.

        Call with the lock held. The highest seq seen starts from the largest of the
        stored incoming texts' highest seq, the route's last control seq from the peer,
        and 1, the seq of every introduction. A lower seq (a late or resent message, or
        a peer restored from a backup) skips nothing.
        """
        if contact_id not in self._peer_seq:
            conversation_id = await self.conversation(contact_id)
            stored = await asyncio.to_thread(self.store.max_incoming_seq, conversation_id)
            route = self.state.routes.get(contact_id)
            self._peer_seq[contact_id] = max(stored, route.peer_last_seq if route else 0, 1)
        highest = self._peer_seq[contact_id]
        self._peer_seq[contact_id] = max(highest, seq)
        return max(0, seq - highest - 1)

    async def resend(self, order: int) -> None:
        """Send a waiting message now instead of at the next retry (the same envelope bytes)."""
        await self.sync.resend(order)

    async def mark_read(self, contact_id: int, orders: list[int]) -> None:
        """Mark received messages as read and, if enabled, send a read receipt."""
        content_ids = []
        for order in orders:
            message = await asyncio.to_thread(self.store.get_message, order)
            if message.direction != "in" or message.status == "read":
                continue
            await asyncio.to_thread(self.store.mark_read, order)
            content_ids.append(message.content_id)
        if content_ids and self.state.read_receipts:
            # NOTE: if this call is cancelled, the ids whose receipt was not queued yet
            # get no read receipt; the messages stay marked read here.
            await outbox.send_receipt(self, contact_id, "read", content_ids)

    async def set_read_receipts(self, enabled: bool) -> None:
        """Turn sending read receipts on or off for this user."""
        async with self.lock:
            self.state.read_receipts = enabled
            await commit_state(self)

    async def history(
        self, contact_id: int, before: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        """Return up to ``limit`` messages of a conversation in display order, oldest first."""
        conversation_id = await self.conversation(contact_id)
        return await asyncio.to_thread(self.store.load_window, conversation_id, before, limit)

    async def message(self, order: int) -> StoredMessage:
        """Return one message by its local order number."""
        return await asyncio.to_thread(self.store.get_message, order)

    async def search(self, text: str, limit: int = 50) -> list[StoredMessage]:
        """Return messages that contain every word of ``text``, newest first."""
        return await asyncio.to_thread(self.store.search, text, limit)

    async def contacts(self) -> list[Any]:
        """Return every contact of the store."""
        return await asyncio.to_thread(self.store.list_contacts)

    def status_changed(self, contact_id: int, order: int, status: str) -> None:
        """Emit a status change of an own message."""
        self.emit(MessageStatusChanged(contact_id, order, status))

    # --- pairing -------------------------------------------------------------------------

    async def create_invitation(self, kind: str = "reusable", expires_at: int | None = None) -> str:
        """Return an invitation link to the counselor's contact inbox (counselors only)."""
        return await pairing.create_invitation(self, kind, expires_at)

    async def accept_invitation(self, link: str) -> int:
        """Ask for contact through an invitation link; return the new contact's id.

        Raises:
            EngineError: a link error code of :data:`konsel.protocol.invitation.MESSAGES`
                (``link_damaged``, ``link_expired``, ...), or ``invitation_invalid``,
                ``invitation_used`` (the relay has no inbox or bundle behind the link),
                ``relay_mismatch`` or ``offline``.
        """
        return await pairing.accept_invitation(self, link)

    async def accept_request(self, request_id: int) -> int:
        """Accept a pending contact request; return the new contact's id."""
        return await contact_requests.accept_request(self, request_id)

    async def decline_request(self, request_id: int) -> None:
        """Decline a pending contact request: tell the konseli, then forget the session."""
        await contact_requests.decline_request(self, request_id)

    def pending_requests(self) -> list[tuple[int, str]]:
        """Return (request id, display name) of every pending contact request."""
        return [(r.request_id, r.display_name) for r in self.state.pending.values()]

    # --- short codes and verification ----------------------------------------------------

    async def create_code(self, ttl: int = 600) -> str:
        """Open a short code such as ``7-kancil-pelangi`` for a konseli (counselors only).

        The outcome arrives as a :class:`.events.ShortCodePaired` or
        :class:`.events.ShortCodeFailed` event.
        """
        return await self.shortcodes.create_code(ttl)

    async def cancel_code(self) -> None:
        """Cancel the open short code, if any."""
        await self.shortcodes.cancel_code()

    async def join_code(self, text: str, relay_url: str | None = None) -> int:
        """Pair with a counselor by a short code; return the new contact's id.

        Raises:
            EngineError: a short-code error code, or ``code_not_found``.
        """
        return await self.shortcodes.join_code(text, relay_url)

    async def safety_code(self, contact_id: int) -> SafetyCode:
        """Return the safety code (digits and words) to compare with a contact."""
        return await shortcode_flow.contact_safety_code(self, contact_id)

    async def pending_safety_code(self, contact_id: int) -> SafetyCode | None:
        """Return the safety code of a contact's held new key, or None if none is held."""
        return await shortcode_flow.pending_safety_code(self, contact_id)

    async def mark_verified(self, contact_id: int, verified: bool = True) -> None:
        """Store whether the safety code with a contact was compared and matched."""
        await shortcode_flow.mark_verified(self, contact_id, verified)

    async def confirm_key_change(self, contact_id: int) -> int:
        """Accept a contact's new identity key and show its held messages.

        Returns the number of held deliveries processed.

        Raises:
            EngineError: ``key_change_not_found`` or ``offline``.
        """
        connection = await pairing.connect_for_request(self)
        return await renewal.confirm_key_change(self, connection, contact_id)
