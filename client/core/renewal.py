"""Session renewal: replace a contact's session that no longer matches the peer's.

A session breaks when one side loses ratchet state, for example by restoring an old
backup. The side that has the send id of the peer's contact inbox (the konseli) fetches a
new bundle and sends an "i" envelope with a fresh introduction to the peer's private
inbox. The other side decrypts it with its contact inbox's prekeys. Both emit
:class:`~.events.SessionRenewed`, because messages sent during the break are lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from konsel.protocol.content import Introduction, decode_content
from konsel.protocol.envelope import message_id
from konsel.protocol.errors import DecodeError, KonselError
from konsel.protocol.prekeys import PrekeyBundle
from konsel.protocol.session import Session

from .engine_state import ControlItem, commit_state
from .events import DamagedMessage, SessionRenewed
from .pairing import own_introduction
from .relay_connection import Delivery, RelayCommandError, RelayConnection

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.renewal")


async def renew_session(engine: Engine, connection: RelayConnection, contact_id: int) -> None:
    """Start a new session with a contact whose ratchet state no longer matches this one's.

    Only the side that has the send id of the peer's contact inbox (the konseli) can fetch a bundle and
    start X3DH again. The counselor's side reports the broken session and waits for the
    konseli's renewal. Call with :attr:`Engine.lock` held.
    """
    route = engine.state.routes[contact_id]
    inbox = engine.state.inbox_for_contact(contact_id)
    if route.peer_contact_send_id is None or inbox is None:
        logger.warning("session with contact %d is broken; waiting for the peer", contact_id)
        engine.emit(DamagedMessage(contact_id, "the session is out of step; the peer must renew"))
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
    intro = own_introduction(engine, inbox.send_id, SigningKey(route.sender_seed), seq=seq)
    envelope, session = session.encrypt(intro.encode())
    engine.state.control_outbox.append(
        ControlItem(engine.state.new_id(), contact_id, route.peer_send_id, envelope)
    )
    await commit_state(engine, session=(contact_id, session))
    engine.sync.wake_outbox()
    engine.emit(SessionRenewed(contact_id))


async def accept_renewal(
    engine: Engine, connection: RelayConnection, contact_id: int, delivery: Delivery
) -> None:
    """Replace a contact's session from an "i" envelope that starts a new one.

    Call with :attr:`Engine.lock` held.
    """
    try:
        session, plaintext, prekeys = Session.respond(
            engine.identity, engine.prekeys, delivery.envelope, now=engine.clock() // 1000
        )
        content = decode_content(plaintext)
    except (DecodeError, KonselError) as error:
        engine.emit(DamagedMessage(contact_id, f"unreadable new session: {type(error).__name__}"))
        return
    contact = await asyncio.to_thread(engine.store.get_contact, contact_id)
    if session.remote_identity.ed25519 != contact.identity_key:
        engine.emit(DamagedMessage(contact_id, "a new session from another identity"))
        return

    engine.state.remember_control(message_id(delivery.envelope))
    new_sender_key: bytes | None = None
    if isinstance(content, Introduction):
        route = engine.state.routes[contact_id]
        route.peer_send_id = content.inbox_id
        if route.peer_sender_key != content.sender_key:
            new_sender_key = content.sender_key
        route.peer_sender_key = content.sender_key
    await commit_state(engine, session=(contact_id, session), prekeys=prekeys)
    inbox = engine.state.inbox_for_contact(contact_id)
    if new_sender_key is not None and inbox is not None:
        await connection.secure(inbox.receive_id, new_sender_key)
    engine.emit(SessionRenewed(contact_id))
