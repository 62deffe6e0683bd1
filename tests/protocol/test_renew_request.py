"""Tests of renew requests: the "r" envelope, its signature and its replay checks."""

from __future__ import annotations

import pytest

from konsel.protocol.codec import pack
from konsel.protocol.envelope import (
    MessageEnvelope,
    RenewRequestEnvelope,
    decode_envelope,
    decode_renew_request_envelope,
    encode_envelope,
    encode_renew_request_envelope,
    is_renew_request,
    message_id,
)
from konsel.protocol.errors import (
    AuthenticationError,
    DecodeError,
    ReplayedRenewRequestError,
    StaleRenewRequestError,
    UnknownTypeError,
    UnsupportedVersionError,
)
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.renew_request import (
    MAX_CLOCK_SKEW,
    MAX_REQUEST_AGE,
    create_renew_request,
    signed_message,
    verify_renew_request,
)

NOW = 1_796_000_000
COUNSELOR = IdentityKeyPair(bytes(range(32)))
STUDENT = IdentityKeyPair(bytes(range(32, 64)))
OTHER = IdentityKeyPair(bytes(range(64, 96)))


def _fixed_rng(size: int) -> bytes:
    return bytes([0x5A]) * size


def _request(now: int = NOW, signer: IdentityKeyPair = COUNSELOR) -> bytes:
    return create_renew_request(signer, STUDENT.public, now, rng=_fixed_rng)


def _verify(data: bytes, now: int = NOW, seen: tuple[bytes, ...] = ()) -> RenewRequestEnvelope:
    return verify_renew_request(data, COUNSELOR.public, STUDENT.public, now=now, seen_nonces=seen)


def test_renew_request_valid() -> None:
    request = _verify(_request())
    assert request.nonce == bytes([0x5A]) * 16
    assert request.timestamp == NOW


def test_renew_request_signed_message_layout() -> None:
    message = signed_message(COUNSELOR.public, STUDENT.public, b"\x01" * 16, 258)
    assert message.startswith(b"konsel/v1 renew request")
    assert message[23:55] == COUNSELOR.public.ed25519
    assert message[55:87] == STUDENT.public.ed25519
    assert message[87:103] == b"\x01" * 16
    assert message[103:] == (258).to_bytes(8, "big")


def test_renew_request_wrong_signer() -> None:
    with pytest.raises(AuthenticationError):
        _verify(_request(signer=OTHER))


def test_renew_request_other_recipient() -> None:
    data = create_renew_request(COUNSELOR, OTHER.public, NOW, rng=_fixed_rng)
    with pytest.raises(AuthenticationError):
        _verify(data)


def test_renew_request_stale() -> None:
    with pytest.raises(StaleRenewRequestError):
        _verify(_request(now=NOW - MAX_REQUEST_AGE - 1))


def test_renew_request_from_future() -> None:
    with pytest.raises(StaleRenewRequestError):
        _verify(_request(now=NOW + MAX_CLOCK_SKEW + 1))


def test_renew_request_edges_of_window() -> None:
    assert _verify(_request(now=NOW - MAX_REQUEST_AGE)).timestamp == NOW - MAX_REQUEST_AGE
    assert _verify(_request(now=NOW + MAX_CLOCK_SKEW)).timestamp == NOW + MAX_CLOCK_SKEW


def test_renew_request_replayed_nonce() -> None:
    data = _request()
    first = _verify(data)
    with pytest.raises(ReplayedRenewRequestError):
        _verify(data, seen=(first.nonce,))


def test_renew_request_changed_timestamp() -> None:
    """A relay that re-dates an old request breaks its signature."""
    original = decode_renew_request_envelope(_request(now=NOW - MAX_REQUEST_AGE - 100))
    redated = RenewRequestEnvelope(original.nonce, NOW, original.signature)
    with pytest.raises(AuthenticationError):
        _verify(encode_renew_request_envelope(redated))


@pytest.mark.parametrize("index", range(4, 93))
def test_renew_request_tampered_byte(index: int) -> None:
    """A flipped bit in any field after the type tag is rejected."""
    data = bytearray(_request())
    assert index < len(data)
    data[index] ^= 0x01
    with pytest.raises((AuthenticationError, DecodeError, StaleRenewRequestError)):
        _verify(bytes(data))


def test_renew_request_truncated() -> None:
    data = _request()
    for size in range(len(data)):
        with pytest.raises(DecodeError):
            _verify(data[:size])


def test_renew_request_trailing_bytes() -> None:
    with pytest.raises(DecodeError):
        _verify(_request() + b"\x00")


def test_renew_request_envelope_shape() -> None:
    data = _request()
    # Array, version and type (4), bin 16 (18), uint32 timestamp (5), bin 64 (66).
    assert len(data) == 93
    assert data[:4] == b"\x95\x01\xa1r"
    assert is_renew_request(data)
    assert not is_renew_request(encode_envelope(MessageEnvelope(b"\x00" * 64, b"\x00" * 17)))


def test_renew_request_not_ratchet_envelope() -> None:
    with pytest.raises(UnknownTypeError):
        decode_envelope(_request())


def test_renew_request_wrong_version() -> None:
    data = pack([2, "r", b"\x00" * 16, NOW, b"\x00" * 64])
    with pytest.raises(UnsupportedVersionError):
        decode_renew_request_envelope(data)


def test_renew_request_wrong_type() -> None:
    data = pack([1, "m", b"\x00" * 16, NOW, b"\x00" * 64])
    with pytest.raises(UnknownTypeError):
        decode_renew_request_envelope(data)


@pytest.mark.parametrize(
    "items",
    [
        [1, "r", b"\x00" * 15, NOW, b"\x00" * 64],
        [1, "r", b"\x00" * 16, NOW, b"\x00" * 63],
        [1, "r", b"\x00" * 16, -1, b"\x00" * 64],
        [1, "r", b"\x00" * 16, True, b"\x00" * 64],
        [1, "r", b"\x00" * 16, "1796000000", b"\x00" * 64],
        [1, "r", b"\x00" * 16, NOW],
        [1, "r", b"\x00" * 16, NOW, b"\x00" * 64, None],
    ],
)
def test_renew_request_bad_fields(items: list[object]) -> None:
    with pytest.raises(DecodeError):
        decode_renew_request_envelope(pack(items))


def test_renew_request_non_canonical() -> None:
    """A timestamp written as uint64 although it fits uint32 has another message id."""
    canonical = _request()
    assert canonical[22:27] == b"\xce" + NOW.to_bytes(4, "big")
    longer = canonical[:22] + b"\xcf" + NOW.to_bytes(8, "big") + canonical[27:]
    assert message_id(longer) != message_id(canonical)
    assert _verify(canonical).timestamp == NOW
    with pytest.raises(DecodeError):
        decode_renew_request_envelope(longer)


def test_renew_request_encode_rejects_sizes() -> None:
    with pytest.raises(ValueError, match="nonce"):
        encode_renew_request_envelope(RenewRequestEnvelope(b"\x00", NOW, b"\x00" * 64))
    with pytest.raises(ValueError, match="timestamp"):
        encode_renew_request_envelope(RenewRequestEnvelope(b"\x00" * 16, -1, b"\x00" * 64))
