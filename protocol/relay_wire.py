"""Encode and decode the frames exchanged between a client and konsel-relay.

The relay speaks WebSocket with the subprotocol ``konsel.relay.v1``. Every frame is one
binary WebSocket message that contains one msgpack map with a type tag ``t``. Commands from
the client carry a request id ``r`` (an unsigned 32-bit integer chosen by the client), and
every reply echoes it. Deliveries, the server hello and the ``end``, ``pair_msg`` and
``pair_end`` notices carry no ``r``.

This module is pure logic: it turns bytes into the dataclasses below and back, through
:func:`konsel.protocol.codec.unpack` with explicit :class:`Limits`, and it builds the exact
byte strings that inbox owners and secured senders sign. It never verifies signatures,
opens sockets or reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from . import PROTOCOL_VERSION
from .codec import Fields, Limits, pack, unpack
from .errors import CommandDecodeError, DecodeError, UnknownTypeError
from .shortcode import MAX_NAMEPLATE, MIN_NAMEPLATE
from .shortcode_wire import PAIRING_LIMITS

SUBPROTOCOL: Final = "konsel.relay.v1"
"""WebSocket subprotocol name; the relay rejects a handshake that does not offer it."""

INBOX_ID_SIZE: Final = 16
MESSAGE_ID_SIZE: Final = 16
CHALLENGE_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
MAX_REQUEST_ID: Final = 2**32 - 1
MAX_ACK_IDS: Final = 256
MAX_PREKEYS_PER_UPLOAD: Final = 100
MAX_PREKEY_SIZE: Final = 1024
MAX_BUNDLE_SIZE: Final = 8192
MAX_TOKEN_LENGTH: Final = 256
MAX_ERROR_MESSAGE_LENGTH: Final = 512
FRAME_OVERHEAD: Final = 1024
"""Bytes a frame may need beyond its largest binary field, for the map keys and ids."""

MIN_PAIR_TTL: Final = 60
MAX_PAIR_TTL: Final = 600
DEFAULT_PAIR_TTL: Final = 600
"""Seconds a rendezvous lives when ``pair_open`` names no ``ttl``."""
MAX_PAIR_BODY_SIZE: Final = PAIRING_LIMITS.max_input
"""Largest ``body`` of ``pair_send``: one pairing message, 2,384 bytes."""
MAX_PAIR_END_REASON_LENGTH: Final = 64

PAIR_END_CLOSED: Final = "closed"
PAIR_END_EXPIRED: Final = "expired"
PAIR_END_BURNED: Final = "burned"

KIND_PRIVATE: Final = "private"
KIND_CONTACT: Final = "contact"
INBOX_KINDS: Final = frozenset({KIND_PRIVATE, KIND_CONTACT})

# Signature labels. Each signed input is label || challenge (32 bytes) || id (16 bytes),
# so a signature made for one purpose or one connection is useless for any other.
LABEL_SUBSCRIBE: Final = b"konsel.relay.v1/subscribe\x00"
LABEL_DELETE: Final = b"konsel.relay.v1/delete\x00"
LABEL_SENDER: Final = b"konsel.relay.v1/sender\x00"


class ErrorCode:
    """String codes carried in the ``code`` field of an ``err`` reply."""

    BAD_FRAME: Final = "BAD_FRAME"
    UNKNOWN_COMMAND: Final = "UNKNOWN_COMMAND"
    HELLO_REQUIRED: Final = "HELLO_REQUIRED"
    UNSUPPORTED_VERSION: Final = "UNSUPPORTED_VERSION"
    AUTH_FAILED: Final = "AUTH_FAILED"
    PROOF_REQUIRED: Final = "PROOF_REQUIRED"
    NOT_FOUND: Final = "NOT_FOUND"
    NOT_SUBSCRIBED: Final = "NOT_SUBSCRIBED"
    WRONG_KIND: Final = "WRONG_KIND"
    TOO_LARGE: Final = "TOO_LARGE"
    QUOTA_EXCEEDED: Final = "QUOTA_EXCEEDED"
    RATE_LIMITED: Final = "RATE_LIMITED"
    STORAGE_FULL: Final = "STORAGE_FULL"
    TOKEN_REQUIRED: Final = "TOKEN_REQUIRED"  # noqa: S105 (an error code, not a secret)
    TOKEN_INVALID: Final = "TOKEN_INVALID"  # noqa: S105 (an error code, not a secret)
    NO_NAMEPLATE: Final = "NO_NAMEPLATE"
    INTERNAL: Final = "INTERNAL"


ERROR_CODES: Final = frozenset(
    value for name, value in vars(ErrorCode).items() if name.isupper() and isinstance(value, str)
)


class CloseCode:
    """WebSocket close codes the relay uses besides the standard ones of RFC 6455."""

    NORMAL: Final = 1000
    GOING_AWAY: Final = 1001
    POLICY_VIOLATION: Final = 1008
    MESSAGE_TOO_BIG: Final = 1009
    INTERNAL_ERROR: Final = 1011
    HELLO_TIMEOUT: Final = 4000
    WRITE_TIMEOUT: Final = 4001
    UNSUPPORTED_VERSION: Final = 4002


# --- commands (client to relay) ----------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """First command of every connection: the protocol version the client speaks."""

    request_id: int
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class CreateInbox:
    """Create an inbox owned by ``owner_key`` (Ed25519 public key)."""

    request_id: int
    kind: str
    owner_key: bytes
    token: str | None = None


@dataclass(frozen=True)
class Subscribe:
    """Prove ownership of an inbox and start receiving its messages on this connection."""

    request_id: int
    receive_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Unsubscribe:
    """Stop deliveries from an inbox on this connection."""

    request_id: int
    receive_id: bytes


@dataclass(frozen=True)
class Ack:
    """Acknowledge delivered messages so the relay deletes them."""

    request_id: int
    receive_id: bytes
    message_ids: tuple[bytes, ...]


@dataclass(frozen=True)
class Send:
    """Store one opaque envelope in the inbox behind ``send_id``."""

    request_id: int
    send_id: bytes
    envelope: bytes


@dataclass(frozen=True)
class Secure:
    """Restrict a subscribed private inbox to the sender holding ``sender_key``."""

    request_id: int
    receive_id: bytes
    sender_key: bytes


@dataclass(frozen=True)
class ProveSender:
    """Prove on this connection that the sender has the key that a secured inbox requires."""

    request_id: int
    send_id: bytes
    signature: bytes


@dataclass(frozen=True)
class PutPrekeys:
    """Upload a signed-prekey bundle and/or one-time prekeys to a subscribed contact inbox."""

    request_id: int
    receive_id: bytes
    bundle: bytes | None
    one_time_prekeys: tuple[bytes, ...]


@dataclass(frozen=True)
class FetchPrekeys:
    """Fetch the bundle and one one-time prekey of the contact inbox behind ``send_id``."""

    request_id: int
    send_id: bytes


@dataclass(frozen=True)
class DeleteInbox:
    """Delete an inbox with all its messages and prekeys."""

    request_id: int
    receive_id: bytes
    signature: bytes


@dataclass(frozen=True)
class PairOpen:
    """Open a pairing rendezvous as side A; ``ttl`` is in seconds, ``None`` for the default."""

    request_id: int
    ttl: int | None = None


@dataclass(frozen=True)
class PairJoin:
    """Join the rendezvous behind ``nameplate`` as side B."""

    request_id: int
    nameplate: int


@dataclass(frozen=True)
class PairSend:
    """Pass one pairing message to the other side of a rendezvous."""

    request_id: int
    nameplate: int
    body: bytes


@dataclass(frozen=True)
class PairClose:
    """End a rendezvous this connection takes part in."""

    request_id: int
    nameplate: int


Command = (
    Hello
    | CreateInbox
    | Subscribe
    | Unsubscribe
    | Ack
    | Send
    | Secure
    | ProveSender
    | PutPrekeys
    | FetchPrekeys
    | DeleteInbox
    | PairOpen
    | PairJoin
    | PairSend
    | PairClose
)

COMMAND_TAGS: Final[dict[type[Command], str]] = {
    Hello: "hello",
    CreateInbox: "create",
    Subscribe: "sub",
    Unsubscribe: "unsub",
    Ack: "ack",
    Send: "send",
    Secure: "secure",
    ProveSender: "prove",
    PutPrekeys: "pk_put",
    FetchPrekeys: "pk_get",
    DeleteInbox: "del",
    PairOpen: "pair_open",
    PairJoin: "pair_join",
    PairSend: "pair_send",
    PairClose: "pair_close",
}


# --- server messages (relay to client) ----------------------------------------------------


@dataclass(frozen=True)
class ServerHello:
    """First frame the relay sends: its version, the connection challenge and its limits."""

    version: int
    challenge: bytes
    max_envelope: int
    window_count: int
    window_bytes: int


@dataclass(frozen=True)
class Ok:
    """Success reply without data; ``count`` is the stored prekey count after ``pk_put``."""

    request_id: int
    count: int | None = None


@dataclass(frozen=True)
class Created:
    """Reply to ``create``: the new inbox's receive id (secret) and send id (for the peer)."""

    request_id: int
    receive_id: bytes
    send_id: bytes


@dataclass(frozen=True)
class Subscribed:
    """Reply to ``sub``: queue size, one-time prekeys left and whether a sender key is set."""

    request_id: int
    queued: int
    prekeys: int
    secured: bool


@dataclass(frozen=True)
class Sent:
    """Reply to ``send``, sent only after the envelope is durably stored."""

    request_id: int
    message_id: bytes


@dataclass(frozen=True)
class PrekeyBundle:
    """Reply to ``pk_get``: the bundle and one one-time prekey, or ``None`` when none is left."""

    request_id: int
    bundle: bytes
    one_time_prekey: bytes | None


@dataclass(frozen=True)
class Delivery:
    """One stored envelope pushed to the subscriber of ``receive_id``."""

    receive_id: bytes
    message_id: bytes
    envelope: bytes
    received_at: int


@dataclass(frozen=True)
class End:
    """Notice that a subscription on this connection ended (replaced or inbox deleted)."""

    receive_id: bytes
    reason: str


@dataclass(frozen=True)
class PairOpened:
    """Reply to ``pair_open``: the allocated nameplate and its expiry in Unix seconds."""

    request_id: int
    nameplate: int
    expires_at: int


@dataclass(frozen=True)
class PairMessage:
    """One pairing message from the other side of the rendezvous behind ``nameplate``."""

    nameplate: int
    body: bytes


@dataclass(frozen=True)
class PairEnd:
    """Notice that a rendezvous ended: ``"closed"``, ``"expired"`` or ``"burned"``."""

    nameplate: int
    reason: str


@dataclass(frozen=True)
class Error:
    """Failure reply; ``request_id`` is ``None`` when the failed frame had no readable ``r``."""

    request_id: int | None
    code: str
    message: str


ServerMessage = (
    ServerHello
    | Ok
    | Created
    | Subscribed
    | Sent
    | PrekeyBundle
    | Delivery
    | End
    | PairOpened
    | PairMessage
    | PairEnd
    | Error
)

SERVER_TAGS: Final[dict[type[ServerMessage], str]] = {
    ServerHello: "hello",
    Ok: "ok",
    Created: "created",
    Subscribed: "subbed",
    Sent: "sent",
    PrekeyBundle: "prekeys",
    Delivery: "msg",
    End: "end",
    PairOpened: "pair_opened",
    PairMessage: "pair_msg",
    PairEnd: "pair_end",
    Error: "err",
}


# --- limits -------------------------------------------------------------------------------


def frame_limits(max_envelope: int) -> Limits:
    """Return decoding limits for frames whose largest field is an envelope of ``max_envelope``.

    The binary limit is the envelope limit itself, so an envelope one byte too long still
    decodes and the relay can reject it with ``TOO_LARGE`` instead of ``BAD_FRAME``.
    """
    return Limits(
        max_input=max_envelope + FRAME_OVERHEAD,
        max_str=max(MAX_ERROR_MESSAGE_LENGTH, MAX_TOKEN_LENGTH),
        max_bin=max(max_envelope, MAX_BUNDLE_SIZE),
        max_array=max(MAX_ACK_IDS, MAX_PREKEYS_PER_UPLOAD),
        max_map=16,
        max_depth=3,
    )


def signing_input(label: bytes, challenge: bytes, inbox_id: bytes) -> bytes:
    """Build the bytes an owner or secured sender signs: label, challenge, then the id.

    Raises:
        ValueError: the challenge or id has the wrong size.
    """
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"challenge must be {CHALLENGE_SIZE} bytes, got {len(challenge)}")
    if len(inbox_id) != INBOX_ID_SIZE:
        raise ValueError(f"inbox id must be {INBOX_ID_SIZE} bytes, got {len(inbox_id)}")
    return label + challenge + inbox_id


# --- encoding -----------------------------------------------------------------------------


def encode_command(command: Command) -> bytes:
    """Encode a client command as one msgpack frame."""
    fields: dict[str, object] = {"t": COMMAND_TAGS[type(command)], "r": command.request_id}

    if isinstance(command, Hello):
        fields["v"] = command.version
    elif isinstance(command, CreateInbox):
        fields.update(kind=command.kind, key=command.owner_key)
        if command.token is not None:
            fields["token"] = command.token
    elif isinstance(command, Subscribe | DeleteInbox):
        fields.update(rid=command.receive_id, sig=command.signature)
    elif isinstance(command, Unsubscribe):
        fields["rid"] = command.receive_id
    elif isinstance(command, Ack):
        fields.update(rid=command.receive_id, mids=list(command.message_ids))
    elif isinstance(command, Send):
        fields.update(sid=command.send_id, env=command.envelope)
    elif isinstance(command, Secure):
        fields.update(rid=command.receive_id, key=command.sender_key)
    elif isinstance(command, ProveSender):
        fields.update(sid=command.send_id, sig=command.signature)
    elif isinstance(command, PutPrekeys):
        fields.update(rid=command.receive_id, otks=list(command.one_time_prekeys))
        if command.bundle is not None:
            fields["bundle"] = command.bundle
    elif isinstance(command, FetchPrekeys):
        fields["sid"] = command.send_id
    elif isinstance(command, PairOpen):
        if command.ttl is not None:
            fields["ttl"] = command.ttl
    elif isinstance(command, PairJoin | PairClose):
        fields["np"] = command.nameplate
    elif isinstance(command, PairSend):
        fields.update(np=command.nameplate, body=command.body)

    return pack(fields)


def encode_server_message(message: ServerMessage) -> bytes:
    """Encode a relay frame (hello, reply, delivery or notice) as one msgpack frame."""
    fields: dict[str, object] = {"t": SERVER_TAGS[type(message)]}

    if isinstance(message, ServerHello):
        fields.update(
            v=message.version,
            ch=message.challenge,
            max_env=message.max_envelope,
            win_n=message.window_count,
            win_b=message.window_bytes,
        )
    elif isinstance(message, Ok):
        fields["r"] = message.request_id
        if message.count is not None:
            fields["n"] = message.count
    elif isinstance(message, Created):
        fields.update(r=message.request_id, rid=message.receive_id, sid=message.send_id)
    elif isinstance(message, Subscribed):
        fields.update(
            r=message.request_id, n=message.queued, pk=message.prekeys, sec=message.secured
        )
    elif isinstance(message, Sent):
        fields.update(r=message.request_id, mid=message.message_id)
    elif isinstance(message, PrekeyBundle):
        fields.update(r=message.request_id, bundle=message.bundle, otk=message.one_time_prekey)
    elif isinstance(message, Delivery):
        fields.update(
            rid=message.receive_id,
            mid=message.message_id,
            env=message.envelope,
            ts=message.received_at,
        )
    elif isinstance(message, End):
        fields.update(rid=message.receive_id, why=message.reason)
    elif isinstance(message, PairOpened):
        fields.update(r=message.request_id, np=message.nameplate, exp=message.expires_at)
    elif isinstance(message, PairMessage):
        fields.update(np=message.nameplate, body=message.body)
    elif isinstance(message, PairEnd):
        fields.update(np=message.nameplate, why=message.reason)
    elif isinstance(message, Error):
        fields.update(r=message.request_id, code=message.code, msg=message.message)

    return pack(fields)


# --- decoding -----------------------------------------------------------------------------

_COMMAND_BY_TAG: Final = {tag: cls for cls, tag in COMMAND_TAGS.items()}
_SERVER_BY_TAG: Final = {tag: cls for cls, tag in SERVER_TAGS.items()}


def _inbox_id(fields: Fields, key: str) -> bytes:
    return fields.binary(key, size=INBOX_ID_SIZE)


def _nameplate(fields: Fields) -> int:
    return fields.integer("np", min_value=MIN_NAMEPLATE, max_value=MAX_NAMEPLATE)


def _pair_body(fields: Fields) -> bytes:
    return fields.binary("body", max_size=MAX_PAIR_BODY_SIZE)


def _binary_list(fields: Fields, key: str, *, max_len: int, max_item: int) -> tuple[bytes, ...]:
    items = fields.array(key, max_len=max_len)
    result: list[bytes] = []
    for index, item in enumerate(items):
        if not isinstance(item, bytes):
            raise DecodeError(f"{fields.where}.{key}[{index}]", "expected bin")
        if len(item) > max_item:
            raise DecodeError(
                f"{fields.where}.{key}[{index}]",
                f"{len(item)} bytes exceeds the limit of {max_item}",
            )
        result.append(item)
    return tuple(result)


def _peek_request_id(obj: object) -> int | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get("r")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_REQUEST_ID else None


def decode_command(data: bytes, limits: Limits) -> Command:
    """Decode one client frame into a command.

    Raises:
        CommandDecodeError: the frame is malformed (code ``BAD_FRAME``) or names a command
            this version does not define (code ``UNKNOWN_COMMAND``).
    """
    request_id: int | None = None
    try:
        obj = unpack(data, limits, where="command")
        request_id = _peek_request_id(obj)
        fields = Fields(obj, "command")
        tag = fields.type_tag("t", frozenset(_COMMAND_BY_TAG))
        request_id = fields.integer("r", max_value=MAX_REQUEST_ID)
        return _decode_command_fields(tag, request_id, fields)
    except UnknownTypeError as error:
        raise CommandDecodeError(error, request_id, ErrorCode.UNKNOWN_COMMAND) from None
    except DecodeError as error:
        raise CommandDecodeError(error, request_id, ErrorCode.BAD_FRAME) from None


def _decode_command_fields(tag: str, r: int, fields: Fields) -> Command:
    command: Command
    if tag == "hello":
        command = Hello(r, fields.integer("v", max_value=255))
    elif tag == "create":
        token = fields.string("token", max_len=MAX_TOKEN_LENGTH) if fields.has("token") else None
        command = CreateInbox(
            r,
            fields.choice("kind", INBOX_KINDS),
            fields.binary("key", size=PUBLIC_KEY_SIZE),
            token,
        )
    elif tag == "sub":
        command = Subscribe(r, _inbox_id(fields, "rid"), fields.binary("sig", size=SIGNATURE_SIZE))
    elif tag == "unsub":
        command = Unsubscribe(r, _inbox_id(fields, "rid"))
    elif tag == "ack":
        mids = _binary_list(fields, "mids", max_len=MAX_ACK_IDS, max_item=MESSAGE_ID_SIZE)
        if any(len(mid) != MESSAGE_ID_SIZE for mid in mids):
            raise DecodeError("command.mids", f"every message id must be {MESSAGE_ID_SIZE} bytes")
        command = Ack(r, _inbox_id(fields, "rid"), mids)
    elif tag == "send":
        command = Send(r, _inbox_id(fields, "sid"), fields.binary("env"))
    elif tag == "secure":
        command = Secure(r, _inbox_id(fields, "rid"), fields.binary("key", size=PUBLIC_KEY_SIZE))
    elif tag == "prove":
        command = ProveSender(
            r, _inbox_id(fields, "sid"), fields.binary("sig", size=SIGNATURE_SIZE)
        )
    elif tag == "pk_put":
        bundle = fields.binary("bundle", max_size=MAX_BUNDLE_SIZE) if fields.has("bundle") else None
        otks = _binary_list(
            fields, "otks", max_len=MAX_PREKEYS_PER_UPLOAD, max_item=MAX_PREKEY_SIZE
        )
        command = PutPrekeys(r, _inbox_id(fields, "rid"), bundle, otks)
    elif tag == "pk_get":
        command = FetchPrekeys(r, _inbox_id(fields, "sid"))
    elif tag == "pair_open":
        ttl = (
            fields.integer("ttl", min_value=MIN_PAIR_TTL, max_value=MAX_PAIR_TTL)
            if fields.has("ttl")
            else None
        )
        command = PairOpen(r, ttl)
    elif tag == "pair_join":
        command = PairJoin(r, _nameplate(fields))
    elif tag == "pair_send":
        command = PairSend(r, _nameplate(fields), _pair_body(fields))
    elif tag == "pair_close":
        command = PairClose(r, _nameplate(fields))
    else:
        command = DeleteInbox(
            r, _inbox_id(fields, "rid"), fields.binary("sig", size=SIGNATURE_SIZE)
        )
    return command


def decode_server_message(data: bytes, limits: Limits) -> ServerMessage:
    """Decode one relay frame.

    Raises:
        DecodeError: the frame is malformed.
        UnknownTypeError: the frame's type tag is not defined by this version.
    """
    fields = Fields(unpack(data, limits, where="frame"), "frame")
    tag = fields.type_tag("t", frozenset(_SERVER_BY_TAG))

    if tag == "hello":
        return ServerHello(
            fields.integer("v", max_value=255),
            fields.binary("ch", size=CHALLENGE_SIZE),
            fields.integer("max_env"),
            fields.integer("win_n"),
            fields.integer("win_b"),
        )
    if tag == "msg":
        return Delivery(
            _inbox_id(fields, "rid"),
            fields.binary("mid", size=MESSAGE_ID_SIZE),
            fields.binary("env"),
            fields.integer("ts", max_value=2**63 - 1),
        )
    if tag == "end":
        return End(_inbox_id(fields, "rid"), fields.string("why", max_len=64))
    if tag == "pair_msg":
        return PairMessage(_nameplate(fields), _pair_body(fields))
    if tag == "pair_end":
        # Any short string is accepted, so a newer relay may add reasons.
        why = fields.string("why", max_len=MAX_PAIR_END_REASON_LENGTH, min_len=1)
        return PairEnd(_nameplate(fields), why)
    if tag == "err":
        request_id = fields.integer("r", max_value=MAX_REQUEST_ID) if fields.has("r") else None
        return Error(
            request_id,
            fields.string("code", max_len=64, min_len=1),
            fields.string("msg", max_len=MAX_ERROR_MESSAGE_LENGTH),
        )

    r = fields.integer("r", max_value=MAX_REQUEST_ID)
    if tag == "ok":
        return Ok(r, fields.integer("n") if fields.has("n") else None)
    if tag == "created":
        return Created(r, _inbox_id(fields, "rid"), _inbox_id(fields, "sid"))
    if tag == "subbed":
        return Subscribed(r, fields.integer("n"), fields.integer("pk"), fields.boolean("sec"))
    if tag == "sent":
        return Sent(r, fields.binary("mid", size=MESSAGE_ID_SIZE))
    if tag == "pair_opened":
        return PairOpened(r, _nameplate(fields), fields.integer("exp", max_value=2**63 - 1))
    otk = fields.binary("otk", max_size=MAX_PREKEY_SIZE) if fields.has("otk") else None
    return PrekeyBundle(r, fields.binary("bundle", max_size=MAX_BUNDLE_SIZE), otk)


def pairing_message_type(body: bytes) -> str:
    """Read the type tag ``t`` of a pairing message, the only field the relay looks at.

    The body is decoded under the same limits as a client decodes it, so any body that a
    client accepts as a ``pake`` message reads as ``"pake"`` here.

    Raises:
        DecodeError: the body is not a msgpack map with a string ``t`` of 1 to 32
            characters.
    """
    fields = Fields(unpack(body, PAIRING_LIMITS, where="body"), "body")
    return fields.string("t", max_len=32, min_len=1)
