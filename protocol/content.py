"""Content messages: the plaintext inside every ratchet message.

Each content message is one msgpack map with the content version under ``v``, a type tag
under ``t``, and three header fields that every type carries:

* ``id``: 16 random bytes chosen by the sender, so receipts and duplicates can refer to it.
* ``seq``: the sender's per-conversation counter (u64), which orders one sender's messages.
* ``sent_at``: the sender's clock in unix milliseconds, shown to the user but never used
  to order messages, because the two clocks need not agree.

:func:`decode_content` is strict and bounded: it decodes through the codec with
:data:`CONTENT_LIMITS`, checks exact types and every limit named below, and ignores map
keys it does not know, so a later minor revision can add optional fields.

Constructors run the same checks: building a message from invalid values raises
:class:`InvalidContentError`, which is both a ``ValueError`` and a ``DecodeError``. So
``encode`` only produces bytes that :func:`decode_content` accepts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

from .codec import Fields, Limits, pack, unpack
from .errors import DecodeError, InvalidContentError

CONTENT_VERSION = 1
SUPPORTED_CONTENT_VERSIONS = (1,)

MESSAGE_ID_SIZE = 16
SESSION_ID_SIZE = 16
MAX_SEQ = 2**64 - 1
MAX_SENT_AT = 2**64 - 1

MAX_TEXT_BODY_CHARS = 16_000
"""Maximum length of a text message body, in Unicode code points."""

MAX_RECEIPT_IDS = 256
MAX_DISPLAY_NAME_CHARS = 64
MAX_CONSENT_VERSION_CHARS = 32
MAX_EVAL_QUESTIONS = 16
MAX_QUESTION_KEY_CHARS = 32
MAX_QUESTION_PROMPT_CHARS = 500
MAX_EVAL_ANSWER_CHARS = 2_000
MIN_RATING = 1
MAX_RATING = 5
INBOX_ID_SIZE = 16
SENDER_KEY_SIZE = 32
MAX_RELAY_URL_CHARS = 256

# UTF-8 needs at most 4 bytes per code point, so the largest text body is 64,000 bytes.
# The input limit adds room for the other fields and for keys a later revision may add.
# Arrays may be longer than any field allows, so that an over-long array reaches the
# field check and the error names the field instead of the whole input.
CONTENT_LIMITS = Limits(
    max_input=68 * 1024,
    max_str=MAX_TEXT_BODY_CHARS * 4,
    max_bin=4096,
    max_array=2 * MAX_RECEIPT_IDS,
    max_map=32,
    max_depth=4,
)

Role = Literal["konselor", "konseli"]
Language = Literal["id", "en"]
SessionAction = Literal["start", "end"]
GuardianConsent = Literal["given", "not_needed", "pending"]

ROLES: frozenset[str] = frozenset({"konselor", "konseli"})
LANGUAGES: frozenset[str] = frozenset({"id", "en"})
SESSION_ACTIONS: frozenset[str] = frozenset({"start", "end"})
GUARDIAN_CONSENT_VALUES: frozenset[str] = frozenset({"given", "not_needed", "pending"})
DeclineReason = Literal["declined", "invitation_used"]
DECLINE_REASONS: frozenset[str] = frozenset({"declined", "invitation_used"})


# Text bodies, prompts and answers: C0 controls other than tab and line feed, DEL and C1
# controls are rejected. C1 U+009B is a terminal escape introducer, and carriage returns
# would let one line overwrite another in a terminal.
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Display names are one line: no control characters at all, no line or paragraph
# separators, and no bidirectional embeddings, overrides or isolates, which could reorder
# the text that a client shows next to the name.
_FORBIDDEN_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_QUESTION_KEY = re.compile("[a-z][a-z0-9_]*")
# A relay URL in an introduction: ws:// or wss://, then printable ASCII without spaces.
_RELAY_URL = re.compile(r"wss?://[\x21-\x7e]+")
_TEXT_VERSION = re.compile("[A-Za-z0-9._-]+")


def _check_text(value: str, field: str, *, max_chars: int, min_chars: int = 0) -> None:
    if not isinstance(value, str):
        raise InvalidContentError(field, f"expected str, got {_type_name(value)}")
    if not min_chars <= len(value) <= max_chars:
        raise InvalidContentError(field, f"length {len(value)} is outside {min_chars}..{max_chars}")
    forbidden = _FORBIDDEN_IN_TEXT.search(value)
    if forbidden is not None:
        raise InvalidContentError(
            field, f"control character U+{ord(forbidden.group()):04X} at index {forbidden.start()}"
        )


def _check_display_name(value: str, field: str) -> None:
    if not isinstance(value, str):
        raise InvalidContentError(field, f"expected str, got {_type_name(value)}")
    if not 1 <= len(value) <= MAX_DISPLAY_NAME_CHARS:
        raise InvalidContentError(
            field, f"length {len(value)} is outside 1..{MAX_DISPLAY_NAME_CHARS}"
        )
    forbidden = _FORBIDDEN_IN_NAME.search(value)
    if forbidden is not None:
        raise InvalidContentError(
            field, f"character U+{ord(forbidden.group()):04X} is not allowed in a name"
        )
    if value.isspace():
        raise InvalidContentError(field, "name contains only whitespace")


def _check_pattern(value: str, field: str, pattern: re.Pattern[str], max_chars: int) -> None:
    if not isinstance(value, str):
        raise InvalidContentError(field, f"expected str, got {_type_name(value)}")
    if not 1 <= len(value) <= max_chars or pattern.fullmatch(value) is None:
        raise InvalidContentError(
            field, f"{value!r} does not match {pattern.pattern} with 1..{max_chars} characters"
        )


def _check_size(value: bytes, size: int, field: str) -> None:
    if not isinstance(value, bytes):
        raise InvalidContentError(field, f"expected bytes, got {_type_name(value)}")
    if len(value) != size:
        raise InvalidContentError(field, f"expected {size} bytes, got {len(value)}")


def _check_u64(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise InvalidContentError(field, f"{value!r} is not an unsigned 64-bit integer")


def _check_choice(value: str, allowed: frozenset[str], field: str) -> None:
    if value not in allowed:
        raise InvalidContentError(field, f"{value!r} is not one of {sorted(allowed)}")


def new_message_id(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """Draw a fresh 16-byte message id from ``random_bytes``."""
    return random_bytes(MESSAGE_ID_SIZE)


@dataclass(frozen=True)
class _ContentBase:
    """Header fields shared by every content message."""

    TAG: ClassVar[str]

    message_id: bytes
    """16 random bytes chosen by the sender, so that receipts can refer to the message."""

    seq: int
    """Sender's per-conversation counter, the only field used to order its messages."""

    sent_at: int
    """Sender's clock in unix milliseconds, shown to the user but never used to order."""

    def __post_init__(self) -> None:
        _check_size(self.message_id, MESSAGE_ID_SIZE, "id")
        _check_u64(self.seq, "seq")
        _check_u64(self.sent_at, "sent_at")
        self._check_body()

    def _check_body(self) -> None:
        """Raise InvalidContentError unless the type-specific fields are valid."""

    def _body_fields(self) -> dict[str, Any]:
        return {}

    def encode(self) -> bytes:
        """Encode this message as the msgpack map that goes into the ratchet."""
        document: dict[str, Any] = {
            "v": CONTENT_VERSION,
            "t": self.TAG,
            "id": self.message_id,
            "seq": self.seq,
            "sent_at": self.sent_at,
        }
        document.update(self._body_fields())
        return pack(document)


@dataclass(frozen=True)
class Text(_ContentBase):
    """A chat message typed by a person."""

    TAG: ClassVar[str] = "text"

    body: str
    reply_to: bytes | None = None
    """Id of the message this one answers, if any."""

    def _check_body(self) -> None:
        _check_text(self.body, "body", max_chars=MAX_TEXT_BODY_CHARS, min_chars=1)
        if self.reply_to is not None:
            _check_size(self.reply_to, MESSAGE_ID_SIZE, "reply_to")

    def _body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"body": self.body}
        if self.reply_to is not None:
            fields["reply_to"] = self.reply_to
        return fields


@dataclass(frozen=True)
class _Receipt(_ContentBase):
    message_ids: tuple[bytes, ...]

    def _check_body(self) -> None:
        if not 1 <= len(self.message_ids) <= MAX_RECEIPT_IDS:
            raise InvalidContentError(
                "ids", f"{len(self.message_ids)} ids is outside 1..{MAX_RECEIPT_IDS}"
            )
        for index, message_id in enumerate(self.message_ids):
            _check_size(message_id, MESSAGE_ID_SIZE, f"ids[{index}]")

    def _body_fields(self) -> dict[str, Any]:
        return {"ids": list(self.message_ids)}


@dataclass(frozen=True)
class Delivered(_Receipt):
    """Receipt: the listed messages reached the recipient's device."""

    TAG: ClassVar[str] = "delivered"


@dataclass(frozen=True)
class Read(_Receipt):
    """Receipt: the recipient has seen the listed messages on screen."""

    TAG: ClassVar[str] = "read"


@dataclass(frozen=True)
class Profile(_ContentBase):
    """The sender's display name, role and preferred language."""

    TAG: ClassVar[str] = "profile"

    display_name: str
    role: Role
    language: Language | None = None

    def _check_body(self) -> None:
        _check_display_name(self.display_name, "display_name")
        _check_choice(self.role, ROLES, "role")
        if self.language is not None:
            _check_choice(self.language, LANGUAGES, "language")

    def _body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"display_name": self.display_name, "role": self.role}
        if self.language is not None:
            fields["language"] = self.language
        return fields


@dataclass(frozen=True)
class SessionControl(_ContentBase):
    """Start or end of one counseling session within the conversation."""

    TAG: ClassVar[str] = "session"

    action: SessionAction
    session_id: bytes

    def _check_body(self) -> None:
        _check_choice(self.action, SESSION_ACTIONS, "action")
        _check_size(self.session_id, SESSION_ID_SIZE, "session_id")

    def _body_fields(self) -> dict[str, Any]:
        return {"action": self.action, "session_id": self.session_id}


@dataclass(frozen=True)
class Consent(_ContentBase):
    """The konseli's answer to a version of the consent text, with the guardian's status."""

    TAG: ClassVar[str] = "consent"

    text_version: str
    accepted: bool
    guardian_consent: GuardianConsent

    def _check_body(self) -> None:
        _check_pattern(self.text_version, "text_version", _TEXT_VERSION, MAX_CONSENT_VERSION_CHARS)
        if not isinstance(self.accepted, bool):
            raise InvalidContentError("accepted", f"expected bool, got {self.accepted!r}")
        _check_choice(self.guardian_consent, GUARDIAN_CONSENT_VALUES, "guardian_consent")

    def _body_fields(self) -> dict[str, Any]:
        return {
            "text_version": self.text_version,
            "accepted": self.accepted,
            "guardian_consent": self.guardian_consent,
        }


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a LAISEG evaluation, chosen by the counselor's client."""

    key: str
    """Short identifier that ratings refer to, such as ``understanding``."""

    prompt: str
    """Question text shown to the konseli."""


@dataclass(frozen=True)
class EvalRating:
    """A score from 1 to 5 for the evaluation question named by ``key``."""

    key: str
    score: int


@dataclass(frozen=True)
class EvalRequest(_ContentBase):
    """A counselor's request that the konseli evaluate a session (LAISEG)."""

    TAG: ClassVar[str] = "eval_request"

    session_id: bytes
    questions: tuple[EvalQuestion, ...]

    def _check_body(self) -> None:
        _check_size(self.session_id, SESSION_ID_SIZE, "session_id")
        if not 1 <= len(self.questions) <= MAX_EVAL_QUESTIONS:
            raise InvalidContentError(
                "questions", f"{len(self.questions)} questions is outside 1..{MAX_EVAL_QUESTIONS}"
            )

        seen: set[str] = set()
        for index, question in enumerate(self.questions):
            where = f"questions[{index}]"
            _check_pattern(question.key, f"{where}.key", _QUESTION_KEY, MAX_QUESTION_KEY_CHARS)
            if question.key in seen:
                raise InvalidContentError(f"{where}.key", f"duplicate key {question.key!r}")
            seen.add(question.key)
            _check_text(
                question.prompt, f"{where}.prompt", max_chars=MAX_QUESTION_PROMPT_CHARS, min_chars=1
            )

    def _body_fields(self) -> dict[str, Any]:
        questions = [{"key": q.key, "prompt": q.prompt} for q in self.questions]
        return {"session_id": self.session_id, "questions": questions}


@dataclass(frozen=True)
class EvalAnswers(_ContentBase):
    """The konseli's LAISEG evaluation of a session: three answers, a comment, ratings."""

    TAG: ClassVar[str] = "eval_answers"

    session_id: bytes
    understanding: str
    """The konseli's account of what they understood or learned in the session."""

    comfort: str
    """The konseli's feelings now, compared with the start of the session."""

    action: str
    """The konseli's planned next step, and when."""

    comment: str | None = None
    ratings: tuple[EvalRating, ...] = ()

    def _check_body(self) -> None:
        _check_size(self.session_id, SESSION_ID_SIZE, "session_id")
        for field in ("understanding", "comfort", "action"):
            _check_text(getattr(self, field), field, max_chars=MAX_EVAL_ANSWER_CHARS)
        if self.comment is not None:
            _check_text(self.comment, "comment", max_chars=MAX_EVAL_ANSWER_CHARS)
        _check_ratings(self.ratings)

    def _body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "session_id": self.session_id,
            "understanding": self.understanding,
            "comfort": self.comfort,
            "action": self.action,
        }
        if self.comment is not None:
            fields["comment"] = self.comment
        if self.ratings:
            fields["ratings"] = [{"key": r.key, "score": r.score} for r in self.ratings]
        return fields


@dataclass(frozen=True)
class Introduction(_ContentBase):
    """The sender's profile and the private inbox where the recipient writes to the sender.

    A konseli sends one inside the first envelope to a counselor's contact inbox, and the
    counselor answers with one for the private inbox it made for that konseli.
    """

    TAG: ClassVar[str] = "intro"

    display_name: str
    role: Role
    relay_url: str
    """WebSocket URL of the relay that stores the inbox, ``ws://`` or ``wss://``."""

    inbox_id: bytes
    """Send id of the sender's private inbox on that relay, 16 bytes."""

    sender_key: bytes
    """Ed25519 public key (32 bytes) that the sender proves when it writes to the
    recipient's inbox, so the recipient can secure that inbox to this key alone."""

    language: Language | None = None

    contact_inbox: bytes | None = None
    """Send id of the sender's long-lived contact inbox on the same relay, 16 bytes. A
    counselor names it so that the konseli fetches renewal bundles there and not from
    the one-time inbox its invitation named, which is deleted after its first use."""

    def _check_body(self) -> None:
        _check_display_name(self.display_name, "display_name")
        _check_choice(self.role, ROLES, "role")
        _check_pattern(self.relay_url, "relay_url", _RELAY_URL, MAX_RELAY_URL_CHARS)
        _check_size(self.inbox_id, INBOX_ID_SIZE, "inbox_id")
        _check_size(self.sender_key, SENDER_KEY_SIZE, "sender_key")
        if self.language is not None:
            _check_choice(self.language, LANGUAGES, "language")
        if self.contact_inbox is not None:
            _check_size(self.contact_inbox, INBOX_ID_SIZE, "contact_inbox")

    def _body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "display_name": self.display_name,
            "role": self.role,
            "relay_url": self.relay_url,
            "inbox_id": self.inbox_id,
            "sender_key": self.sender_key,
        }
        if self.language is not None:
            fields["language"] = self.language
        if self.contact_inbox is not None:
            fields["contact_inbox"] = self.contact_inbox
        return fields


@dataclass(frozen=True)
class Decline(_ContentBase):
    """A counselor's reply to a contact request that it will not accept.

    The counselor encrypts it under the session that the konseli's request started and
    writes it to the private inbox named in the request, so the konseli's client can
    tell the user and delete that inbox.
    """

    TAG: ClassVar[str] = "decline"

    reason: DeclineReason
    """``declined``: the counselor declined the request. ``invitation_used``: the request
    came through a one-time invitation that another konseli had already used."""

    def _check_body(self) -> None:
        _check_choice(self.reason, DECLINE_REASONS, "reason")

    def _body_fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


def _check_ratings(ratings: tuple[EvalRating, ...]) -> None:
    if len(ratings) > MAX_EVAL_QUESTIONS:
        raise InvalidContentError(
            "ratings", f"{len(ratings)} ratings exceeds the limit of {MAX_EVAL_QUESTIONS}"
        )

    seen: set[str] = set()
    for index, rating in enumerate(ratings):
        where = f"ratings[{index}]"
        _check_pattern(rating.key, f"{where}.key", _QUESTION_KEY, MAX_QUESTION_KEY_CHARS)
        if rating.key in seen:
            raise InvalidContentError(f"{where}.key", f"duplicate key {rating.key!r}")
        seen.add(rating.key)
        score = rating.score
        if isinstance(score, bool) or not isinstance(score, int):
            raise InvalidContentError(f"{where}.score", f"expected int, got {score!r}")
        if not MIN_RATING <= score <= MAX_RATING:
            raise InvalidContentError(
                f"{where}.score", f"{score} is outside {MIN_RATING}..{MAX_RATING}"
            )


Content = (
    Text
    | Delivered
    | Read
    | Profile
    | SessionControl
    | Consent
    | EvalRequest
    | EvalAnswers
    | Introduction
    | Decline
)
"""Any decoded content message."""


class _Header(NamedTuple):
    message_id: bytes
    seq: int
    sent_at: int


def decode_content(data: bytes) -> Content:
    """Decode one content message from the plaintext of a ratchet message.

    Raises:
        UnsupportedVersionError: ``v`` is not a content version this code speaks.
        UnknownTypeError: ``t`` names a type this version does not define.
        DecodeError: anything else is malformed; the error names the field and the limit.
    """
    fields = Fields(unpack(data, CONTENT_LIMITS), "")
    fields.version("v", SUPPORTED_CONTENT_VERSIONS)
    tag = fields.type_tag("t", frozenset(_DECODERS))

    header = _Header(
        message_id=fields.binary("id", size=MESSAGE_ID_SIZE),
        seq=fields.integer("seq", max_value=MAX_SEQ),
        sent_at=fields.integer("sent_at", max_value=MAX_SENT_AT),
    )
    return _DECODERS[tag](fields, header)


def _optional_binary(fields: Fields, key: str, size: int) -> bytes | None:
    return fields.binary(key, size=size) if fields.has(key) else None


def _optional_string(fields: Fields, key: str, max_len: int) -> str | None:
    return fields.string(key, max_len=max_len) if fields.has(key) else None


def _decode_text(fields: Fields, header: _Header) -> Text:
    return Text(
        *header,
        body=fields.string("body", max_len=MAX_TEXT_BODY_CHARS),
        reply_to=_optional_binary(fields, "reply_to", MESSAGE_ID_SIZE),
    )


def _decode_receipt_ids(fields: Fields) -> tuple[bytes, ...]:
    items = fields.array("ids", max_len=MAX_RECEIPT_IDS)
    ids = []
    for index, item in enumerate(items):
        if not isinstance(item, bytes):
            raise DecodeError(f"ids[{index}]", f"expected bin, got {_type_name(item)}")
        ids.append(item)
    return tuple(ids)


def _decode_delivered(fields: Fields, header: _Header) -> Delivered:
    return Delivered(*header, message_ids=_decode_receipt_ids(fields))


def _decode_read(fields: Fields, header: _Header) -> Read:
    return Read(*header, message_ids=_decode_receipt_ids(fields))


def _decode_profile(fields: Fields, header: _Header) -> Profile:
    language = fields.choice("language", LANGUAGES) if fields.has("language") else None
    return Profile(
        *header,
        display_name=fields.string("display_name", max_len=MAX_DISPLAY_NAME_CHARS),
        role=fields.choice("role", ROLES),  # type: ignore[arg-type]
        language=language,  # type: ignore[arg-type]
    )


def _decode_session(fields: Fields, header: _Header) -> SessionControl:
    return SessionControl(
        *header,
        action=fields.choice("action", SESSION_ACTIONS),  # type: ignore[arg-type]
        session_id=fields.binary("session_id", size=SESSION_ID_SIZE),
    )


def _decode_consent(fields: Fields, header: _Header) -> Consent:
    return Consent(
        *header,
        text_version=fields.string("text_version", max_len=MAX_CONSENT_VERSION_CHARS),
        accepted=fields.boolean("accepted"),
        guardian_consent=fields.choice(  # type: ignore[arg-type]
            "guardian_consent", GUARDIAN_CONSENT_VALUES
        ),
    )


def _decode_eval_request(fields: Fields, header: _Header) -> EvalRequest:
    questions = []
    for index, item in enumerate(fields.array("questions", max_len=MAX_EVAL_QUESTIONS)):
        question = Fields(item, f"questions[{index}]")
        questions.append(
            EvalQuestion(
                key=question.string("key", max_len=MAX_QUESTION_KEY_CHARS),
                prompt=question.string("prompt", max_len=MAX_QUESTION_PROMPT_CHARS),
            )
        )
    return EvalRequest(
        *header,
        session_id=fields.binary("session_id", size=SESSION_ID_SIZE),
        questions=tuple(questions),
    )


def _decode_eval_answers(fields: Fields, header: _Header) -> EvalAnswers:
    ratings = []
    if fields.has("ratings"):
        for index, item in enumerate(fields.array("ratings", max_len=MAX_EVAL_QUESTIONS)):
            rating = Fields(item, f"ratings[{index}]")
            ratings.append(
                EvalRating(
                    key=rating.string("key", max_len=MAX_QUESTION_KEY_CHARS),
                    score=rating.integer("score", min_value=MIN_RATING, max_value=MAX_RATING),
                )
            )
    return EvalAnswers(
        *header,
        session_id=fields.binary("session_id", size=SESSION_ID_SIZE),
        understanding=fields.string("understanding", max_len=MAX_EVAL_ANSWER_CHARS),
        comfort=fields.string("comfort", max_len=MAX_EVAL_ANSWER_CHARS),
        action=fields.string("action", max_len=MAX_EVAL_ANSWER_CHARS),
        comment=_optional_string(fields, "comment", MAX_EVAL_ANSWER_CHARS),
        ratings=tuple(ratings),
    )


def _decode_introduction(fields: Fields, header: _Header) -> Introduction:
    language = fields.choice("language", LANGUAGES) if fields.has("language") else None
    return Introduction(
        *header,
        display_name=fields.string("display_name", max_len=MAX_DISPLAY_NAME_CHARS),
        role=fields.choice("role", ROLES),  # type: ignore[arg-type]
        relay_url=fields.string("relay_url", max_len=MAX_RELAY_URL_CHARS),
        inbox_id=fields.binary("inbox_id", size=INBOX_ID_SIZE),
        sender_key=fields.binary("sender_key", size=SENDER_KEY_SIZE),
        language=language,  # type: ignore[arg-type]
        contact_inbox=_optional_binary(fields, "contact_inbox", INBOX_ID_SIZE),
    )


def _decode_decline(fields: Fields, header: _Header) -> Decline:
    return Decline(*header, reason=fields.choice("reason", DECLINE_REASONS))  # type: ignore[arg-type]


_DECODERS: dict[str, Callable[[Fields, _Header], Content]] = {
    Text.TAG: _decode_text,
    Delivered.TAG: _decode_delivered,
    Read.TAG: _decode_read,
    Profile.TAG: _decode_profile,
    SessionControl.TAG: _decode_session,
    Consent.TAG: _decode_consent,
    EvalRequest.TAG: _decode_eval_request,
    EvalAnswers.TAG: _decode_eval_answers,
    Introduction.TAG: _decode_introduction,
    Decline.TAG: _decode_decline,
}


def _type_name(value: object) -> str:
    return "nil" if value is None else type(value).__name__
