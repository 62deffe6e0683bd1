"""Handle one delivery from the relay: drop duplicates, decrypt, commit, then ACK.

The order of the steps is what makes delivery exactly-once on screen:

1. The envelope's message id (a hash of its bytes) is looked up first. A known id means
   an earlier copy was committed, so the copy is acknowledged without decrypting.
2. The envelope is decrypted into a new session, which stays in memory.
3. The message and the new session are committed in one transaction.
4. Only then is the delivery acknowledged. A crash before the ACK makes the relay
   deliver the envelope again, and step 1 drops it.

A crash between steps 2 and 3 leaves the old session on disk and the envelope on the
relay, so the redelivered envelope decrypts again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from konsel.protocol.content import (
    Consent,
    Delivered,
    EvalAnswers,
    EvalRequest,
    Introduction,
    Profile,
    Read,
    SessionControl,
    Text,
    decode_content,
)
from konsel.protocol.envelope import message_id
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    DuplicateMessageError,
    HandshakeError,
    KonselError,
)

from . import pairing, records_flow, renewal
from .engine_state import commit_state, write_store
from .errors import DuplicateMessage
from .events import (
    ContactAdded,
    ContentReceived,
    DamagedMessage,
    MessageReceived,
)
from .relay_connection import Delivery, RelayConnection
from .store import MessageFields, StoredMessage

if TYPE_CHECKING:
    from konsel.protocol.content import Content
    from konsel.protocol.session import Session

    from .engine import Engine

logger = logging.getLogger("konsel.client.receive")

AUTH_FAILURES_BEFORE_RENEWAL = 3
"""Consecutive envelopes from a known peer that fail authentication before the session
is treated as broken, for example because the peer restored an old backup."""


async def handle_delivery(engine: Engine, connection: RelayConnection, delivery: Delivery) -> None:
    """Process one delivery and acknowledge it once its effect is committed."""
    state = engine.state
    contact_inbox = state.contact_inbox
    if contact_inbox is not None and delivery.receive_id == contact_inbox.receive_id:
        await pairing.handle_request(engine, connection, delivery)
    else:
        inbox = state.private_inboxes.get(delivery.receive_id)
        if inbox is None or inbox.contact_id is None:
            logger.warning("delivery for an unknown inbox %s", delivery.receive_id[:3].hex())
        else:
            await _handle_private(engine, connection, inbox.contact_id, delivery)

    if engine.hooks.before_ack is not None:
        await engine.hooks.before_ack(delivery)
    await connection.ack(delivery.receive_id, [delivery.message_id])


async def _handle_private(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> None:
    envelope = delivery.envelope
    envelope_id = message_id(envelope)
    if await _is_duplicate(engine, envelope_id):
        engine.duplicate_count += 1
        return

    async with engine.lock:
        session = await engine.session(contact_id)
        route = engine.state.routes.get(contact_id)
        if session is None or route is None:
            engine.emit(DamagedMessage(contact_id, "no session with this contact"))
            return

        engine.decrypt_count += 1
        try:
            plaintext, new_session = session.decrypt(envelope, engine.clock() // 1000)
        except HandshakeError:
            # An "i" envelope with a new ephemeral key: the peer started a new session.
            await renewal.accept_renewal(engine, connection, contact_id, delivery)
            return
        except DuplicateMessageError:
            # Authentic, already decrypted, yet never stored: the peer's ratchet went back.
            logger.warning("peer reused message keys; renewing the session")
            await renewal.renew_session(engine, connection, contact_id)
            return
        except AuthenticationError:
            route.auth_failures += 1
            engine.emit(DamagedMessage(contact_id, "the envelope failed authentication"))
            if route.auth_failures >= AUTH_FAILURES_BEFORE_RENEWAL:
                route.auth_failures = 0
                await renewal.renew_session(engine, connection, contact_id)
            return
        except (DecodeError, KonselError) as error:
            engine.emit(DamagedMessage(contact_id, f"unreadable envelope: {type(error).__name__}"))
            return

        if engine.hooks.after_decrypt is not None:
            await engine.hooks.after_decrypt(delivery)
        route.auth_failures = 0

        try:
            content = decode_content(plaintext)
        except DecodeError as error:
            engine.state.remember_control(envelope_id)
            await _commit_session(engine, contact_id, new_session)
            engine.emit(DamagedMessage(contact_id, f"invalid content: {error.field}"))
            return

        await _apply(engine, connection, contact_id, envelope_id, content, new_session)


async def _is_duplicate(engine: Engine, envelope_id: bytes) -> bool:
    if engine.state.is_known_control(envelope_id):
        return True
    return await asyncio.to_thread(engine.store.is_duplicate, envelope_id)


async def _commit_session(engine: Engine, contact_id: int, session: Session) -> None:
    await commit_state(engine, session=(contact_id, session))


async def _apply(
    engine: Engine,
    connection: RelayConnection,
    contact_id: int,
    envelope_id: bytes,
    content: Content,
    session: Session,
) -> None:
    """Commit the effect of one decrypted content message (call with the lock held)."""
    if isinstance(content, Text):
        await _store_text(engine, contact_id, envelope_id, content, session)
        return

    engine.state.remember_control(envelope_id)
    if isinstance(content, Delivered | Read):
        await _commit_session(engine, contact_id, session)
        await _apply_receipt(engine, contact_id, content)
    elif isinstance(content, Introduction):
        await _apply_introduction(engine, connection, contact_id, content, session)
    elif isinstance(content, Profile):
        await _commit_session(engine, contact_id, session)
        await asyncio.to_thread(
            engine.store.update_contact, contact_id, display_name=content.display_name
        )
    elif isinstance(content, SessionControl | Consent | EvalRequest | EvalAnswers):
        await records_flow.apply_counseling_content(engine, contact_id, content, session)
    else:
        await _commit_session(engine, contact_id, session)
        engine.emit(ContentReceived(contact_id, content))


async def _store_text(
    engine: Engine, contact_id: int, envelope_id: bytes, text: Text, session: Session
) -> None:
    conversation_id = await engine.conversation(contact_id)
    fields = MessageFields(text.message_id, envelope_id, text.body, text.seq, text.sent_at)
    session_state = session.to_bytes()

    def record() -> StoredMessage | None:
        try:
            return engine.store.record_incoming(conversation_id, fields, session_state)
        except DuplicateMessage:
            return None

    def show(stored: StoredMessage | None) -> None:
        # Runs with the commit, so a cancellation cannot lose the receipt or the event.
        if stored is None:
            return
        engine.sessions[contact_id] = session
        engine.emit(MessageReceived(contact_id, stored))
        engine.pending_delivered[contact_id].append(text.message_id)
        engine.sync.wake_receipts()

    if await write_store(engine, record, show) is None:
        # The same content id in another envelope: keep the advanced session only.
        engine.state.remember_control(envelope_id)
        await _commit_session(engine, contact_id, session)


async def _apply_receipt(engine: Engine, contact_id: int, receipt: Delivered | Read) -> None:
    conversation_id = await engine.conversation(contact_id)
    status = "delivered" if isinstance(receipt, Delivered) else "read"
    for content_id in receipt.message_ids:
        message = await asyncio.to_thread(engine.store.find_message, conversation_id, content_id)
        if message is None:
            continue
        order = message.order
        if status == "delivered":
            await asyncio.to_thread(engine.store.mark_delivered, order)
        else:
            await asyncio.to_thread(engine.store.mark_read, order)
        engine.status_changed(contact_id, order, status)


async def _apply_introduction(
    engine: Engine,
    connection: RelayConnection,
    contact_id: int,
    intro: Introduction,
    session: Session,
) -> None:
    route = engine.state.routes[contact_id]
    newly_accepted = not route.accepted
    route.peer_send_id = intro.inbox_id
    route.peer_sender_key = intro.sender_key
    route.accepted = True
    await _commit_session(engine, contact_id, session)
    await asyncio.to_thread(
        engine.store.update_contact, contact_id, display_name=intro.display_name
    )

    inbox = engine.state.inbox_for_contact(contact_id)
    if inbox is not None:
        await connection.secure(inbox.receive_id, intro.sender_key)
    if newly_accepted:
        role = "counselor" if intro.role == "konselor" else "student"
        engine.emit(ContactAdded(contact_id, intro.display_name, role))
        engine.sync.wake_outbox()
