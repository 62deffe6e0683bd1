"""Exceptions raised by konsel.protocol.

Every error the protocol package raises derives from :class:`KonselError`::

    KonselError
    ├── DecodeError                 untrusted bytes are not a valid message of the expected shape
    │   ├── UnsupportedVersionError the peer speaks a protocol version this code does not know
    │   ├── UnknownTypeError        a type tag that this version does not define
    │   └── InvalidContentError     a content field breaks a rule (also a ValueError)
    ├── AuthenticationError         opaque: forged, corrupted, truncated or wrong-key ciphertext
    ├── DuplicateMessageError       an authentic message that was already decrypted
    ├── SessionError                a valid message the session cannot accept
    │   └── TooManySkippedError     a gap in the counters above the skipped-key cap
    ├── HandshakeError              a prekey bundle or initial message that cannot start a session
    │   └── PrekeyNotFoundError     the initial message names a prekey that is gone
    ├── StateError                  serialized state that cannot be loaded
    └── WordListError               a word that is not in the list, or a damaged list

Decoding failures name the field and the limit so that a log line or a test failure
points at the cause. Authentication failures never say which check failed, because that
would turn the receiver into an oracle for an attacker.
"""

from __future__ import annotations


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
