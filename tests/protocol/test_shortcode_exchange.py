"""Tests of konsel.protocol.shortcode_exchange: SPAKE2 pairing between two in-memory sides."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from konsel.protocol.codec import pack
from konsel.protocol.errors import AuthenticationError, KonselError
from konsel.protocol.invitation import Invitation, InvitationExpiredError
from konsel.protocol.shortcode import MAX_NAMEPLATE, MIN_NAMEPLATE, ShortCode, parse_code
from konsel.protocol.shortcode_errors import (
    CodeExpiredError,
    PairingCancelledError,
    PairingError,
    PairingProtocolError,
    PairingTamperedError,
    WrongCodeError,
)
from konsel.protocol.shortcode_exchange import (
    DEFAULT_LIFETIME,
    CodeAccepter,
    CodeConfirmed,
    CodeOfferer,
    ExchangeState,
    InvitationReceived,
    PairingOutput,
    ReplyReceived,
)
from konsel.protocol.shortcode_wire import MAX_REPLY_SIZE, SealedMessage, decode_pairing_message
from konsel.protocol.wordlist import load_words

NOW = 1_800_000_000
CODE = ShortCode(7, ("kancil", "pelangi"))
REPLY = b"student identity key and reply inbox"

INVITATION = Invitation(
    relay_url="ws://127.0.0.1:8765",
    inbox_id=bytes(range(16)),
    identity_key=bytes(range(100, 132)),
    prekey_bundle=bytes(range(40)),
    kind="one_time",
    expires_at=NOW + 86_400,
    display_name="Pak Budi",
)

Tamper = Callable[[str, bytes], bytes]


def untouched(name: str, data: bytes) -> bytes:
    return data


@dataclasses.dataclass
class Result:
    offerer: CodeOfferer
    accepter: CodeAccepter
    offerer_events: list[Any]
    accepter_events: list[Any]


def only_message(output: PairingOutput) -> bytes:
    assert len(output.messages) == 1
    return output.messages[0]


def run_exchange(
    offer_code: ShortCode = CODE,
    accept_code: ShortCode = CODE,
    tamper: Tamper = untouched,
    invitation: Invitation = INVITATION,
) -> Result:
    """Run a whole exchange in memory, passing every message through ``tamper``."""
    offerer = CodeOfferer(offer_code, invitation, now=NOW)
    accepter = CodeAccepter(accept_code, now=NOW)
    result = Result(offerer, accepter, [], [])

    pake_a = offerer.start(now=NOW)
    pake_b = accepter.start(now=NOW)

    confirm_a = only_message(offerer.receive(tamper("pake_b", pake_b), now=NOW + 1))
    confirm_b = only_message(accepter.receive(tamper("pake_a", pake_a), now=NOW + 1))

    output = accepter.receive(tamper("confirm_a", confirm_a), now=NOW + 2)
    result.accepter_events.extend(output.events)

    output = offerer.receive(tamper("confirm_b", confirm_b), now=NOW + 2)
    result.offerer_events.extend(output.events)
    sealed_invitation = only_message(output)

    output = accepter.receive(tamper("invitation", sealed_invitation), now=NOW + 3)
    result.accepter_events.extend(output.events)

    sealed_reply = accepter.reply(REPLY, now=NOW + 4)
    output = offerer.receive(tamper("reply", sealed_reply), now=NOW + 5)
    result.offerer_events.extend(output.events)
    return result


def test_exchange_right_code() -> None:
    result = run_exchange()

    offerer_confirmed, reply_received = result.offerer_events
    accepter_confirmed, invitation_received = result.accepter_events

    assert isinstance(offerer_confirmed, CodeConfirmed)
    assert isinstance(accepter_confirmed, CodeConfirmed)
    assert len(offerer_confirmed.verifier) == 32
    assert offerer_confirmed.verifier == accepter_confirmed.verifier
    assert result.offerer.verifier == result.accepter.verifier == offerer_confirmed.verifier

    assert isinstance(invitation_received, InvitationReceived)
    assert invitation_received.invitation == INVITATION
    assert isinstance(reply_received, ReplyReceived)
    assert reply_received.reply == REPLY

    assert result.offerer.state is ExchangeState.DONE
    assert result.accepter.state is ExchangeState.DONE


def test_exchange_typed_code() -> None:
    """The student's tolerant spelling pairs with the counselor's canonical code."""
    result = run_exchange(accept_code=parse_code("  7 KANCIL  pelangi "))
    assert result.accepter_events[1].invitation == INVITATION


def test_exchange_three_words() -> None:
    code = ShortCode(999, ("kancil", "pelangi", "kuda"))
    result = run_exchange(code, code)
    assert result.offerer_events[1].reply == REPLY


def test_exchange_verifier_differs_per_run() -> None:
    assert run_exchange().offerer.verifier != run_exchange().offerer.verifier


def run_until_confirm(
    offer_code: ShortCode, accept_code: ShortCode
) -> tuple[CodeOfferer, CodeAccepter, bytes, bytes]:
    """Run both sides until each has received the other's ``pake`` and produced its ``confirm``."""
    offerer = CodeOfferer(offer_code, INVITATION, now=NOW)
    accepter = CodeAccepter(accept_code, now=NOW)
    pake_a = offerer.start(now=NOW)
    pake_b = accepter.start(now=NOW)
    confirm_a = only_message(offerer.receive(pake_b, now=NOW))
    confirm_b = only_message(accepter.receive(pake_a, now=NOW))
    return offerer, accepter, confirm_a, confirm_b


@pytest.mark.parametrize(
    "accept_code",
    [
        ShortCode(7, ("kancil", "kuda")),
        ShortCode(7, ("pelangi", "kancil")),
        ShortCode(8, ("kancil", "pelangi")),
        ShortCode(7, ("kancil", "pelangi", "kuda")),
    ],
    ids=["word", "order", "nameplate", "extra-word"],
)
def test_exchange_wrong_code(accept_code: ShortCode) -> None:
    offerer, accepter, confirm_a, confirm_b = run_until_confirm(CODE, accept_code)

    with pytest.raises(WrongCodeError) as caught:
        accepter.receive(confirm_a, now=NOW)
    assert caught.value.code == "code_wrong"
    assert isinstance(caught.value, AuthenticationError)

    with pytest.raises(WrongCodeError):
        offerer.receive(confirm_b, now=NOW)

    assert offerer.state is ExchangeState.FAILED
    assert accepter.state is ExchangeState.FAILED
    assert offerer.verifier is None
    assert accepter.verifier is None


def test_exchange_wrong_code_reveals_nothing() -> None:
    """The counselor's side sends no invitation ciphertext to a side that failed confirmation."""
    offerer, _, _, confirm_b = run_until_confirm(CODE, ShortCode(7, ("kancil", "kuda")))
    sent_by_offerer: list[bytes] = []

    with pytest.raises(WrongCodeError):
        sent_by_offerer.extend(offerer.receive(confirm_b, now=NOW).messages)

    assert sent_by_offerer == []
    with pytest.raises(PairingProtocolError):
        offerer.receive(confirm_b, now=NOW)


def test_exchange_guess_ends_offerer() -> None:
    """A third party's wrong guess ends this offerer; the real student then needs a new code.

    The pure logic keeps no list of nameplates, so it burns nothing itself. The relay burns
    the nameplate after one pake exchange, and the guesser learns only that the guess was
    wrong.
    """
    offerer, guesser, confirm_a, confirm_b = run_until_confirm(
        CODE, ShortCode(7, ("kuda", "kancil"))
    )

    with pytest.raises(WrongCodeError):
        guesser.receive(confirm_a, now=NOW)
    with pytest.raises(WrongCodeError):
        offerer.receive(confirm_b, now=NOW)

    student = CodeAccepter(CODE, now=NOW)
    pake_b = student.start(now=NOW)
    with pytest.raises(PairingProtocolError, match="already failed"):
        offerer.receive(pake_b, now=NOW)


codes = st.builds(
    ShortCode,
    nameplate=st.integers(min_value=MIN_NAMEPLATE, max_value=MAX_NAMEPLATE),
    words=st.lists(st.sampled_from(load_words()), min_size=2, max_size=3).map(tuple),
)


@settings(max_examples=20, deadline=None)
@given(codes)
def test_exchange_random_code(code: ShortCode) -> None:
    result = run_exchange(code, parse_code(str(code)))
    assert result.accepter_events[1].invitation == INVITATION
    assert result.offerer_events[1].reply == REPLY


@settings(max_examples=20, deadline=None)
@given(codes, codes)
def test_exchange_random_wrong_code(offer_code: ShortCode, accept_code: ShortCode) -> None:
    assume(offer_code != accept_code)
    offerer, accepter, confirm_a, confirm_b = run_until_confirm(offer_code, accept_code)
    with pytest.raises(WrongCodeError):
        accepter.receive(confirm_a, now=NOW)
    with pytest.raises(WrongCodeError):
        offerer.receive(confirm_b, now=NOW)


def flip_one_bit(target: str, byte_index: int) -> Tamper:
    def tamper(name: str, data: bytes) -> bytes:
        if name != target:
            return data
        index = byte_index % len(data)
        flipped = bytearray(data)
        flipped[index] ^= 1 << (byte_index % 8)
        return bytes(flipped)

    return tamper


def encoded_sizes() -> dict[str, int]:
    sizes: dict[str, int] = {}

    def record(name: str, data: bytes) -> bytes:
        sizes[name] = len(data)
        return data

    run_exchange(tamper=record)
    return sizes


@pytest.mark.parametrize(
    "target", ["pake_a", "pake_b", "confirm_a", "confirm_b", "invitation", "reply"]
)
def test_exchange_bit_flip_rejected(target: str) -> None:
    """A flipped bit in any byte of any message makes the exchange fail, never succeed."""
    size = encoded_sizes()[target]
    for byte_index in range(size):
        with pytest.raises(KonselError) as caught:
            run_exchange(tamper=flip_one_bit(target, byte_index))
        assert isinstance(caught.value, PairingError)


def test_exchange_tampered_invitation_box() -> None:
    def tamper(name: str, data: bytes) -> bytes:
        if name != "invitation":
            return data
        message = decode_pairing_message(data)
        assert isinstance(message, SealedMessage)
        last_byte_changed = message.box[:-1] + bytes([message.box[-1] ^ 0x80])
        return pack({"v": 1, "t": "invitation", "nonce": message.nonce, "box": last_byte_changed})

    with pytest.raises(PairingTamperedError) as caught:
        run_exchange(tamper=tamper)
    assert caught.value.code == "pairing_tampered"


def test_exchange_reflected_pake() -> None:
    offerer = CodeOfferer(CODE, INVITATION, now=NOW)
    pake_a = offerer.start(now=NOW)
    with pytest.raises(PairingProtocolError, match="SPAKE2"):
        offerer.receive(pake_a, now=NOW)


def test_exchange_two_offerers() -> None:
    first = CodeOfferer(CODE, INVITATION, now=NOW)
    second = CodeOfferer(CODE, INVITATION, now=NOW)
    first.start(now=NOW)
    with pytest.raises(PairingProtocolError):
        first.receive(second.start(now=NOW), now=NOW)


def test_exchange_out_of_order() -> None:
    offerer, accepter, confirm_a, _ = run_until_confirm(CODE, CODE)
    second_pake = CodeAccepter(CODE, now=NOW).start(now=NOW)

    with pytest.raises(PairingProtocolError, match="unexpected"):
        offerer.receive(second_pake, now=NOW)

    fresh = CodeAccepter(CODE, now=NOW)
    with pytest.raises(PairingProtocolError, match="before start"):
        fresh.receive(confirm_a, now=NOW)

    other = CodeAccepter(CODE, now=NOW)
    other.start(now=NOW)
    with pytest.raises(PairingProtocolError, match="unexpected"):
        other.receive(confirm_a, now=NOW)

    with pytest.raises(PairingProtocolError, match="already called"):
        accepter.start(now=NOW)


def test_exchange_malformed_message() -> None:
    offerer = CodeOfferer(CODE, INVITATION, now=NOW)
    offerer.start(now=NOW)
    with pytest.raises(PairingProtocolError, match="malformed"):
        offerer.receive(b"\x81\xa1v\x02", now=NOW)
    assert offerer.state is ExchangeState.FAILED


def test_reply_rules() -> None:
    offerer, accepter, confirm_a, confirm_b = run_until_confirm(CODE, CODE)
    with pytest.raises(PairingProtocolError, match="reply"):
        accepter.reply(REPLY, now=NOW)

    accepter.receive(confirm_a, now=NOW)
    sealed_invitation = only_message(offerer.receive(confirm_b, now=NOW))
    accepter.receive(sealed_invitation, now=NOW)

    with pytest.raises(ValueError):
        accepter.reply(bytes(MAX_REPLY_SIZE + 1), now=NOW)
    with pytest.raises(ValueError):
        accepter.reply(b"", now=NOW)

    sealed_reply = accepter.reply(bytes(MAX_REPLY_SIZE), now=NOW)
    assert offerer.receive(sealed_reply, now=NOW).events == (ReplyReceived(bytes(MAX_REPLY_SIZE)),)

    with pytest.raises(PairingProtocolError, match="finished"):
        accepter.reply(REPLY, now=NOW)
    with pytest.raises(PairingProtocolError, match="finished"):
        offerer.receive(sealed_reply, now=NOW)


def test_exchange_expires() -> None:
    offerer = CodeOfferer(CODE, INVITATION, now=NOW)
    accepter = CodeAccepter(CODE, now=NOW, lifetime=60)
    assert offerer.expires_at == NOW + DEFAULT_LIFETIME
    assert accepter.expires_at == NOW + 60

    pake_a = offerer.start(now=NOW + DEFAULT_LIFETIME - 1)
    accepter.start(now=NOW + 59)

    with pytest.raises(CodeExpiredError) as caught:
        accepter.receive(pake_a, now=NOW + 60)
    assert caught.value.code == "code_expired"
    assert accepter.state is ExchangeState.EXPIRED

    with pytest.raises(CodeExpiredError):
        accepter.receive(pake_a, now=NOW)

    late = CodeOfferer(CODE, INVITATION, now=NOW)
    with pytest.raises(CodeExpiredError):
        late.start(now=NOW + DEFAULT_LIFETIME)


def test_exchange_invitation_expired_inside() -> None:
    expired = dataclasses.replace(INVITATION, expires_at=NOW + 2)
    with pytest.raises(InvitationExpiredError):
        run_exchange(invitation=expired)


def test_lifetime_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CodeAccepter(CODE, now=NOW, lifetime=0)


def test_cancel_by_peer() -> None:
    offerer = CodeOfferer(CODE, INVITATION, now=NOW)
    accepter = CodeAccepter(CODE, now=NOW)
    offerer.start(now=NOW)
    accepter.start(now=NOW)

    cancel = offerer.cancel()
    assert cancel is not None
    assert offerer.cancel() is None
    assert offerer.state is ExchangeState.CANCELLED

    with pytest.raises(PairingCancelledError) as caught:
        accepter.receive(cancel, now=NOW)
    assert caught.value.by_peer
    assert caught.value.code == "pairing_cancelled"
    assert accepter.state is ExchangeState.CANCELLED

    with pytest.raises(PairingCancelledError) as caught:
        offerer.receive(cancel, now=NOW)
    assert not caught.value.by_peer


def test_exchange_reflected_confirm() -> None:
    """A side's own confirm sent back to it fails like a wrong code, because each direction has its own key."""
    offerer, accepter, confirm_a, confirm_b = run_until_confirm(CODE, CODE)
    with pytest.raises(WrongCodeError):
        offerer.receive(confirm_a, now=NOW)
    with pytest.raises(WrongCodeError):
        accepter.receive(confirm_b, now=NOW)


def test_cancel_after_failure_and_done() -> None:
    offerer, _, confirm_a, _ = run_until_confirm(CODE, CODE)
    with pytest.raises(WrongCodeError):
        offerer.receive(confirm_a, now=NOW)
    assert offerer.cancel() is not None

    result = run_exchange()
    assert result.offerer.cancel() is None
    assert result.accepter.cancel() is None


def test_deterministic_with_seeded_randomness() -> None:
    """Fixed randomness gives fixed messages, so known-answer vectors are possible."""

    def transcript() -> list[bytes]:
        counter = iter(range(10_000))

        def random_bytes(size: int) -> bytes:
            return bytes(next(counter) % 256 for _ in range(size))

        offerer = CodeOfferer(CODE, INVITATION, now=NOW, random_bytes=random_bytes)
        accepter = CodeAccepter(CODE, now=NOW, random_bytes=random_bytes)
        pake_a = offerer.start(now=NOW)
        pake_b = accepter.start(now=NOW)
        confirm_a = only_message(offerer.receive(pake_b, now=NOW))
        confirm_b = only_message(accepter.receive(pake_a, now=NOW))
        return [pake_a, pake_b, confirm_a, confirm_b]

    assert transcript() == transcript()
