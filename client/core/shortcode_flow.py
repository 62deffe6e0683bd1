"""Pairing by short code (``7-kancil-pelangi``) and checking a contact's safety code.

The counselor (guru BK) calls :meth:`ShortCodeFlow.create_code`. It opens a rendezvous
on the relay through a dedicated connection, so the sync connection never reads pairing
frames, and runs a :class:`~konsel.protocol.shortcode_exchange.CodeOfferer` in a
background task. Once the konseli's key confirmation checks out, the offerer sends the
same invitation that an invitation link carries.

The konseli calls :meth:`ShortCodeFlow.join_code`. It joins the rendezvous, runs a
:class:`~konsel.protocol.shortcode_exchange.CodeAccepter`, receives the invitation, and
replies with its 32-byte Ed25519 identity key. Then it sends a contact request exactly
as the link flow does (:func:`.pairing.accept_decoded_invitation`).

The counselor's client stores the identity key from the reply in the engine state and
accepts the contact request that carries it without asking the counselor again, because
the konseli proved knowledge of the code in the exchange. A request with any other key
stays pending as usual.

Outcomes are events: :class:`.events.ShortCodeReady`, :class:`.events.ShortCodePaired`
and :class:`.events.ShortCodeFailed`, whose ``code`` has a text in Indonesian and English.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from konsel.protocol.errors import KonselError
from konsel.protocol.invitation import Invitation
from konsel.protocol.invitation_link import decode_link
from konsel.protocol.relay_wire import ErrorCode, PairEnd
from konsel.protocol.safety import IDENTITY_KEY_SIZE, SafetyCode, safety_code
from konsel.protocol.shortcode import ShortCode, format_code, generate_code, parse_code
from konsel.protocol.shortcode_errors import ShortCodeError
from konsel.protocol.shortcode_exchange import (
    DEFAULT_LIFETIME,
    CodeAccepter,
    CodeOfferer,
    InvitationReceived,
    PairingOutput,
    ReplyReceived,
)

from . import contact_requests, pairing
from .engine_state import PendingRequest, commit_state
from .events import EngineError, ShortCodeFailed, ShortCodePaired, ShortCodeReady
from .relay_connection import RelayCommandError, RelayConnection, RelayConnectionClosed

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("konsel.client.shortcode")

MIN_CODE_TTL = 60
MAX_CODE_TTL = 600
"""Lifetimes in seconds that the relay accepts for a rendezvous."""

END_MARGIN = 5.0
"""Seconds a side keeps waiting past the code's lifetime for the relay's end notice."""

# The short-code error shown for each reason the relay gives for ending a rendezvous.
_END_REASON_CODES = {
    "closed": "pairing_cancelled",
    "expired": "code_expired",
    "burned": "pairing_failed",
}


@dataclass
class _Offer:
    """The counselor's open code: its connection, exchange and background task."""

    code: ShortCode
    connection: RelayConnection
    exchange: CodeOfferer
    task: asyncio.Task[None] | None = None


class ShortCodeFlow:
    """The short-code pairing of one engine: at most one open code, and joins."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._offer: _Offer | None = None
        # Keys whose request is being accepted now; the engine state keeps the keys of
        # requests still due, so they survive a restart.
        self._accepting: set[bytes] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Serializes create_code, so two calls at once cannot both open a code.
        self._create_lock = asyncio.Lock()

    # --- counselor ---------------------------------------------------------------------------

    async def create_code(self, ttl: int = DEFAULT_LIFETIME) -> str:
        """Open a rendezvous and return the code text to show the konseli.

        Raises:
            EngineError: ``wrong_role``, ``code_active`` while another code is open,
                ``offline`` when the relay cannot be reached, or ``relay_rejected``.
            ValueError: ``ttl`` is outside 60..600 seconds.
        """
        async with self._create_lock:
            return await self._create_code(ttl)

    async def _create_code(self, ttl: int) -> str:
        engine = self._engine
        if engine.state.role != "counselor" or engine.state.relay_url is None:
            raise EngineError("wrong_role", "only a counselor with a relay creates codes")
        if not MIN_CODE_TTL <= ttl <= MAX_CODE_TTL:
            raise ValueError(f"ttl must be {MIN_CODE_TTL} to {MAX_CODE_TTL} seconds, got {ttl}")
        if self._offer is not None:
            raise EngineError("code_active", f"code {self._offer.code.nameplate} is open")

        link = await pairing.create_invitation(engine, "one_time", int(time.time()) + ttl)
        invitation = decode_link(link, now=int(time.time()))
        connection = await _connect(engine, engine.state.relay_url)
        try:
            opened = await connection.pair_open(ttl)
            code = generate_code(opened.nameplate)
            now = int(time.time())
            exchange = CodeOfferer(code, invitation, now=now, lifetime=ttl)
            await connection.pair_send(code.nameplate, exchange.start(now=now))
        except RelayCommandError as error:
            await connection.close()
            raise EngineError("relay_rejected", str(error)) from None
        except BaseException:
            await connection.close()
            raise

        offer = _Offer(code, connection, exchange)
        self._offer = offer
        offer.task = asyncio.create_task(self._run_offer(offer, ttl), name="shortcode-offer")
        text = format_code(code)
        logger.info("opened short code on nameplate %d for %d s", code.nameplate, ttl)
        engine.emit(ShortCodeReady(text, opened.expires_at))
        return text

    async def cancel_code(self) -> None:
        """Cancel the open code: tell a joined konseli, end the rendezvous, close the link.

        Does nothing when no code is open.
        """
        offer = self._offer
        if offer is None:
            return
        self._offer = None
        if offer.task is not None:
            offer.task.cancel()
            await asyncio.gather(offer.task, return_exceptions=True)

        cancel_message = offer.exchange.cancel()
        with contextlib.suppress(RelayCommandError, RelayConnectionClosed, OSError):
            if cancel_message is not None:
                await offer.connection.pair_send(offer.code.nameplate, cancel_message)
            await offer.connection.pair_close(offer.code.nameplate)
        await offer.connection.close()
        logger.info("cancelled short code on nameplate %d", offer.code.nameplate)

    async def _run_offer(self, offer: _Offer, ttl: int) -> None:
        """Run the counselor's side until the reply arrives or the exchange fails."""
        try:
            async with asyncio.timeout(ttl + END_MARGIN):
                identity_key = await self._offer_exchange(offer)
        except EngineError as error:
            self._fail(error.code, error.detail)
            return
        except TimeoutError:
            self._fail("code_expired", "no konseli finished the exchange in time")
            return
        except (RelayCommandError, RelayConnectionClosed, OSError) as error:
            self._fail("pairing_failed", f"relay connection: {error}")
            return
        finally:
            if self._offer is offer:
                self._offer = None
                await offer.connection.close()

        engine = self._engine
        async with engine.lock:
            engine.state.expect_key(identity_key, engine.clock())
            await commit_state(engine)
        for request in list(engine.state.pending.values()):
            if request.identity_key == identity_key:
                self.request_arrived(request)

    async def _offer_exchange(self, offer: _Offer) -> bytes:
        """Pass pairing frames to the offerer; return the konseli's identity key."""
        nameplate = offer.code.nameplate
        async for frame in offer.connection.pair_events():
            if frame.nameplate != nameplate:
                continue
            if isinstance(frame, PairEnd):
                code = _END_REASON_CODES.get(frame.reason, "pairing_failed")
                raise EngineError(code, f"the relay ended the rendezvous: {frame.reason}")

            output = _receive(offer.exchange, frame.body)
            for message in output.messages:
                await offer.connection.pair_send(nameplate, message)
            for event in output.events:
                if isinstance(event, ReplyReceived):
                    if len(event.reply) != IDENTITY_KEY_SIZE:
                        raise EngineError("pairing_failed", "the reply is not an identity key")
                    return event.reply
        raise EngineError("pairing_failed", "the relay connection closed")

    def request_arrived(self, request: PendingRequest) -> None:
        """Accept ``request`` in the background if its key came from a short-code reply.

        The key leaves the engine state in the commit that accepts the request
        (:func:`.contact_requests.accept_request`), so a restart before that keeps it.
        """
        # NOTE: this runs when a request or a reply arrives, never at start-up, so a
        # request that was already pending at a restart waits for the counselor.
        key = request.identity_key
        if key in self._accepting or not self._engine.state.is_expected_key(
            key, self._engine.clock()
        ):
            return
        self._accepting.add(key)
        task = asyncio.create_task(self._accept(request), name="shortcode-accept")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, request: PendingRequest) -> None:
        try:
            contact_id = await contact_requests.accept_request(self._engine, request.request_id)
        except EngineError as error:
            self._fail(error.code, error.detail)
            return
        finally:
            self._accepting.discard(request.identity_key)
        logger.info("accepted the contact request of a short-code exchange")
        self._engine.emit(ShortCodePaired(contact_id, request.display_name))

    # --- konseli -----------------------------------------------------------------------------

    async def join_code(self, text: str, relay_url: str | None = None) -> int:
        """Pair with the counselor behind a typed code; return the new contact's id.

        Args:
            text: the code as the konseli typed it.
            relay_url: the relay, needed only when this profile has none yet.

        Raises:
            EngineError: a short-code error code (``code_format``, ``code_word``,
                ``code_wrong``, ``code_expired``, ``pairing_cancelled``, ...),
                ``code_not_found`` when the relay has no open code with that number,
                ``offline``, or an error of the link flow that follows.
        """
        try:
            code = parse_code(text)
        except ShortCodeError as error:
            raise EngineError(error.code, str(error)) from None
        url = self._engine.state.relay_url or relay_url
        if url is None:
            raise EngineError("offline", "no relay is known for this profile")

        try:
            invitation = await self._join_exchange(url, code)
            contact_id = await pairing.accept_decoded_invitation(self._engine, invitation)
        except EngineError as error:
            self._fail(error.code, error.detail)
            raise
        self._engine.emit(ShortCodePaired(contact_id, invitation.display_name or "Guru BK"))
        return contact_id

    async def _join_exchange(self, url: str, code: ShortCode) -> Invitation:
        """Run the konseli's side on its own connection and return the invitation."""
        connection = await _connect(self._engine, url)
        try:
            try:
                await connection.pair_join(code.nameplate)
            except RelayCommandError as error:
                if error.code == ErrorCode.NOT_FOUND:
                    raise EngineError("code_not_found", error.message) from None
                raise EngineError("relay_rejected", str(error)) from None

            now = int(time.time())
            exchange = CodeAccepter(code, now=now)
            await connection.pair_send(code.nameplate, exchange.start(now=now))
            async with asyncio.timeout(DEFAULT_LIFETIME + END_MARGIN):
                return await self._accept_exchange(connection, code.nameplate, exchange)
        except TimeoutError:
            raise EngineError("code_expired", "the exchange did not finish in time") from None
        except (RelayCommandError, RelayConnectionClosed, OSError) as error:
            raise EngineError("pairing_failed", f"relay connection: {error}") from None
        finally:
            await connection.close()

    async def _accept_exchange(
        self, connection: RelayConnection, nameplate: int, exchange: CodeAccepter
    ) -> Invitation:
        async for frame in connection.pair_events():
            if frame.nameplate != nameplate:
                continue
            if isinstance(frame, PairEnd):
                code = _END_REASON_CODES.get(frame.reason, "pairing_failed")
                raise EngineError(code, f"the relay ended the rendezvous: {frame.reason}")

            output = _receive(exchange, frame.body)
            for message in output.messages:
                await connection.pair_send(nameplate, message)
            for event in output.events:
                if isinstance(event, InvitationReceived):
                    own_key = self._engine.identity.public.ed25519
                    reply = exchange.reply(own_key, now=int(time.time()))
                    await connection.pair_send(nameplate, reply)
                    return event.invitation
        raise EngineError("pairing_failed", "the relay connection closed")

    # --- both --------------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel the open code and the background accepts; safe to call twice."""
        await self.cancel_code()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _fail(self, code: str, detail: str) -> None:
        logger.info("short-code pairing failed: %s", code)
        self._engine.emit(ShortCodeFailed(code, detail))


def _receive(exchange: CodeOfferer | CodeAccepter, body: bytes) -> PairingOutput:
    """Pass one message to the exchange, turning its errors into engine errors."""
    try:
        return exchange.receive(body, now=int(time.time()))
    except KonselError as error:
        raise EngineError(getattr(error, "code", "pairing_failed"), str(error)) from None


async def _connect(engine: Engine, url: str) -> RelayConnection:
    """Open a pairing connection to ``url`` with the sync loop's timeouts."""
    options = engine.sync.options
    try:
        return await RelayConnection.connect(
            url,
            open_timeout=options.open_timeout,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
        )
    except (OSError, TimeoutError, RelayConnectionClosed, RelayCommandError) as error:
        raise EngineError("offline", f"cannot reach the relay: {type(error).__name__}") from None


async def contact_safety_code(engine: Engine, contact_id: int) -> SafetyCode:
    """Compute the safety code of this user and a contact from both identity keys.

    Raises:
        EngineError: ``contact_not_found``.
    """
    contacts = {contact.id: contact for contact in await engine.contacts()}
    contact = contacts.get(contact_id)
    if contact is None:
        raise EngineError("contact_not_found", f"contact {contact_id}")
    # The code takes thousands of hash rounds (tens of ms); keep the event loop free.
    own_key = engine.identity.public.ed25519
    return await asyncio.to_thread(safety_code, own_key, bytes(contact.identity_key))


async def pending_safety_code(engine: Engine, contact_id: int) -> SafetyCode | None:
    """Return the safety code of a contact's held new identity key, or None without one.

    While a key change is held the contact's row keeps the old key, but the contact's
    own screen shows the code of the new one; this is the code to compare before
    :meth:`Engine.confirm_key_change`.
    """
    new_key = await asyncio.to_thread(engine.store.held_identity_key, contact_id)
    if new_key is None:
        return None
    return await asyncio.to_thread(safety_code, engine.identity.public.ed25519, new_key)


async def mark_verified(engine: Engine, contact_id: int, verified: bool) -> None:
    """Store whether the user compared the safety code with this contact.

    Raises:
        EngineError: ``contact_not_found``.
    """
    contacts = {contact.id for contact in await engine.contacts()}
    if contact_id not in contacts:
        raise EngineError("contact_not_found", f"contact {contact_id}")
    await asyncio.to_thread(engine.store.update_contact, contact_id, verified=verified)
