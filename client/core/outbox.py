"""The outbox: send stored envelopes until the relay confirms them.

Text messages wait in the store's outbox table, written together with the message and
the ratchet state before anything is sent. Control messages (receipts, introductions)
wait in the engine state's control list, written together with their ratchet state.
Every retry sends the identical envelope bytes, so a receiver that got an earlier copy
drops the next one by its envelope message id without decrypting it.

A send to a peer's secured inbox needs a sender proof on each new connection. The
sender does not know whether the peer has secured its inbox yet, so it proves once per
connection before the first send to that inbox and takes ``WRONG_KIND`` as "not secured
yet". If the peer secures the inbox later, the relay replies with ``PROOF_REQUIRED``, and
the sender proves and sends again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from konsel.protocol.content import MAX_RECEIPT_IDS, Delivered, Read, new_message_id

from .engine_state import commit_state
from .events import EngineErrorEvent
from .relay_connection import RelayCommandError, RelayConnection, RelayConnectionClosed
from .store import OutboxItem

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.outbox")

BATCH_SIZE = 32
"""Envelopes sent before waiting for their replies; the relay stores them in this order."""
MAX_ROUNDS = 200
"""Batches sent in one flush before the loop yields and starts again after a pause."""

TEMPORARY_CODES = frozenset({"RATE_LIMITED", "QUOTA_EXCEEDED", "STORAGE_FULL", "INTERNAL"})
"""Relay refusals after which the same envelope is sent again later."""


async def send_receipt(
    engine: Engine, contact_id: int, kind: str, content_ids: list[bytes]
) -> None:
    """Queue delivered or read receipts for a contact's messages, 256 ids per receipt.

    Each receipt's ids leave the front of ``content_ids`` in the step that commits the
    receipt. If the call is cancelled, the list therefore contains exactly the ids whose
    receipt is not queued, and passing it again sends each id once. Without an accepted
    route to the contact, the list is emptied and nothing is sent.
    """
    route = engine.state.routes.get(contact_id)
    if route is None or not route.accepted:
        content_ids.clear()
        return
    receipt_type = Delivered if kind == "delivered" else Read
    while content_ids:
        async with engine.lock:
            if await engine.session(contact_id) is None:
                content_ids.clear()
                return
            chunk = tuple(content_ids[:MAX_RECEIPT_IDS])
            seq = await engine.next_seq(contact_id)
            receipt = receipt_type(new_message_id(), seq, engine.clock(), chunk)

            def forget_chunk(_: object, count: int = len(chunk)) -> None:
                del content_ids[:count]

            await engine.queue_control(contact_id, receipt, then=forget_chunk)


async def flush(engine: Engine, connection: RelayConnection, proven: set[bytes]) -> bool:
    """Send every waiting envelope; return False if some must wait for a later retry.

    Raises:
        RelayConnectionClosed: the connection ended; the envelopes stay queued.
    """
    for _ in range(MAX_ROUNDS):
        items = await asyncio.to_thread(engine.store.pending_outbox, BATCH_SIZE)
        # Control messages and texts go out in the order of their seq, so the receiver
        # does not take a receipt that overtook a text for a sign of lost messages.
        first_text_seq = items[0].sender_seq if items else None
        if not await _flush_control(engine, connection, proven, first_text_seq):
            return False
        if not items:
            return True
        next_control_seq = min(
            (item.seq for item in engine.state.control_outbox if item.seq), default=None
        )
        if next_control_seq is not None:
            # Seqs are unique per sender, so the first text always stays in the batch.
            items = [item for item in items if (item.sender_seq or 0) < next_control_seq] or items[
                :1
            ]
        try:
            for destination in dict.fromkeys(item.destination for item in items):
                await _check_proof(engine, connection, proven, destination)
        except RelayCommandError as error:
            logger.warning("sender proof rejected by the relay: %s", error.code)
            engine.emit(EngineErrorEvent("relay_rejected", error.code))
            return False
        sends = [_send_frame(engine, connection, item.destination, item.envelope) for item in items]
        results = await asyncio.gather(*sends, return_exceptions=True)

        retry_later = False
        for item, result in zip(items, results, strict=True):
            if isinstance(result, RelayConnectionClosed):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, RelayCommandError):
                raise result
            if isinstance(result, RelayCommandError):
                retry_later |= not await _handle_refusal(engine, connection, proven, item, result)
                continue
            await _mark_sent(engine, item)
        await engine.emit_outbox()
        if retry_later:
            return False
    return False


async def send_now(
    engine: Engine, connection: RelayConnection, proven: set[bytes], order: int
) -> None:
    """Send one waiting text message immediately, proving the sender key if needed."""
    items = await asyncio.to_thread(engine.store.pending_outbox, 10_000)
    for item in items:
        if item.message_order == order:
            await _send_proved(engine, connection, proven, item.destination, item.envelope)
            await _mark_sent(engine, item)
            await engine.emit_outbox()
            return


async def _flush_control(
    engine: Engine, connection: RelayConnection, proven: set[bytes], below_seq: int | None
) -> bool:
    """Send the control envelopes whose seq is below ``below_seq`` (None: all of them)."""
    for item in list(engine.state.control_outbox):
        if below_seq is not None and item.seq and item.seq >= below_seq:
            continue
        try:
            await _send_proved(engine, connection, proven, item.destination, item.envelope)
        except RelayCommandError as error:
            # AUTH_FAILED comes from a sender proof; the peer may secure its inbox again.
            if error.code in TEMPORARY_CODES or error.code == "AUTH_FAILED":
                logger.info("control envelope deferred: %s", error.code)
                return False
            logger.warning("control envelope dropped after %s", error.code)
        async with engine.lock:
            if item in engine.state.control_outbox:
                engine.state.control_outbox.remove(item)
                await commit_state(engine)
    return True


async def _send_proved(
    engine: Engine,
    connection: RelayConnection,
    proven: set[bytes],
    destination: bytes,
    envelope: bytes,
) -> None:
    await _check_proof(engine, connection, proven, destination)
    try:
        await _send_frame(engine, connection, destination, envelope)
    except RelayCommandError as error:
        if error.code != "PROOF_REQUIRED":
            raise
        proven.discard(destination)
        await _check_proof(engine, connection, proven, destination)
        await _send_frame(engine, connection, destination, envelope)


async def _send_frame(
    engine: Engine, connection: RelayConnection, destination: bytes, envelope: bytes
) -> bytes:
    hook = engine.hooks.send_started
    if hook is None:
        return await connection.send(destination, envelope)
    task = asyncio.ensure_future(connection.send(destination, envelope))
    await asyncio.sleep(0)  # one loop turn writes the frame
    try:
        await hook(envelope)
    except BaseException:
        task.cancel()
        raise
    return await task


async def _check_proof(
    engine: Engine, connection: RelayConnection, proven: set[bytes], destination: bytes
) -> None:
    """Prove the sender key for ``destination`` once per connection, if the inbox is secured.

    Raises:
        RelayCommandError: the relay rejected the proof, for example ``AUTH_FAILED``.
    """
    if destination in proven:
        return
    route = next((r for r in engine.state.routes.values() if r.peer_send_id == destination), None)
    if route is None:
        return
    try:
        await connection.prove_sender(destination, SigningKey(route.sender_seed))
    except RelayCommandError as error:
        if error.code != "WRONG_KIND":
            raise
    proven.add(destination)


async def _handle_refusal(
    engine: Engine,
    connection: RelayConnection,
    proven: set[bytes],
    item: OutboxItem,
    error: RelayCommandError,
) -> bool:
    """Handle a refused text envelope; return False if it must wait for a later retry."""
    if error.code == "PROOF_REQUIRED":
        # The peer secured its inbox after this connection's check. The later sends to
        # it were refused too and come back in order in the next round.
        proven.discard(item.destination)
        try:
            await _check_proof(engine, connection, proven, item.destination)
            return True
        except RelayCommandError as proof_error:
            logger.warning("sender proof rejected by the relay: %s", proof_error.code)
            engine.emit(EngineErrorEvent("relay_rejected", proof_error.code))
            return False

    if error.code in TEMPORARY_CODES:
        await asyncio.to_thread(engine.store.record_send_attempt, item.id)
        logger.info("send deferred: %s", error.code)
        return False

    # TOO_LARGE, NOT_FOUND, WRONG_KIND and the rest do not change on a retry.
    logger.warning("send failed for good: %s", error.code)
    await asyncio.to_thread(engine.store.mark_failed, item.message_order)
    engine.status_changed(_contact_of(engine, item.destination), item.message_order, "failed")
    code = {"TOO_LARGE": "message_too_large", "NOT_FOUND": "recipient_gone"}.get(
        error.code, "relay_rejected"
    )
    engine.emit(EngineErrorEvent(code, error.code))
    return True


async def _mark_sent(engine: Engine, item: OutboxItem) -> None:
    # By outbox id: a session renewal may have replaced this envelope while it was in
    # flight, and the replacement must stay queued.
    if await asyncio.to_thread(engine.store.mark_outbox_sent, item.id):
        engine.status_changed(_contact_of(engine, item.destination), item.message_order, "sent")


def _contact_of(engine: Engine, destination: bytes) -> int:
    for route in engine.state.routes.values():
        if route.peer_send_id == destination:
            return route.contact_id
    return 0
