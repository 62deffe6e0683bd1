"""Pairing by invitation link and the counselor's prekey pool.

The flow, with C the counselor and K the konseli (student):

1. C creates a contact inbox, uploads a signed-prekey bundle and one-time prekeys, and
   shares an invitation link (relay URL, contact inbox send id, identity key, bundle).
   A one-time invitation names an inbox of its own instead, which C deletes on the relay
   once the first request arrived, so a second konseli gets ``invitation_used``.
2. K fetches a bundle from the inbox the link names, with one one-time prekey while any are
   left, and checks that its identity matches the link. K then creates a private inbox,
   starts an X3DH session and sends an "i" envelope with an :class:`Introduction`. It
   carries K's profile, the send id of K's private inbox and the sender key K will prove
   when writing to C.
3. C decrypts it, which consumes the one-time prekey, and keeps it as a pending request.
4. On accept, C creates a private inbox for K, secures it to K's sender key, and replies
   with its own introduction, which names C's long-lived contact inbox for renewals. K
   secures its inbox to C's sender key on receipt. On decline, C forgets the request and
   sends K a :class:`~konsel.protocol.content.Decline` under the request's session; K then
   deletes its private inbox.

Starting a new session with an existing contact is in :mod:`.renewal`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import nacl.bindings as sodium
from nacl.signing import SigningKey

from konsel.protocol.content import (
    Introduction,
    new_message_id,
)
from konsel.protocol.errors import KonselError
from konsel.protocol.invitation import Invitation, InvitationError
from konsel.protocol.invitation_link import decode_link, encode_link
from konsel.protocol.prekeys import (
    MAX_ONE_TIME_PREKEYS,
    PrekeyBundle,
    PrekeyStore,
    encode_one_time_prekey,
)
from konsel.protocol.session import Session

from .engine_state import ControlItem, OwnedInbox, Route, commit_state
from .events import (
    EngineError,
)
from .relay_connection import (
    RelayCommandError,
    RelayConnection,
)

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.pairing")

CONNECT_TIMEOUT = 10.0
"""Seconds a pairing step waits for the relay connection before reporting ``offline``."""
MAX_PREKEYS_PER_UPLOAD = 100
"""One-time prekeys per ``pk_put`` command, the relay's per-command limit."""


def _content_role(role: str) -> str:
    return "konselor" if role == "counselor" else "konseli"


async def _connection(engine: Engine) -> RelayConnection:
    return await connect_for_request(engine)


async def connect_for_request(engine: Engine) -> RelayConnection:
    """Return the sync loop's relay connection, or raise ``offline`` after 10 s."""
    try:
        return await engine.sync.wait_connected(CONNECT_TIMEOUT)
    except TimeoutError:
        raise EngineError("offline", "no relay connection") from None


# --- counselor: invitation and prekeys ------------------------------------------------------


async def create_invitation(engine: Engine, kind: str, expires_at: int | None) -> str:
    """Upload prekeys on first use and return an invitation link.

    A reusable invitation names the counselor's contact inbox, which is created on first
    use. A one-time invitation names a new inbox of its own (:func:`_create_one_time_inbox`),
    and the contact inbox is still created, because the konseli renews sessions there.
    """
    state = engine.state
    if state.role != "counselor" or state.relay_url is None:
        raise EngineError("wrong_role", "only a counselor with a relay creates invitations")
    connection = await _connection(engine)

    if state.contact_inbox is None:
        owner = SigningKey.generate()
        created = await connection.create_inbox("contact", bytes(owner.verify_key))
        subscribed = await connection.subscribe(created.receive_id, owner)
        async with engine.lock:
            state.contact_inbox = OwnedInbox(
                created.receive_id, created.send_id, bytes(owner), "contact"
            )
            await commit_state(engine)
        await refill_prekeys(engine, connection, subscribed.prekeys)

    if kind == "one_time":
        # Each one-time invitation adds an inbox, so expired ones go first. Imported
        # here because contact_requests builds on this module.
        from .contact_requests import delete_retired_inboxes

        await delete_retired_inboxes(engine, connection)
        inbox_id = (await _create_one_time_inbox(engine, connection, expires_at)).send_id
    else:
        inbox_id = state.contact_inbox.send_id
    invitation = Invitation(
        relay_url=state.relay_url,
        inbox_id=inbox_id,
        identity_key=engine.identity.public.ed25519,
        prekey_bundle=engine.prekeys.bundle(engine.identity, None).encode(),
        kind="one_time" if kind == "one_time" else "reusable",
        expires_at=expires_at,
        display_name=state.display_name,
    )
    return encode_link(invitation)


async def _create_one_time_inbox(
    engine: Engine, connection: RelayConnection, expires_at: int | None
) -> OwnedInbox:
    """Create the inbox of one one-time invitation, with the bundle and one one-time prekey.

    The inbox is committed before it is subscribed, so the first request to it finds it.
    """
    owner = SigningKey.generate()
    created = await connection.create_inbox("contact", bytes(owner.verify_key))
    inbox = OwnedInbox(
        created.receive_id,
        created.send_id,
        bytes(owner),
        "one_time",
        expires_at=expires_at,
    )
    async with engine.lock:
        prekeys = _drop_oldest_one_time_prekeys(engine.prekeys, 1)
        prekey_id = prekeys.next_one_time_id
        prekeys = prekeys.add_one_time_prekeys(1)
        engine.state.private_inboxes[inbox.receive_id] = inbox
        await commit_state(engine, prekeys=prekeys)

    await connection.subscribe(created.receive_id, owner)
    public_key = sodium.crypto_scalarmult_base(prekeys.one_time_prekeys[prekey_id])
    bundle = prekeys.bundle(engine.identity, None).encode()
    await connection.put_prekeys(
        created.receive_id, bundle, [encode_one_time_prekey(prekey_id, public_key)]
    )
    logger.info("created a one-time invitation inbox %s", created.receive_id[:3].hex())
    return inbox


async def refill_prekeys(engine: Engine, connection: RelayConnection, remaining: int) -> None:
    """Upload the bundle and new one-time prekeys when the relay's pool is at half or less."""
    inbox = engine.state.contact_inbox
    target = engine.state.one_time_prekey_target
    engine.relay_prekey_count = remaining
    if inbox is None or remaining > target // 2:
        return

    async with engine.lock:
        count = target - remaining
        prekeys = _drop_oldest_one_time_prekeys(engine.prekeys, count)
        first_new = prekeys.next_one_time_id
        prekeys = prekeys.add_one_time_prekeys(count)
        await commit_state(engine, prekeys=prekeys)

    records = [
        encode_one_time_prekey(prekey_id, sodium.crypto_scalarmult_base(private_key))
        for prekey_id, private_key in sorted(prekeys.one_time_prekeys.items())
        if prekey_id >= first_new
    ]
    bundle = prekeys.bundle(engine.identity, None).encode()
    for start in range(0, max(len(records), 1), MAX_PREKEYS_PER_UPLOAD):
        chunk = records[start : start + MAX_PREKEYS_PER_UPLOAD]
        stored = await connection.put_prekeys(inbox.receive_id, bundle, chunk)
        engine.relay_prekey_count = stored
        logger.info("uploaded %d one-time prekeys; the relay now stores %d", len(chunk), stored)


def _drop_oldest_one_time_prekeys(prekeys: PrekeyStore, room: int) -> PrekeyStore:
    """Drop the oldest local one-time prekeys so that ``room`` new ones fit under the cap.

    The oldest were handed out longest ago, so their initial envelopes are the least
    likely to arrive still.
    """
    excess = len(prekeys.one_time_prekeys) + room - MAX_ONE_TIME_PREKEYS
    for prekey_id in sorted(prekeys.one_time_prekeys)[: max(excess, 0)]:
        _, prekeys = prekeys.consume_one_time_prekey(prekey_id)
    return prekeys


# --- konseli: accepting an invitation ---------------------------------------------------------


async def accept_invitation(engine: Engine, link: str) -> int:
    """Send a contact request through an invitation link; return the new contact's id."""
    try:
        invitation = decode_link(link, now=int(time.time()))
    except InvitationError as error:
        raise EngineError(error.code, str(error)) from None
    return await accept_decoded_invitation(engine, invitation)


async def accept_decoded_invitation(engine: Engine, invitation: Invitation) -> int:
    """Send a contact request to a checked invitation; return the new contact's id.

    Both the link flow and the short-code flow end here.
    """
    state = engine.state
    if state.relay_url is None:
        state.relay_url = invitation.relay_url
        engine.sync.start()
    elif state.relay_url != invitation.relay_url:
        raise EngineError("relay_mismatch", "the invitation names another relay")
    connection = await _connection(engine)

    try:
        fetched = await connection.fetch_prekeys(invitation.inbox_id)
    except RelayCommandError as error:
        if error.code != "NOT_FOUND":
            raise
        # The relay gives NOT_FOUND for a deleted inbox and for one without a bundle, so
        # the counselor deleted or never finished the inbox behind this invitation.
        raise EngineError(
            "invitation_used", "the relay has no inbox or bundle for this invitation"
        ) from None
    try:
        bundle = PrekeyBundle.decode(fetched.bundle, fetched.one_time_prekey)
    except KonselError as error:
        raise EngineError("invitation_invalid", f"bundle from the relay: {error}") from None
    if bundle.identity.ed25519 != invitation.identity_key:
        raise EngineError("invitation_invalid", "the relay's bundle has another identity key")

    owner = SigningKey.generate()
    created = await connection.create_inbox("private", bytes(owner.verify_key))
    await connection.subscribe(created.receive_id, owner)
    sender = SigningKey.generate()
    session = Session.initiate(engine.identity, bundle)
    # The introduction is the first content message of the conversation: seq 1.
    intro = Introduction(
        new_message_id(),
        1,
        engine.clock(),
        display_name=state.display_name,
        role="konseli",
        relay_url=invitation.relay_url,
        inbox_id=created.send_id,
        sender_key=bytes(sender.verify_key),
    )
    envelope, session = session.encrypt(intro.encode())

    async with engine.lock:
        contact = await asyncio.to_thread(
            engine.store.add_contact,
            invitation.display_name or "Guru BK",
            "counselor",
            invitation.identity_key,
            [created.receive_id],
        )
        state.private_inboxes[created.receive_id] = OwnedInbox(
            created.receive_id, created.send_id, bytes(owner), "private", contact.id
        )
        state.routes[contact.id] = Route(
            contact.id,
            peer_send_id=invitation.inbox_id,
            sender_seed=bytes(sender),
            peer_contact_send_id=invitation.inbox_id,
            last_seq=intro.seq,
        )
        state.control_outbox.append(
            ControlItem(state.new_id(), contact.id, invitation.inbox_id, envelope)
        )
        await commit_state(engine, session=(contact.id, session))
    engine.sync.wake_outbox()
    return contact.id


def own_introduction(
    engine: Engine,
    inbox_send_id: bytes,
    sender: SigningKey,
    *,
    seq: int,
    contact_inbox: bytes | None = None,
) -> Introduction:
    """Build this user's introduction for a private inbox, a sender key and a renewal inbox."""
    state = engine.state
    assert state.relay_url is not None
    return Introduction(
        new_message_id(),
        seq,
        engine.clock(),
        display_name=state.display_name,
        role=_content_role(state.role),  # type: ignore[arg-type]
        relay_url=state.relay_url,
        inbox_id=inbox_send_id,
        sender_key=bytes(sender.verify_key),
        contact_inbox=contact_inbox,
    )
