"""Round trips and rejections of the relay frame codec (konsel.protocol.relay_wire)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from konsel.protocol.codec import pack
from konsel.protocol.errors import CommandDecodeError, DecodeError, UnknownTypeError
from konsel.protocol.relay_wire import (
    ERROR_CODES,
    LABEL_DELETE,
    LABEL_SENDER,
    LABEL_SUBSCRIBE,
    MAX_PAIR_BODY_SIZE,
    Ack,
    Created,
    CreateInbox,
    DeleteInbox,
    Delivery,
    End,
    Error,
    ErrorCode,
    FetchPrekeys,
    Hello,
    Ok,
    PairClose,
    PairEnd,
    PairJoin,
    PairMessage,
    PairOpen,
    PairOpened,
    PairSend,
    PrekeyBundle,
    ProveSender,
    PutPrekeys,
    Secure,
    Send,
    Sent,
    ServerHello,
    Subscribe,
    Subscribed,
    Unsubscribe,
    decode_command,
    decode_server_message,
    encode_command,
    encode_server_message,
    frame_limits,
    pairing_message_type,
    signing_input,
)
from konsel.protocol.shortcode_wire import (
    MAX_INVITATION_BOX_SIZE,
    PAIRING_LIMITS,
    CancelMessage,
    PakeMessage,
    SealedMessage,
)

LIMITS = frame_limits(64 * 1024)
ID = bytes(range(16))
OTHER_ID = bytes(range(16, 32))
KEY = bytes(32)
SIGNATURE = bytes(64)

COMMANDS = [
    Hello(1, 1),
    CreateInbox(2, "private", KEY),
    CreateInbox(3, "contact", KEY, "token-123"),
    Subscribe(4, ID, SIGNATURE),
    Unsubscribe(5, ID),
    Ack(6, ID, (OTHER_ID, ID)),
    Send(7, ID, b"ciphertext"),
    Secure(8, ID, KEY),
    ProveSender(9, ID, SIGNATURE),
    PutPrekeys(10, ID, b"bundle", (b"otk-1", b"otk-2")),
    PutPrekeys(11, ID, None, ()),
    FetchPrekeys(12, ID),
    DeleteInbox(2**32 - 1, ID, SIGNATURE),
    PairOpen(13),
    PairOpen(14, 60),
    PairOpen(15, 600),
    PairJoin(16, 1),
    PairSend(17, 999, b"pairing message"),
    PairClose(18, 7),
]

SERVER_MESSAGES = [
    ServerHello(1, bytes(32), 65536, 32, 1 << 20),
    Ok(1),
    Ok(2, 17),
    Created(3, ID, OTHER_ID),
    Subscribed(4, 5, 6, True),
    Sent(5, OTHER_ID),
    PrekeyBundle(6, b"bundle", b"otk"),
    PrekeyBundle(7, b"bundle", None),
    Delivery(ID, OTHER_ID, b"envelope", 1_700_000_000),
    End(ID, "replaced"),
    Error(8, ErrorCode.AUTH_FAILED, "signature is not valid"),
    Error(None, ErrorCode.BAD_FRAME, "malformed"),
    PairOpened(9, 7, 1_800_000_600),
    PairMessage(412, b"pairing message"),
    PairEnd(7, "burned"),
    Error(10, ErrorCode.NO_NAMEPLATE, "every nameplate is in use"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: type(command).__name__)
def test_command_round_trip(command: object) -> None:
    assert decode_command(encode_command(command), LIMITS) == command  # type: ignore[arg-type]


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=lambda message: type(message).__name__)
def test_server_message_round_trip(message: object) -> None:
    encoded = encode_server_message(message)  # type: ignore[arg-type]
    assert decode_server_message(encoded, LIMITS) == message


@given(
    request_id=st.integers(0, 2**32 - 1),
    send_id=st.binary(min_size=16, max_size=16),
    envelope=st.binary(max_size=2048),
)
def test_send_round_trip_any_values(request_id: int, send_id: bytes, envelope: bytes) -> None:
    command = Send(request_id, send_id, envelope)
    assert decode_command(encode_command(command), LIMITS) == command


def test_unknown_command_keeps_request_id() -> None:
    with pytest.raises(CommandDecodeError) as caught:
        decode_command(pack({"t": "launch", "r": 41}), LIMITS)

    assert caught.value.code == ErrorCode.UNKNOWN_COMMAND
    assert caught.value.request_id == 41


def test_malformed_msgpack_is_bad_frame() -> None:
    with pytest.raises(CommandDecodeError) as caught:
        decode_command(b"\xc1\xff\x00", LIMITS)

    assert caught.value.code == ErrorCode.BAD_FRAME
    assert caught.value.request_id is None


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"t": "send", "r": 1, "sid": b"short", "env": b"x"}, "command.sid"),
        ({"t": "send", "r": 1, "sid": ID}, "command.env"),
        ({"t": "sub", "r": 1, "rid": ID, "sig": bytes(63)}, "command.sig"),
        ({"t": "create", "r": 1, "kind": "admin", "key": KEY}, "command.kind"),
        ({"t": "ack", "r": 1, "rid": ID, "mids": [b"x"]}, "command.mids"),
        ({"t": "ack", "r": 1, "rid": ID, "mids": [ID] * 257}, "command"),
        ({"t": "hello", "r": -1, "v": 1}, "command.r"),
        ({"t": "hello", "r": True, "v": 1}, "command.r"),
        ({"t": "pair_open", "r": 1, "ttl": 59}, "command.ttl"),
        ({"t": "pair_open", "r": 1, "ttl": 601}, "command.ttl"),
        ({"t": "pair_open", "r": 1, "ttl": "600"}, "command.ttl"),
        ({"t": "pair_join", "r": 1, "np": 0}, "command.np"),
        ({"t": "pair_join", "r": 1, "np": 1000}, "command.np"),
        ({"t": "pair_join", "r": 1}, "command.np"),
        ({"t": "pair_close", "r": 1, "np": True}, "command.np"),
        ({"t": "pair_send", "r": 1, "np": 7}, "command.body"),
        ({"t": "pair_send", "r": 1, "np": 7, "body": "text"}, "command.body"),
        ({"t": "pair_send", "r": 1, "np": 7, "body": bytes(2385)}, "command.body"),
    ],
)
def test_invalid_field_is_bad_frame(fields: dict[str, object], field_name: str) -> None:
    with pytest.raises(CommandDecodeError) as caught:
        decode_command(pack(fields), LIMITS)

    assert caught.value.code == ErrorCode.BAD_FRAME
    assert caught.value.field == field_name


def test_oversized_envelope_still_decodes() -> None:
    """An envelope above the limit decodes, so the relay can reply TOO_LARGE."""
    limits = frame_limits(1000)
    command = Send(1, ID, bytes(1001))

    assert decode_command(encode_command(command), limits) == command


def test_frame_above_input_limit_rejected() -> None:
    limits = frame_limits(1000)
    with pytest.raises(CommandDecodeError):
        decode_command(encode_command(Send(1, ID, bytes(3000))), limits)


def test_ext_type_rejected() -> None:
    frame = msgpack.packb({"t": "hello", "r": 1, "v": msgpack.ExtType(1, b"x")})
    with pytest.raises(CommandDecodeError) as caught:
        decode_command(frame, LIMITS)

    assert caught.value.code == ErrorCode.BAD_FRAME


def test_server_unknown_tag_raises() -> None:
    with pytest.raises(UnknownTypeError):
        decode_server_message(pack({"t": "surprise"}), LIMITS)


def test_server_hello_wrong_challenge_size() -> None:
    frame = pack({"t": "hello", "v": 1, "ch": bytes(31), "max_env": 1, "win_n": 1, "win_b": 1})
    with pytest.raises(DecodeError):
        decode_server_message(frame, LIMITS)


def test_signing_input_layout() -> None:
    challenge = bytes(range(32))
    signed = signing_input(LABEL_SUBSCRIBE, challenge, ID)

    assert signed == LABEL_SUBSCRIBE + challenge + ID
    assert signed.startswith(b"konsel.relay.v1/subscribe\x00")


def test_signing_labels_distinct() -> None:
    assert len({LABEL_SUBSCRIBE, LABEL_DELETE, LABEL_SENDER}) == 3


@pytest.mark.parametrize(("challenge", "inbox_id"), [(bytes(31), ID), (bytes(32), bytes(15))])
def test_signing_input_wrong_sizes(challenge: bytes, inbox_id: bytes) -> None:
    with pytest.raises(ValueError):
        signing_input(LABEL_SUBSCRIBE, challenge, inbox_id)


@given(st.binary(max_size=512))
def test_random_bytes_only_decode_errors(data: bytes) -> None:
    """Arbitrary bytes either decode to a command or raise CommandDecodeError, nothing else."""
    try:
        decode_command(data, LIMITS)
    except CommandDecodeError as error:
        assert error.code in (ErrorCode.BAD_FRAME, ErrorCode.UNKNOWN_COMMAND)


def test_pair_open_nil_ttl_is_default() -> None:
    decoded = decode_command(pack({"t": "pair_open", "r": 3, "ttl": None}), LIMITS)

    assert decoded == PairOpen(3, None)


def test_pair_open_without_ttl_omits_key() -> None:
    assert msgpack.unpackb(encode_command(PairOpen(3))) == {"t": "pair_open", "r": 3}


def test_largest_pairing_message_fits() -> None:
    """The longest invitation message passes as a body at the smallest allowed max_envelope."""
    largest = SealedMessage("invitation", bytes(24), bytes(MAX_INVITATION_BOX_SIZE)).encode()
    command = PairSend(1, 999, largest)

    assert MAX_PAIR_BODY_SIZE == PAIRING_LIMITS.max_input == 2384
    assert len(largest) <= MAX_PAIR_BODY_SIZE
    assert decode_command(encode_command(command), frame_limits(MAX_PAIR_BODY_SIZE)) == command


@pytest.mark.parametrize(
    "fields",
    [
        {"t": "pair_msg", "np": 0, "body": b"x"},
        {"t": "pair_msg", "np": 7},
        {"t": "pair_end", "np": 7, "why": ""},
        {"t": "pair_end", "np": 7, "why": "x" * 65},
        {"t": "pair_opened", "r": 1, "np": 1000, "exp": 1},
        {"t": "pair_opened", "r": 1, "np": 7},
    ],
)
def test_invalid_pair_frame_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(DecodeError):
        decode_server_message(pack(fields), LIMITS)


def test_pair_end_unknown_reason_accepted() -> None:
    """A newer relay may add reasons, so any short string decodes."""
    assert decode_server_message(pack({"t": "pair_end", "np": 7, "why": "moved"}), LIMITS) == (
        PairEnd(7, "moved")
    )


def test_no_nameplate_is_error_code() -> None:
    assert ErrorCode.NO_NAMEPLATE in ERROR_CODES


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (PakeMessage(b"A" + bytes(32)).encode(), "pake"),
        (CancelMessage().encode(), "cancel"),
        (pack({"v": 9, "t": "future"}), "future"),
    ],
)
def test_pairing_message_type_reads_tag(body: bytes, expected: str) -> None:
    assert pairing_message_type(body) == expected


@pytest.mark.parametrize(
    "body",
    [b"", b"\xc1", pack(["pake"]), pack({"v": 1}), pack({"t": ""}), pack({"t": b"pake"})],
)
def test_pairing_message_type_rejects(body: bytes) -> None:
    with pytest.raises(DecodeError):
        pairing_message_type(body)


def test_pairing_message_type_rejects_oversized() -> None:
    with pytest.raises(DecodeError):
        pairing_message_type(pack({"t": "pake", "pad": bytes(MAX_PAIR_BODY_SIZE)}))
