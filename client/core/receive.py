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
    Decline,
    Delivered,
    EvalAnswers,
    EvalRequest,
    Introduction,
    Profile,
    Read,
    Role,
    SessionControl,
    Text,
    decode_content,
    new_message_id,
)
from konsel.protocol.envelope import decode_envelope, is_renew_request, message_id
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    DuplicateMessageError,
    HandshakeError,
    KonselError,
)
from konsel.protocol.ratchet import open_header

from . import contact_requests, records_flow, renewal
from .engine_state import commit_state, write_store
from .errors import DuplicateMessage
from .events import (
    ContactAdded,
    ContactDeclined,
    ContentReceived,
    DamagedMessage,
    EngineErrorEvent,
    MessageReceived,
    MessagesMissing,
)
from .relay_connection import Delivery, RelayCommandError, RelayConnection
from .store import MessageFields, StoredMessage

if TYPE_CHECKING:
    from konsel.protocol.content import Content
    from konsel.protocol.session import Session

    from .engine import Engine

logger = logging.getLogger("konsel.client.receive")

AUTH_FAILURES_BEFORE_RENEWAL = 3
"""Consecutive envelopes from a contact whose header opens under no key of the session
before the session is treated as broken. One such envelope may be a byte changed in
transit; an envelope whose header opens and whose body fails starts a renewal at once."""


async def handle_delivery(engine: Engine, connection: RelayConnection, delivery: Delivery) -> None:
    """Process one delivery and acknowledge it once its effect is committed.

    Afterwards it deletes the inboxes that the delivery retired (a used one-time inbox,
    or a konseli's inbox after a decline). The acknowledgement goes first, because the
    relay ends the subscription of an inbox it deletes.
    """
    state = engine.state
    receive_id = delivery.receive_id
    contact_inbox = state.contact_inbox
    inbox = state.private_inboxes.get(receive_id)
    if contact_inbox is not None and receive_id == contact_inbox.receive_id:
        await contact_requests.handle_request(engine, connection, delivery)
    elif inbox is not None and inbox.kind == "one_time":
        await contact_requests.handle_request(engine, connection, delivery, one_time=inbox)
    elif inbox is None and _is_retired(engine, receive_id):
        await _handle_retired(engine, connection, delivery)
        return
    elif inbox is None or inbox.contact_id is None:
        logger.warning("delivery for an unknown inbox %s", receive_id[:3].hex())
    elif await _handle_private(engine, connection, inbox.contact_id, delivery):
        # Held after an identity key change: acknowledged once the user confirms it.
        return

    if engine.hooks.before_ack is not None:
        await engine.hooks.before_ack(delivery)
    await connection.ack(receive_id, [delivery.message_id])
    if state.retired_inboxes:
        await contact_requests.delete_retired_inboxes(engine, connection)


def _is_retired(engine: Engine, receive_id: bytes) -> bool:
    state = engine.state
    if receive_id in state.spent_one_time_ids:
        return True
    return any(inbox.receive_id == receive_id for inbox in state.retired_inboxes)


async def _handle_retired(engine: Engine, connection: RelayConnection, delivery: Delivery) -> None:
    """Handle a delivery that the relay pushed before it deleted a retired inbox.

    A request to a used one-time inbox is declined as ``invitation_used``. Anything else
    is dropped. The relay may have deleted the inbox already and ended this connection's
    subscription, so a refused acknowledgement is expected.
    """
    if delivery.receive_id in engine.state.spent_one_time_ids:
        await contact_requests.decline_used_invitation(engine, delivery)
    else:
        logger.info("dropped a delivery for a retired inbox %s", delivery.receive_id[:3].hex())
    try:
        await connection.ack(delivery.receive_id, [delivery.message_id])
    except RelayCommandError as error:
        logger.info("acknowledging a delivery of a retired inbox failed: %s", error.code)
    await contact_requests.delete_retired_inboxes(engine, connection)


async def _handle_private(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> bool:
    """Process one delivery from a contact's inbox; return whether it is held unacknowledged."""
    envelope = delivery.envelope
    envelope_id = message_id(envelope)
    if await _is_duplicate(engine, envelope_id):
        engine.duplicate_count += 1
        return False

    async with engine.lock:
        if contact_id in engine.key_changes:
            await renewal.hold_key_change(engine, contact_id, delivery)
            return True
        session = await engine.session(contact_id)
        route = engine.state.routes.get(contact_id)
        if session is None or route is None:
            engine.emit(DamagedMessage(contact_id, "no session with this contact"))
            return False

        if is_renew_request(envelope):
            return await renewal.handle_renew_request(engine, connection, contact_id, delivery)

        engine.decrypt_count += 1
        try:
            plaintext, new_session = session.decrypt(envelope, engine.clock() // 1000)
        except HandshakeError:
            # An "i" envelope with a new ephemeral key: the peer started a new session.
            return await renewal.accept_renewal(engine, connection, contact_id, delivery)
        except DuplicateMessageError:
            # Authentic, already decrypted, yet never stored: the peer's ratchet went back.
            logger.warning("peer reused message keys; recovering the session")
            await renewal.recover(engine, connection, contact_id)
            return False
        except AuthenticationError:
            await _authentication_failed(engine, connection, contact_id, envelope)
            return False
        except (DecodeError, KonselError) as error:
            engine.emit(DamagedMessage(contact_id, f"unreadable envelope: {type(error).__name__}"))
            return False

        if engine.hooks.after_decrypt is not None:
            await engine.hooks.after_decrypt(delivery)
        route.auth_failures = 0

        try:
            content = decode_content(plaintext)
        except DecodeError as error:
            engine.state.remember_control(envelope_id)
            await _commit_session(engine, contact_id, new_session)
            engine.emit(DamagedMessage(contact_id, f"invalid content: {error.field}"))
            return False

        missing = await engine.incoming_seq_gap(contact_id, content.seq)
        if missing:
            engine.emit(MessagesMissing(contact_id, missing))
        if not isinstance(content, Text):
            route.peer_last_seq = max(route.peer_last_seq, content.seq)
        await _apply(engine, connection, contact_id, envelope_id, content, new_session)
    return False


async def _authentication_failed(
    engine: Engine, connection: RelayConnection, contact_id: int, envelope: bytes
) -> None:
    """Report an envelope that failed authentication and recover a broken session.

    If the envelope's header opens under one of the session's header keys, the peer
    wrote it on a chain this session decrypted before, and only the body's key differs.
    So one side restored an old backup, and the session is replaced at once.

    A header that opens under no key is either a byte changed in transit (the header
    nonce is a hash of the body, so a changed body fails the header too) or a message
    from a chain this side has forgotten because it was itself restored. The first
    such failure in a row therefore sends a probe: a content message under this side's
    session. A restored side writes it with message keys the peer has already used, so
    the peer finds the rollback and recovers at once; an intact session just decrypts
    it. After :data:`AUTH_FAILURES_BEFORE_RENEWAL` failures in a row the session is
    replaced anyway.
    """
    route = engine.state.routes[contact_id]
    route.auth_failures += 1
    engine.emit(DamagedMessage(contact_id, "the envelope failed authentication"))
    if not route.accepted:
        return
    session = await engine.session(contact_id)
    if session is None:
        return
    failures = route.auth_failures
    if not header_opens(session, envelope) and failures < AUTH_FAILURES_BEFORE_RENEWAL:
        if failures == 1 and not renewal.in_cooldown(engine, contact_id):
            await _send_probe(engine, contact_id)
        return
    if renewal.in_cooldown(engine, contact_id) and failures < AUTH_FAILURES_BEFORE_RENEWAL:
        # Envelopes the peer sent under the old session arrive after the renewal.
        return
    route.auth_failures = 0
    route.recovered_at = 0
    await renewal.recover(engine, connection, contact_id)


async def _send_probe(engine: Engine, contact_id: int) -> None:
    # A profile message repeats this user's name and role, so an intact peer changes
    # nothing when it decrypts it.
    logger.info("unreadable envelope from contact %d; sending a probe", contact_id)
    role: Role = "konselor" if engine.state.role == "counselor" else "konseli"
    seq = await engine.next_seq(contact_id)
    probe = Profile(
        new_message_id(), seq, engine.clock(), display_name=engine.state.display_name, role=role
    )
    await engine.queue_control(contact_id, probe)


def header_opens(session: Session, envelope: bytes) -> bool:
    """Return whether the envelope's header opens under a header key of ``session``.

    NOTE: this reads the ratchet state's header keys from outside the protocol package;
    it belongs in :class:`~konsel.protocol.session.Session` as a method.
    """
    try:
        parsed = decode_envelope(envelope)
    except DecodeError:
        return False
    state = session.ratchet
    keys = [state.receiving_header_key, state.next_receiving_header_key]
    keys.extend(state.previous_receiving_header_keys)
    keys.extend(header_key for header_key, _number in state.skipped)
    for header_key in dict.fromkeys(key for key in keys if key is not None):
        try:
            opened = open_header(header_key, parsed.header, parsed.body, session.associated_data)
        except DecodeError:
            return True
        if opened is not None:
            return True
    return False


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
    elif isinstance(content, Decline):
        await _apply_decline(engine, contact_id, content, session)
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
        # The same content id in another envelope, as resent after a session renewal:
        # keep the advanced session, and confirm the delivery again so the sender stops
        # resending it.
        engine.state.remember_control(envelope_id)
        await _commit_session(engine, contact_id, session)
        engine.pending_delivered[contact_id].append(text.message_id)
        engine.sync.wake_receipts()


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
    if intro.contact_inbox is not None and engine.state.role == "student":
        # The counselor's long-lived contact inbox replaces the one its invitation named,
        # which may be a one-time inbox that is deleted after this pairing.
        route.peer_contact_send_id = intro.contact_inbox
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


async def _apply_decline(
    engine: Engine, contact_id: int, decline: Decline, session: Session
) -> None:
    """Mark a konseli's pending contact declined and retire its private inbox for it.

    The inbox is deleted on the relay after the acknowledgement (see
    :func:`handle_delivery`). A decline for a contact that is not pending, because this
    side is a counselor or the contact was accepted, is ignored.
    """
    state = engine.state
    route = state.routes[contact_id]
    if state.role != "student" or route.accepted:
        logger.warning("ignored a decline from contact %d", contact_id)
        unexpected = EngineErrorEvent("content_unexpected", decline.TAG)
        await commit_state(
            engine, session=(contact_id, session), then=lambda _: engine.emit(unexpected)
        )
        return

    route.declined = True
    inbox = state.inbox_for_contact(contact_id)
    if inbox is not None:
        del state.private_inboxes[inbox.receive_id]
        state.retired_inboxes.append(inbox)
    state.control_outbox = [item for item in state.control_outbox if item.contact_id != contact_id]
    declined = ContactDeclined(contact_id, decline.reason)
    await commit_state(engine, session=(contact_id, session), then=lambda _: engine.emit(declined))
    logger.info("contact %d declined the request (%s)", contact_id, decline.reason)
