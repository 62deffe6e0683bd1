"""Session renewal: replace a contact's session that no longer matches the peer's.

A session breaks when one side loses ratchet state, for example by restoring an old
backup. The side that has the send id of the peer's contact inbox (the konseli) fetches a
new bundle and sends an "i" envelope with a fresh introduction to the peer's private
inbox. The other side decrypts it with its contact inbox's prekeys. The counselor cannot
start X3DH, because konseli publish no prekeys, so it sends a signed renew request ("r"
envelope, :mod:`konsel.protocol.renew_request`) and the konseli's client renews.

After a renewal each side encrypts its own text messages that have no delivery receipt
again under the new session and queues them in their original order with their original
content ids, so the peer shows each of them once. Both sides emit
:class:`~.events.SessionRenewed`, because messages sent during the break may be lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from konsel.protocol.content import Introduction, Text, decode_content
from konsel.protocol.envelope import message_id
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    KonselError,
    RenewRequestError,
)
from konsel.protocol.identity import IdentityPublicKey
from konsel.protocol.prekeys import PrekeyBundle
from konsel.protocol.renew_request import (
    create_renew_request,
    verify_renew_request,
)
from konsel.protocol.session import Session

from .engine_state import MAX_RENEW_NONCES, ControlItem, commit_state, write_store
from .errors import RecordNotFound
from .events import (
    ContactKeyChanged,
    DamagedMessage,
    EngineError,
    MessagesMissing,
    RenewalCause,
    SessionRenewed,
)
from .pairing import own_introduction
from .relay_connection import Delivery, RelayCommandError, RelayConnection

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.renewal")

RECOVERY_COOLDOWN_MS = 60_000
"""After a renewal, or a renew request sent, failures from that contact start no new one
for this long. Envelopes the peer sent under the old session arrive after the new one
and fail too, and a relay that flips bytes could otherwise force a renewal per message."""


def in_cooldown(engine: Engine, contact_id: int) -> bool:
    """Return whether this side replaced or asked to replace the session a moment ago."""
    route = engine.state.routes[contact_id]
    return 0 < engine.clock() - route.recovered_at < RECOVERY_COOLDOWN_MS


async def recover(engine: Engine, connection: RelayConnection, contact_id: int) -> None:
    """Replace a session that the peer's rollback broke: renew it, or ask the peer to.

    Call with :attr:`Engine.lock` held. Inside the cooldown this only logs.
    """
    route = engine.state.routes[contact_id]
    if in_cooldown(engine, contact_id):
        logger.info("session with contact %d failed again right after a renewal", contact_id)
        return
    if route.peer_contact_send_id is not None:
        await renew_session(engine, connection, contact_id)
    else:
        await request_renewal(engine, contact_id)


async def request_renewal(engine: Engine, contact_id: int) -> None:
    """Queue a signed renew request to a konseli whose session broke (counselors).

    Call with :attr:`Engine.lock` held.
    """
    route = engine.state.routes[contact_id]
    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    envelope = create_renew_request(
        engine.identity, IdentityPublicKey(contact.identity_key), engine.clock() // 1000
    )
    logger.warning("session with contact %d is broken; asking the peer to renew", contact_id)
    route.recovered_at = engine.clock()
    engine.state.control_outbox.append(
        ControlItem(engine.state.new_id(), contact_id, route.peer_send_id, envelope)
    )
    await commit_state(engine)
    engine.sync.wake_outbox()


async def handle_renew_request(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> bool:
    """Check a renew request from a contact and renew the session if it is valid.

    Call with :attr:`Engine.lock` held. A valid request within the cooldown of this
    side's own renewal is recorded but starts nothing, because the counselor sent it
    before it saw that renewal. A request signed by another identity key than the
    counselor's known one starts a hold (:func:`_changed_signer_key`); any other invalid
    request is reported as a damaged message. Returns whether the delivery is held.
    """
    route = engine.state.routes.get(contact_id)
    if route is None or route.peer_contact_send_id is None:
        engine.emit(DamagedMessage(contact_id, "a renew request to a side that cannot renew"))
        return False

    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    try:
        request = verify_renew_request(
            delivery.envelope,
            IdentityPublicKey(contact.identity_key),
            engine.identity.public,
            now=engine.clock() // 1000,
            seen_nonces=route.renew_nonces,
        )
    except (DecodeError, AuthenticationError, RenewRequestError) as error:
        if isinstance(error, AuthenticationError):
            new_key = await _changed_signer_key(engine, connection, contact_id, delivery)
            if new_key is not None:
                await hold_key_change(engine, contact_id, delivery, new_key)
                return True
        logger.warning("renew request rejected: %s", type(error).__name__)
        engine.emit(DamagedMessage(contact_id, f"renew request rejected: {type(error).__name__}"))
        return False

    route.renew_nonces.append(request.nonce)
    del route.renew_nonces[:-MAX_RENEW_NONCES]
    engine.state.remember_control(message_id(delivery.envelope))
    if in_cooldown(engine, contact_id):
        logger.info("renew request from contact %d after a renewal; nothing to do", contact_id)
        await commit_state(engine)
        return False
    await renew_session(engine, connection, contact_id, cause="peer_request")
    return False


async def _changed_signer_key(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> bytes | None:
    """Return the counselor's new identity key if it signed a renew request; else None.

    A renew request names no key, so the konseli fetches a bundle from the counselor's
    contact inbox. If that bundle carries another identity key and the request verifies
    under it, the counselor's identity key changed. The fetch takes one one-time prekey.
    Only the counselor (by its sender key) and the relay can write to this inbox, and the
    relay can take those prekeys anyway, so no limit is needed here.
    """
    route = engine.state.routes[contact_id]
    assert route.peer_contact_send_id is not None
    try:
        fetched = await connection.fetch_prekeys(route.peer_contact_send_id)
        bundle = PrekeyBundle.decode(fetched.bundle, fetched.one_time_prekey)
    except (RelayCommandError, KonselError) as error:
        logger.warning("cannot fetch a bundle to check a renew request: %s", error)
        return None
    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    new_key = bundle.identity.ed25519
    if new_key == contact.identity_key:
        return None
    try:
        verify_renew_request(
            delivery.envelope,
            bundle.identity,
            engine.identity.public,
            now=engine.clock() // 1000,
            seen_nonces=route.renew_nonces,
        )
    except (DecodeError, AuthenticationError, RenewRequestError):
        return None
    return new_key


async def renew_session(
    engine: Engine,
    connection: RelayConnection,
    contact_id: int,
    cause: RenewalCause = "peer_rollback",
) -> None:
    """Start a new session with a contact whose ratchet state no longer matches this one's.

    Only the side that has the send id of the peer's contact inbox (the konseli) can
    fetch a bundle and start X3DH again. The counselor sends a renew request instead
    (:func:`request_renewal`).
    Call with :attr:`Engine.lock` held.
    """
    route = engine.state.routes[contact_id]
    inbox = engine.state.inbox_for_contact(contact_id)
    if route.peer_contact_send_id is None or inbox is None:
        await request_renewal(engine, contact_id)
        return

    try:
        fetched = await connection.fetch_prekeys(route.peer_contact_send_id)
        bundle = PrekeyBundle.decode(fetched.bundle, fetched.one_time_prekey)
    except (RelayCommandError, KonselError) as error:
        logger.warning("cannot fetch a bundle to renew the session: %s", error)
        return
    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    if bundle.identity.ed25519 != contact.identity_key:
        logger.warning(
            "the bundle from the contact inbox has another identity key; renewal stopped"
        )
        return

    session = Session.initiate(engine.identity, bundle)
    seq = await engine.next_seq(contact_id)
    route.last_seq = seq
    route.recovered_at = engine.clock()
    intro = own_introduction(engine, inbox.send_id, SigningKey(route.sender_seed), seq=seq)
    envelope, session = session.encrypt(intro.encode())
    # Seq 0 in the outbox sends the introduction before the texts queued again below,
    # because the peer takes the new session from the first "i" envelope it reads.
    engine.state.control_outbox.append(
        ControlItem(engine.state.new_id(), contact_id, route.peer_send_id, envelope, 0)
    )
    await commit_state(engine, session=(contact_id, session))
    resent = await resend_undelivered(engine, contact_id, session)
    engine.sync.wake_outbox()
    engine.emit(SessionRenewed(contact_id, cause, resent))


async def accept_renewal(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> bool:
    """Replace a contact's session from an "i" envelope that starts a new one.

    Call with :attr:`Engine.lock` held. An envelope from another identity key than the
    contact's starts a hold (:func:`hold_key_change`) instead. Returns whether the
    delivery is held, and so must not be acknowledged.
    """
    try:
        session, plaintext, prekeys = Session.respond(
            engine.identity, engine.prekeys, delivery.envelope, now=engine.clock() // 1000
        )
        content = decode_content(plaintext)
    except (DecodeError, KonselError) as error:
        engine.emit(DamagedMessage(contact_id, f"unreadable new session: {type(error).__name__}"))
        return False
    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    if session.remote_identity.ed25519 != contact.identity_key:
        await hold_key_change(engine, contact_id, delivery, session.remote_identity.ed25519)
        return True

    engine.state.remember_control(message_id(delivery.envelope))
    route = engine.state.routes[contact_id]
    route.recovered_at = engine.clock()
    route.auth_failures = 0
    new_sender_key: bytes | None = None
    if isinstance(content, Introduction):
        missing = await engine.incoming_seq_gap(contact_id, content.seq)
        if missing:
            engine.emit(MessagesMissing(contact_id, missing))
        route.peer_send_id = content.inbox_id
        route.peer_last_seq = max(route.peer_last_seq, content.seq)
        if route.peer_sender_key != content.sender_key:
            new_sender_key = content.sender_key
        route.peer_sender_key = content.sender_key
    await commit_state(engine, session=(contact_id, session), prekeys=prekeys)
    inbox = engine.state.inbox_for_contact(contact_id)
    if new_sender_key is not None and inbox is not None:
        await connection.secure(inbox.receive_id, new_sender_key)
    resent = await resend_undelivered(engine, contact_id, session)
    engine.sync.wake_outbox()
    engine.emit(SessionRenewed(contact_id, "peer_renewed", resent))
    return False


async def hold_key_change(
    engine: Engine, contact_id: int, delivery: Delivery, new_key: bytes | None = None
) -> None:
    """Hold a delivery from a contact whose identity key changed, unacknowledged.

    The store records the hold: the first held delivery stores ``new_key`` and clears the
    contact's verified mark in one transaction, and :class:`~.events.ContactKeyChanged`
    is emitted. Held deliveries also stay on the relay, and after a restart the engine
    loads them from the store (:func:`load_key_changes`); a copy the relay pushes again
    is held once. The relay's window of unacknowledged deliveries per inbox bounds how
    many are held. Call with :attr:`Engine.lock` held.
    """
    held = engine.key_changes.get(contact_id)
    if held is not None and any(earlier.message_id == delivery.message_id for earlier in held):
        return
    key = None if held is not None else new_key
    started = await asyncio.to_thread(engine.store.hold_delivery, contact_id, delivery, key)
    engine.key_changes.setdefault(contact_id, []).append(delivery)
    if started:
        logger.warning("identity key of contact %d changed; holding its messages", contact_id)
        engine.emit(ContactKeyChanged(contact_id))


async def load_key_changes(engine: Engine) -> None:
    """Load the held deliveries of every contact with an unconfirmed key change."""
    engine.key_changes = await asyncio.to_thread(engine.store.held_deliveries)


async def confirm_key_change(engine: Engine, connection: RelayConnection, contact_id: int) -> int:
    """Take the contact's new identity key and process its held deliveries in order.

    Returns the number of held deliveries processed.

    Raises:
        EngineError: ``key_change_not_found`` when nothing is held for this contact.
    """
    # Imported here because the receive module imports this one.
    from .receive import handle_delivery

    async with engine.lock:
        held = engine.key_changes.get(contact_id)
        if held is None:
            raise EngineError("key_change_not_found", f"contact {contact_id}")
        try:
            await asyncio.to_thread(engine.store.confirm_key_change, contact_id)
        except RecordNotFound:
            raise EngineError("key_change_not_found", f"contact {contact_id}") from None
        del engine.key_changes[contact_id]
    logger.info("user confirmed the new identity key of contact %d", contact_id)

    for delivery in held:
        await handle_delivery(engine, connection, delivery)
    return len(held)


async def resend_undelivered(engine: Engine, contact_id: int, session: Session) -> int:
    """Encrypt own texts without a delivery receipt under ``session`` and queue them again.

    The texts keep their content id, ``seq`` and ``sent_at``, and go out in their
    original order after the control envelopes, so a peer that already has one drops it
    by its content id. Call with :attr:`Engine.lock` held, right after ``session`` was
    committed. Returns the number of texts queued.
    """
    conversation_id = await engine.conversation(contact_id)
    messages = await asyncio.to_thread(engine.store.undelivered_outgoing, conversation_id)
    if not messages:
        return 0

    envelopes: list[tuple[int, bytes, bytes]] = []
    for message in messages:
        text = Text(message.content_id, message.sender_seq or 0, message.sent_at or 0, message.body)
        envelope, session = session.encrypt(text.encode())
        envelopes.append((message.order, message_id(envelope), envelope))
    session_state = session.to_bytes()
    destination = engine.state.routes[contact_id].peer_send_id

    def requeue() -> None:
        engine.store.requeue_outgoing(
            conversation_id, envelopes, session_state, destination=destination
        )

    def cache(_: None) -> None:
        engine.sessions[contact_id] = session
        for order, _envelope_id, _envelope in envelopes:
            engine.status_changed(contact_id, order, "waiting")

    await write_store(engine, requeue, cache)
    logger.info("queued %d undelivered texts again for contact %d", len(envelopes), contact_id)
    return len(envelopes)
