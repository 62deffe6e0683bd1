"""Contact requests on the counselor's side: taking, accepting and declining them.

A request is a konseli's "i" envelope with an introduction on the contact inbox or on a
one-time invitation's inbox (see :mod:`.pairing` for the whole flow). Accepting it opens
a private inbox for the konseli; declining sends a decline under the request's session.
One-time inboxes are retired once spent and deleted on the relay when a connection allows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from konsel.protocol.content import (
    Decline,
    DeclineReason,
    Introduction,
    decode_content,
    new_message_id,
)
from konsel.protocol.envelope import message_id
from konsel.protocol.errors import DecodeError, KonselError
from konsel.protocol.prekeys import (
    PrekeyStore,
)
from konsel.protocol.session import Session

from .engine_state import ControlItem, OwnedInbox, PendingRequest, Route, commit_state
from .events import (
    ContactAdded,
    ContactRequestPending,
    DamagedMessage,
    EngineError,
)
from .relay_connection import (
    Delivery,
    RelayCommandError,
    RelayConnection,
    RelayConnectionClosed,
)

if TYPE_CHECKING:
    from .engine import Engine

from .pairing import connect_for_request, own_introduction

logger = logging.getLogger("konsel.client.pairing")


# --- counselor: requests --------------------------------------------------------------------


async def handle_request(
    engine: Engine,
    connection: RelayConnection,
    delivery: Delivery,
    one_time: OwnedInbox | None = None,
) -> None:
    """Decrypt a contact request and keep it as pending.

    ``one_time`` is the one-time inbox the request arrived on. Its first request spends
    it: the inbox is retired in the same commit as the pending request and deleted on
    the relay after the acknowledgement (:func:`delete_retired_inboxes`).
    """
    del connection
    envelope_id = message_id(delivery.envelope)
    if engine.state.is_known_control(envelope_id):
        engine.duplicate_count += 1
        return

    async with engine.lock:
        opened = _open_request(engine, delivery)
        if opened is None:
            return
        session, content, prekeys = opened
        request = PendingRequest(
            request_id=engine.state.new_id(),
            identity_key=session.remote_identity.ed25519,
            display_name=content.display_name,
            relay_url=content.relay_url,
            inbox_id=content.inbox_id,
            sender_key=content.sender_key,
            session=session.to_bytes(),
            envelope_id=envelope_id,
            received_at=engine.clock(),
        )
        engine.state.pending[request.request_id] = request
        if one_time is not None:
            # NOTE: a retired inbox is not subscribed after a reconnect. A request sent to
            # it between a cut connection and its deletion is deleted unanswered.
            engine.state.spend_one_time_inbox(one_time)
        await commit_state(engine, prekeys=prekeys)

    # A konseli who paired by short code proved its identity key in that exchange, so
    # the short-code flow accepts its request without asking the counselor again, and
    # the counselor is not asked either.
    if not engine.state.is_expected_key(request.identity_key, engine.clock()):
        fingerprint = session.remote_identity.fingerprint()[:8]
        engine.emit(ContactRequestPending(request.request_id, request.display_name, fingerprint))
    engine.shortcodes.request_arrived(request)


async def decline_used_invitation(engine: Engine, delivery: Delivery) -> None:
    """Decline a request to a one-time inbox that another konseli already used.

    The konseli fetched the bundle before the inbox was deleted. It gets a ``decline``
    with the reason ``invitation_used``, and the counselor sees no request.
    """
    envelope_id = message_id(delivery.envelope)
    if engine.state.is_known_control(envelope_id):
        engine.duplicate_count += 1
        return

    async with engine.lock:
        opened = _open_request(engine, delivery)
        if opened is None:
            return
        session, content, prekeys = opened
        engine.state.remember_control(envelope_id)
        _queue_decline(engine, session, content.inbox_id, "invitation_used")
        await commit_state(engine, prekeys=prekeys)
    logger.info("declined a second request to a used one-time invitation")
    engine.sync.wake_outbox()


def _open_request(
    engine: Engine, delivery: Delivery
) -> tuple[Session, Introduction, PrekeyStore] | None:
    """Decrypt a contact request; report a damaged one and return None (lock held)."""
    engine.decrypt_count += 1
    try:
        session, plaintext, prekeys = Session.respond(
            engine.identity, engine.prekeys, delivery.envelope, now=engine.clock() // 1000
        )
        content = decode_content(plaintext)
    except (DecodeError, KonselError) as error:
        engine.emit(DamagedMessage(None, f"unreadable contact request: {type(error).__name__}"))
        return None
    if not isinstance(content, Introduction):
        engine.emit(DamagedMessage(None, "a contact request without an introduction"))
        return None
    return session, content, prekeys


async def accept_request(engine: Engine, request_id: int) -> int:
    """Accept a pending request: private inbox, secured, introduction sent back."""
    state = engine.state
    request = state.pending.get(request_id)
    if request is None:
        raise EngineError("request_not_found", f"request {request_id}")
    connection = await connect_for_request(engine)

    # NOTE: a crash between creating the inbox and the commit below leaves an unused inbox
    # on the relay. The request stays pending, so a second accept creates another inbox.
    owner = SigningKey.generate()
    created = await connection.create_inbox("private", bytes(owner.verify_key))
    await connection.subscribe(created.receive_id, owner)
    await connection.secure(created.receive_id, request.sender_key)
    sender = SigningKey.generate()

    async with engine.lock:
        contact = await asyncio.to_thread(
            engine.store.add_contact,
            request.display_name,
            "student",
            request.identity_key,
            [created.receive_id],
        )
        state.private_inboxes[created.receive_id] = OwnedInbox(
            created.receive_id, created.send_id, bytes(owner), "private", contact.id
        )
        state.routes[contact.id] = Route(
            contact.id,
            peer_send_id=request.inbox_id,
            sender_seed=bytes(sender),
            peer_sender_key=request.sender_key,
            accepted=True,
            last_seq=1,
        )
        # The konseli renews sessions through the contact inbox, which outlives the
        # one-time inbox its invitation may have named.
        renewal_inbox = None if state.contact_inbox is None else state.contact_inbox.send_id
        intro = own_introduction(
            engine, created.send_id, sender, seq=1, contact_inbox=renewal_inbox
        )
        envelope, session = Session.from_bytes(request.session).encrypt(intro.encode())
        state.control_outbox.append(
            ControlItem(state.new_id(), contact.id, request.inbox_id, envelope)
        )
        del state.pending[request_id]
        state.forget_key(request.identity_key)
        state.remember_control(request.envelope_id)
        await commit_state(engine, session=(contact.id, session))

    engine.sync.wake_outbox()
    engine.emit(ContactAdded(contact.id, request.display_name, "student"))
    return contact.id


async def decline_request(engine: Engine, request_id: int) -> None:
    """Forget a pending request and queue a ``decline`` to the konseli's private inbox.

    The one-time prekey of the request is already spent. The decline is encrypted under
    the session the request started, which is then dropped.
    """
    async with engine.lock:
        request = engine.state.pending.pop(request_id, None)
        if request is None:
            raise EngineError("request_not_found", f"request {request_id}")
        engine.state.remember_control(request.envelope_id)
        _queue_decline(engine, Session.from_bytes(request.session), request.inbox_id, "declined")
        await commit_state(engine)
    engine.sync.wake_outbox()


def _queue_decline(
    engine: Engine, session: Session, inbox_id: bytes, reason: DeclineReason
) -> None:
    """Add a decline to the control outbox, for the caller's commit (lock held).

    It is the counselor's first and only content message in that conversation, so its
    ``seq`` is 1, as an introduction's would be. The konseli's inbox is not secured yet,
    so the write needs no sender proof.
    """
    decline = Decline(new_message_id(), 1, engine.clock(), reason=reason)
    envelope, _ = session.encrypt(decline.encode())
    engine.state.control_outbox.append(ControlItem(engine.state.new_id(), 0, inbox_id, envelope))


# --- both: retired inboxes --------------------------------------------------------------------


async def delete_retired_inboxes(engine: Engine, connection: RelayConnection) -> None:
    """Delete retired inboxes on the relay, first retiring expired one-time inboxes.

    An inbox leaves the list once the relay deleted it or reports it missing. One that
    the relay refuses stays for the next call, which the engine makes after each
    connection and after each delivery that retired an inbox.
    """
    await _retire_expired_one_time_inboxes(engine)
    for inbox in list(engine.state.retired_inboxes):
        try:
            await connection.delete_inbox(inbox.receive_id, SigningKey(inbox.owner_seed))
        except RelayCommandError as error:
            if error.code != "NOT_FOUND":
                logger.warning("deleting a retired inbox failed: %s", error.code)
                continue
        except (RelayConnectionClosed, OSError, TimeoutError) as error:
            logger.info("deleting retired inboxes stopped: %s", type(error).__name__)
            return

        async with engine.lock:
            if inbox in engine.state.retired_inboxes:
                engine.state.retired_inboxes.remove(inbox)
                await commit_state(engine)
        logger.info("deleted retired %s inbox %s", inbox.kind, inbox.receive_id[:3].hex())


async def _retire_expired_one_time_inboxes(engine: Engine) -> None:
    now = engine.clock() // 1000
    state = engine.state
    expired = [
        inbox
        for inbox in state.private_inboxes.values()
        if inbox.kind == "one_time" and inbox.expires_at is not None and inbox.expires_at <= now
    ]
    if not expired:
        return
    async with engine.lock:
        for inbox in expired:
            if state.private_inboxes.pop(inbox.receive_id, None) is not None:
                state.retired_inboxes.append(inbox)
        await commit_state(engine)
