"""Exceptions raised by konsel.protocol.

Every error the protocol package raises derives from :class:`KonselError`::

    KonselError
    ├── DecodeError                 untrusted bytes are not a valid message of the expected shape
    │   ├── UnsupportedVersionError the peer speaks a protocol version this code does not know
    │   ├── UnknownTypeError        a type tag that this version does not define
    │   ├── InvalidContentError     a content field breaks a rule (also a ValueError)
    │   └── CommandDecodeError      a relay command frame that cannot be accepted, with the
    │                               request id and relay error code its error reply needs
    ├── AuthenticationError         opaque: forged, corrupted, truncated or wrong-key ciphertext
    ├── DuplicateMessageError       an authentic message that was already decrypted
    ├── SessionError                a valid message the session cannot accept
    │   └── TooManySkippedError     a gap in the counters above the skipped-key cap
    ├── HandshakeError              a prekey bundle or initial message that cannot start a session
    │   └── PrekeyNotFoundError     the initial message names a prekey that is gone
    ├── StateError                  serialized state that cannot be loaded
    ├── WordListError               a word that is not in the list, or a damaged list
    ├── RenewRequestError           a renew request with a valid signature that must be ignored
    │   ├── StaleRenewRequestError             its timestamp is outside the window
    │   └── ReplayedRenewRequestError          its nonce was seen before
    ├── InvitationError             an invitation link that cannot be used (has ``code``)
    │   ├── NotAnInvitationError               also a DecodeError
    │   ├── DamagedInvitationError             also a DecodeError: checksum or alphabet
    │   ├── InvalidInvitationError             also an InvalidContentError
    │   ├── UnsupportedInvitationVersionError  also an UnsupportedVersionError
    │   └── InvitationExpiredError
    ├── ShortCodeError              a short code that cannot be read (has ``code``)
    │   ├── MalformedCodeError                 also an InvalidContentError
    │   ├── NameplateRangeError                also an InvalidContentError
    │   └── UnknownWordError                   also a WordListError
    └── PairingError                an error that ends a short-code exchange (has ``code``)
        ├── WrongCodeError                     also an AuthenticationError
        ├── PairingTamperedError               also an AuthenticationError
        ├── CodeExpiredError
        ├── PairingCancelledError
        └── PairingProtocolError               also a HandshakeError

Decoding failures name the field and the limit so that a log line or a test failure
points at the cause. Pairing errors carry a stable ``code`` that clients map to a text in
Indonesian or English (``MESSAGES`` in :mod:`.invitation` and :mod:`.shortcode_errors`).
Authentication failures never say which check failed, because that would turn the
receiver into an oracle for an attacker.
"""

from __future__ import annotations

from typing import ClassVar


class KonselError(Exception):
    """Base class of every error raised by konsel.protocol."""


class DecodeError(KonselError):
    """Untrusted bytes that do not decode to the expected message.

    Attributes:
        field: dotted path of the offending field, or ``""`` for the whole input.
        reason: what was wrong, as a short sentence fragment.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field or 'input'}: {reason}")


class CommandDecodeError(DecodeError):
    """A command frame that cannot be accepted, with what the error reply needs.

    Attributes:
        request_id: the frame's ``r`` when it could be read, else ``None``.
        code: the ``konsel.protocol.relay_wire.ErrorCode`` for the error reply.
    """

    def __init__(self, error: DecodeError, request_id: int | None, code: str) -> None:
        super().__init__(error.field, error.reason)
        self.request_id = request_id
        self.code = code


class UnsupportedVersionError(DecodeError):
    """A version number that this implementation does not speak."""

    def __init__(self, field: str, version: object, supported: tuple[int, ...]) -> None:
        self.version = version
        self.supported = supported
        names = ", ".join(str(v) for v in supported)
        super().__init__(field, f"unsupported version {version!r} (supported: {names})")


class UnknownTypeError(DecodeError):
    """A type tag that this protocol version does not define."""

    def __init__(self, field: str, tag: object) -> None:
        self.tag = tag
        super().__init__(field, f"unknown type tag {tag!r}")


class InvalidContentError(DecodeError, ValueError):
    """A content field that breaks a rule of the content format.

    It is also a ``ValueError`` so that building a message with a bad value in code
    raises the same error that decoding it from the wire does.
    """


class AuthenticationError(KonselError):
    """A ciphertext failed authentication.

    This error is deliberately opaque: it does not say whether the header, the body,
    the key or the length was wrong.
    """

    def __init__(self) -> None:
        super().__init__("message failed authentication")


class DuplicateMessageError(KonselError):
    """An authentic message whose key was already used; the session state is unchanged."""

    def __init__(self) -> None:
        super().__init__("message was already decrypted")


class SessionError(KonselError):
    """An authentic message that the session cannot accept."""


class TooManySkippedError(SessionError):
    """A message that would need more skipped message keys than the cap allows."""

    def __init__(self, needed: int, cap: int) -> None:
        self.needed = needed
        self.cap = cap
        super().__init__(f"message needs {needed} skipped keys, above the cap of {cap}")


class HandshakeError(KonselError):
    """A prekey bundle or initial message that cannot start a session."""


class PrekeyNotFoundError(HandshakeError):
    """The initial message names a signed or one-time prekey that this side no longer has."""

    def __init__(self, kind: str, prekey_id: int) -> None:
        self.kind = kind
        self.prekey_id = prekey_id
        super().__init__(f"{kind} prekey {prekey_id} not found (used or expired)")


class StateError(KonselError):
    """Serialized identity, prekey or session state that cannot be loaded."""


class WordListError(KonselError):
    """A word that is not in the word list, or a packaged list that fails its checks."""


class RenewRequestError(KonselError):
    """A renew request with a valid signature that must still be ignored."""


class StaleRenewRequestError(RenewRequestError):
    """The request's timestamp is outside the accepted window."""

    def __init__(self, timestamp: int, now: int) -> None:
        super().__init__(f"renew request dated {timestamp} is outside the window at {now}")
        self.timestamp = timestamp
        self.now = now


class ReplayedRenewRequestError(RenewRequestError):
    """The request's nonce was seen before."""

    def __init__(self) -> None:
        super().__init__("renew request nonce was seen before")


# Pairing: invitation links, short codes and the code exchange. Every class carries a
# stable ``code`` that clients map to an Indonesian or English text.


class InvitationError(KonselError):
    """Base class of the errors raised while reading an invitation.

    Attributes:
        code: stable identifier of the case, a key of :data:`MESSAGES`.
    """

    code: ClassVar[str] = "link_invalid"


class NotAnInvitationError(InvitationError, DecodeError):
    """Text that is not a konsel link at all."""

    code = "link_not_konsel"

    def __init__(self, reason: str) -> None:
        DecodeError.__init__(self, "link", reason)


class DamagedInvitationError(InvitationError, DecodeError):
    """A konsel link with a wrong checksum, a character outside the alphabet or a cut."""

    code = "link_damaged"

    def __init__(self, reason: str) -> None:
        DecodeError.__init__(self, "link", reason)


class InvalidInvitationError(InvitationError, InvalidContentError):
    """An intact invitation whose fields break a rule, or such values given to the constructor."""

    code = "link_invalid"


class UnsupportedInvitationVersionError(InvitationError, UnsupportedVersionError):
    """An invitation made by a newer konsel that this version cannot read."""

    code = "link_version"


class InvitationExpiredError(InvitationError):
    """An invitation read after its expiry time.

    Attributes:
        expires_at: the invitation's expiry, in unix seconds.
        now: the time it was checked against, in unix seconds.
    """

    code = "link_expired"

    def __init__(self, expires_at: int, now: int) -> None:
        self.expires_at = expires_at
        self.now = now
        super().__init__(f"invitation expired at {expires_at}, checked at {now}")


class ShortCodeError(KonselError):
    """Base class of the errors raised while reading a short code.

    Attributes:
        code: stable identifier of the case, a key of :data:`MESSAGES`.
    """

    code: str = "code_format"


class MalformedCodeError(ShortCodeError, InvalidContentError):
    """A code without a leading number, or with too few or too many words."""

    code = "code_format"


class NameplateRangeError(ShortCodeError, InvalidContentError):
    """A code whose number is outside 1..999."""

    code = "code_number"


class UnknownWordError(ShortCodeError, WordListError):
    """A word of a code that is not in the word list.

    Attributes:
        word: the word as typed, lowercased.
        position: index of the word among the code's words, from 0.
        suggestion: the closest list word, or ``None`` if none is within two edits or
            two list words are equally close.
        code: ``code_word_suggestion`` when there is a suggestion, else ``code_word``.
    """

    code = "code_word"

    def __init__(self, word: str, position: int, suggestion: str | None) -> None:
        self.word = word
        self.position = position
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion is not None else ""
        if suggestion is not None:
            self.code = "code_word_suggestion"
        super().__init__(f"word {position + 1} ({word!r}) is not in the word list{hint}")


class PairingError(KonselError):
    """Base class of the errors that end a pairing exchange.

    Attributes:
        code: stable identifier of the case, a key of :data:`MESSAGES`.
    """

    code: str = "pairing_failed"


class WrongCodeError(PairingError, AuthenticationError):
    """Key confirmation failed: the two sides used different codes, or a message was altered."""

    code = "code_wrong"

    def __init__(self) -> None:
        KonselError.__init__(self, "key confirmation failed: the two sides used different codes")


class PairingTamperedError(PairingError, AuthenticationError):
    """An encrypted invitation or reply failed authentication after a good confirmation."""

    code = "pairing_tampered"

    def __init__(self) -> None:
        KonselError.__init__(self, "encrypted pairing message failed authentication")


class CodeExpiredError(PairingError):
    """The exchange was used at or after its expiry time."""

    code = "code_expired"

    def __init__(self, expires_at: int, now: int) -> None:
        self.expires_at = expires_at
        self.now = now
        super().__init__(f"pairing code expired at {expires_at}, used at {now}")


class PairingCancelledError(PairingError):
    """The exchange was cancelled, by the peer (``by_peer``) or by this side."""

    code = "pairing_cancelled"

    def __init__(self, *, by_peer: bool) -> None:
        self.by_peer = by_peer
        super().__init__("the other side cancelled pairing" if by_peer else "pairing was cancelled")


class PairingProtocolError(PairingError, HandshakeError):
    """A malformed message, a message that this state does not expect, or a call after the end."""

    code = "pairing_failed"
