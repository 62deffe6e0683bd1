"""The short-code pairing exchange: SPAKE2, key confirmation, then invitation and reply.

The counselor runs :class:`CodeOfferer` and the student runs :class:`CodeAccepter`. Both
know the same short code. They run SPAKE2 (the ``spake2`` package, Ed25519 group) in its
asymmetric form: the counselor is side A and the student side B. The words of the code
are the password, and the nameplate with a label forms each side's identity.

Messages in order (each side sends its ``pake`` message first, so a relay that keeps
each sender's order never delivers a ``confirm`` before the ``pake``)::

    counselor (A)                         student (B)
    start()            -- pake A -->
                       <-- pake B --      start()
    on pake B          -- confirm A -->
                       <-- confirm B --   on pake A
    on confirm B       -- invitation -->  on confirm A: CodeConfirmed
                                          on invitation: InvitationReceived
                       <-- reply --       reply(...)
    on reply: ReplyReceived

The counselor sends the invitation only after the student's confirmation MAC checks out,
so a student with a wrong code never receives even the ciphertext. A wrong code makes
the confirmation fail on both sides with :class:`WrongCodeError`.

Every error ends the exchange: the two users start again with a new code. The relay
burns a nameplate after one exchange of ``pake`` messages, so each code allows an
attacker one online guess. Tracking nameplates is the relay's job, not this module's.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import nacl.bindings
import nacl.exceptions
from spake2 import SPAKE2_A, SPAKE2_B, SPAKEError
from spake2.ed25519_basic import NotOnCurve

from .errors import DecodeError, KonselError
from .invitation import Invitation, decode_invitation
from .shortcode import ShortCode
from .shortcode_errors import (
    CodeExpiredError,
    PairingCancelledError,
    PairingProtocolError,
    PairingTamperedError,
    WrongCodeError,
)
from .shortcode_keys import (
    PairingKeys,
    confirmation_mac,
    derive_pairing_keys,
    spake2_identities,
    spake2_password,
)
from .shortcode_wire import (
    MAX_REPLY_SIZE,
    NONCE_SIZE,
    CancelMessage,
    ConfirmMessage,
    PairingMessage,
    PakeMessage,
    SealedMessage,
    SealedType,
    decode_pairing_message,
)

DEFAULT_LIFETIME = 600
"""Seconds from the creation of an exchange until it expires: 10 minutes."""


class ExchangeState(enum.Enum):
    """State of one side of the exchange."""

    NEW = "new"
    WAITING_PAKE = "waiting_pake"
    WAITING_CONFIRM = "waiting_confirm"
    WAITING_INVITATION = "waiting_invitation"
    INVITATION_RECEIVED = "invitation_received"
    WAITING_REPLY = "waiting_reply"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CodeConfirmed:
    """Event: the peer proved that it has the same code.

    ``verifier`` is 32 bytes derived from the SPAKE2 key. Both sides get the same value,
    so a client may show a few words of it for the users to compare.
    """

    verifier: bytes


@dataclass(frozen=True)
class InvitationReceived:
    """The student's side decrypted and checked the counselor's invitation."""

    invitation: Invitation


@dataclass(frozen=True)
class ReplyReceived:
    """The counselor's side decrypted the student's reply, which it passes on unread."""

    reply: bytes


PairingEvent = CodeConfirmed | InvitationReceived | ReplyReceived


@dataclass(frozen=True)
class PairingOutput:
    """Result of one call: the messages to send through the rendezvous, and the events."""

    messages: tuple[bytes, ...] = ()
    events: tuple[PairingEvent, ...] = ()


class _CodeExchange:
    """The steps that both sides share: SPAKE2, confirmation, expiry and cancellation."""

    _is_offerer: ClassVar[bool]

    def __init__(
        self,
        code: ShortCode,
        *,
        now: int,
        lifetime: int = DEFAULT_LIFETIME,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if lifetime <= 0:
            raise ValueError(f"lifetime must be positive, got {lifetime}")

        id_offerer, id_accepter = spake2_identities(code)
        side = SPAKE2_A if self._is_offerer else SPAKE2_B
        self._spake2 = side(
            spake2_password(code), idA=id_offerer, idB=id_accepter, entropy_f=random_bytes
        )
        self._random_bytes = random_bytes
        self._expires_at = now + lifetime
        self._state = ExchangeState.NEW
        self._cancelled_by_peer = False
        self._own_pake = b""
        self._transcript = (b"", b"")
        self._keys: PairingKeys | None = None

    @property
    def state(self) -> ExchangeState:
        """The current state."""
        return self._state

    @property
    def expires_at(self) -> int:
        """Unix seconds from which every call raises :class:`CodeExpiredError`."""
        return self._expires_at

    @property
    def verifier(self) -> bytes | None:
        """The 32-byte verifier once the peer's confirmation checked out, else ``None``."""
        confirmed = self._state not in {
            ExchangeState.NEW,
            ExchangeState.WAITING_PAKE,
            ExchangeState.WAITING_CONFIRM,
            ExchangeState.FAILED,
        }
        if self._keys is None or not confirmed:
            return None
        return self._keys.verifier

    def start(self, *, now: int) -> bytes:
        """Return this side's ``pake`` message, the first message to send."""
        self._check_usable(now)
        if self._state is not ExchangeState.NEW:
            raise PairingProtocolError("start() was already called")

        self._own_pake = self._spake2.start()
        self._state = ExchangeState.WAITING_PAKE
        return PakeMessage(self._own_pake).encode()

    def receive(self, data: bytes, *, now: int) -> PairingOutput:
        """Process one message from the peer and return what to send and what happened.

        Raises:
            WrongCodeError: the peer's confirmation MAC does not match.
            PairingCancelledError: the peer cancelled, or this side cancelled earlier.
            CodeExpiredError: ``now`` is at or after :attr:`expires_at`.
            PairingProtocolError: the message is malformed or not expected now.
            PairingTamperedError: an encrypted message failed authentication.
            InvitationError: the decrypted invitation is invalid or expired (student).
        """
        self._check_usable(now)
        if self._state is ExchangeState.NEW:
            raise PairingProtocolError("receive() before start()")

        try:
            message = decode_pairing_message(data)
        except DecodeError as error:
            self._state = ExchangeState.FAILED
            raise PairingProtocolError(f"malformed pairing message: {error}") from error

        if isinstance(message, CancelMessage):
            self._state = ExchangeState.CANCELLED
            self._cancelled_by_peer = True
            raise PairingCancelledError(by_peer=True)

        try:
            return self._dispatch(message, now)
        except KonselError:
            self._state = ExchangeState.FAILED
            raise

    def cancel(self) -> bytes | None:
        """Stop the exchange and return the ``cancel`` message to send to the peer.

        Returns ``None`` when the exchange already finished or was cancelled, because
        then there is nothing to tell the peer. After a failure the message is still
        returned, so the peer stops waiting.
        """
        if self._state in {ExchangeState.DONE, ExchangeState.CANCELLED}:
            return None
        self._state = ExchangeState.CANCELLED
        self._keys = None
        return CancelMessage().encode()

    def _dispatch(self, message: PairingMessage, now: int) -> PairingOutput:
        raise NotImplementedError

    def _check_usable(self, now: int) -> None:
        if self._state is ExchangeState.CANCELLED:
            raise PairingCancelledError(by_peer=self._cancelled_by_peer)
        if self._state is ExchangeState.EXPIRED:
            raise CodeExpiredError(self._expires_at, now)
        if self._state is ExchangeState.FAILED:
            raise PairingProtocolError("the exchange already failed; start again with a new code")
        if self._state is ExchangeState.DONE:
            raise PairingProtocolError("the exchange is already finished")
        if now >= self._expires_at:
            self._state = ExchangeState.EXPIRED
            self._keys = None
            raise CodeExpiredError(self._expires_at, now)

    def _unexpected(self, message: PairingMessage) -> PairingProtocolError:
        name = type(message).__name__
        return PairingProtocolError(f"unexpected {name} in state {self._state.value}")

    def _finish_pake(self, message: PakeMessage) -> PairingOutput:
        """Derive the keys from the peer's ``pake`` message and return this side's ``confirm``."""
        try:
            spake2_key: bytes = self._spake2.finish(message.body)
        except (SPAKEError, ValueError, NotOnCurve) as error:
            # A wrong side byte, our own message reflected, or bytes that are not a
            # point of the prime-order group.
            raise PairingProtocolError(f"invalid SPAKE2 message ({type(error).__name__})") from None

        offerer_pake, accepter_pake = (
            (self._own_pake, message.body) if self._is_offerer else (message.body, self._own_pake)
        )
        self._keys = derive_pairing_keys(spake2_key)
        self._transcript = (offerer_pake, accepter_pake)

        own_key = self._keys.confirm_offerer if self._is_offerer else self._keys.confirm_accepter
        mac = confirmation_mac(own_key, offerer_pake, accepter_pake)
        self._state = ExchangeState.WAITING_CONFIRM
        return PairingOutput(messages=(ConfirmMessage(mac).encode(),))

    def _check_confirm(self, message: ConfirmMessage) -> PairingKeys:
        """Check the peer's MAC and return the keys, or raise :class:`WrongCodeError`."""
        assert self._keys is not None
        peer_key = self._keys.confirm_accepter if self._is_offerer else self._keys.confirm_offerer
        expected = confirmation_mac(peer_key, *self._transcript)
        if not hmac.compare_digest(expected, message.mac):
            raise WrongCodeError()
        return self._keys

    def _seal(self, kind: SealedType, key: bytes, plaintext: bytes) -> bytes:
        nonce = self._random_bytes(NONCE_SIZE)
        box = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)
        return SealedMessage(kind, nonce, box).encode()

    @staticmethod
    def _open(message: SealedMessage, key: bytes) -> bytes:
        try:
            plaintext: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                message.box, None, message.nonce, key
            )
        except nacl.exceptions.CryptoError:
            raise PairingTamperedError() from None
        return plaintext


class CodeOfferer(_CodeExchange):
    """The counselor's side: shows the code, sends the invitation, receives the reply.

    Args:
        code: the code the counselor shows to the student.
        invitation: the full invitation to hand over once the code is confirmed.
        now: the current time in unix seconds; the exchange expires ``lifetime``
            seconds later.
        lifetime: seconds until expiry, 600 by default.
        random_bytes: source of randomness for SPAKE2 and the nonce.
    """

    _is_offerer = True

    def __init__(
        self,
        code: ShortCode,
        invitation: Invitation,
        *,
        now: int,
        lifetime: int = DEFAULT_LIFETIME,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        super().__init__(code, now=now, lifetime=lifetime, random_bytes=random_bytes)
        self._invitation_bytes = invitation.encode()

    def _dispatch(self, message: PairingMessage, now: int) -> PairingOutput:
        if self._state is ExchangeState.WAITING_PAKE and isinstance(message, PakeMessage):
            return self._finish_pake(message)

        if self._state is ExchangeState.WAITING_CONFIRM and isinstance(message, ConfirmMessage):
            keys = self._check_confirm(message)
            sealed = self._seal("invitation", keys.invitation, self._invitation_bytes)
            self._state = ExchangeState.WAITING_REPLY
            return PairingOutput(messages=(sealed,), events=(CodeConfirmed(keys.verifier),))

        is_reply = isinstance(message, SealedMessage) and message.kind == "reply"
        if self._state is ExchangeState.WAITING_REPLY and is_reply:
            assert isinstance(message, SealedMessage) and self._keys is not None
            reply = self._open(message, self._keys.reply)
            if not reply:
                raise PairingProtocolError("reply is empty")
            self._state = ExchangeState.DONE
            return PairingOutput(events=(ReplyReceived(reply),))

        raise self._unexpected(message)


class CodeAccepter(_CodeExchange):
    """The student's side: types the code, receives the invitation, sends the reply.

    Args:
        code: the code as the student typed it, parsed by ``parse_code``.
        now: the current time in unix seconds; the exchange expires ``lifetime``
            seconds later.
        lifetime: seconds until expiry, 600 by default.
        random_bytes: source of randomness for SPAKE2 and the nonce.
    """

    _is_offerer = False

    def _dispatch(self, message: PairingMessage, now: int) -> PairingOutput:
        if self._state is ExchangeState.WAITING_PAKE and isinstance(message, PakeMessage):
            return self._finish_pake(message)

        if self._state is ExchangeState.WAITING_CONFIRM and isinstance(message, ConfirmMessage):
            keys = self._check_confirm(message)
            self._state = ExchangeState.WAITING_INVITATION
            return PairingOutput(events=(CodeConfirmed(keys.verifier),))

        is_invitation = isinstance(message, SealedMessage) and message.kind == "invitation"
        if self._state is ExchangeState.WAITING_INVITATION and is_invitation:
            assert isinstance(message, SealedMessage) and self._keys is not None
            invitation = decode_invitation(self._open(message, self._keys.invitation), now=now)
            self._state = ExchangeState.INVITATION_RECEIVED
            return PairingOutput(events=(InvitationReceived(invitation),))

        raise self._unexpected(message)

    def reply(self, reply: bytes, *, now: int) -> bytes:
        """Encrypt the student's reply to the invitation and end the exchange.

        Args:
            reply: opaque bytes for the counselor's client, at most 2,048 bytes, such as
                the student's identity key and reply inbox.
            now: the current time in unix seconds.
        """
        self._check_usable(now)
        if self._state is not ExchangeState.INVITATION_RECEIVED or self._keys is None:
            raise PairingProtocolError(f"reply() in state {self._state.value}")
        if not isinstance(reply, bytes) or not 1 <= len(reply) <= MAX_REPLY_SIZE:
            raise ValueError(f"reply must be 1 to {MAX_REPLY_SIZE} bytes")

        sealed = self._seal("reply", self._keys.reply, reply)
        self._state = ExchangeState.DONE
        return sealed
