"""Renew requests: a counselor's signed request that a konseli start a new session.

Only the konseli can start X3DH again, because only the counselor publishes prekeys. When
the counselor's client finds the session broken (the konseli restored an old backup), it
sends a renew request to the konseli's private inbox as an "r" envelope. The konseli's
client trusts it because it is signed with the counselor's identity key, which it knows
from pairing.

The signature covers a labelled message that binds both identity keys, a fresh random
nonce and the sender's clock::

    "konsel/v1 renew request" || signer Ed25519 key (32) || recipient Ed25519 key (32)
        || nonce (16) || timestamp (u64, big-endian Unix seconds)

So the relay can neither forge a request nor move one to another pair of identities. The
receiver rejects a request older than :data:`MAX_REQUEST_AGE`, one dated more than
:data:`MAX_CLOCK_SKEW` ahead, and one whose nonce it has seen, so a replay does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import nacl.utils

from .envelope import (
    RENEW_NONCE_SIZE,
    RenewRequestEnvelope,
    decode_renew_request_envelope,
    encode_renew_request_envelope,
)
from .errors import (
    AuthenticationError,
    ReplayedRenewRequestError,
    StaleRenewRequestError,
)
from .identity import IdentityKeyPair, IdentityPublicKey

LABEL_RENEW_REQUEST = b"konsel/v1 renew request"
MAX_REQUEST_AGE = 7 * 24 * 3600
"""Seconds after which a request is stale. A konseli offline for a week still renews; an
older copy that the relay kept or replays is ignored."""
MAX_CLOCK_SKEW = 10 * 60
"""Seconds a request may be dated ahead of the receiver's clock."""

Rng = Callable[[int], bytes]


def signed_message(
    signer: IdentityPublicKey, recipient: IdentityPublicKey, nonce: bytes, timestamp: int
) -> bytes:
    """Build the labelled bytes that a renew request's signature covers."""
    return b"".join(
        (
            LABEL_RENEW_REQUEST,
            signer.ed25519,
            recipient.ed25519,
            nonce,
            timestamp.to_bytes(8, "big"),
        )
    )


def create_renew_request(
    signer: IdentityKeyPair,
    recipient: IdentityPublicKey,
    now: int,
    rng: Rng = nacl.utils.random,
) -> bytes:
    """Sign a renew request for ``recipient`` and return its "r" envelope bytes.

    Args:
        now: the sender's clock in Unix seconds.
    """
    nonce = rng(RENEW_NONCE_SIZE)
    signature = signer.sign(signed_message(signer.public, recipient, nonce, now))
    return encode_renew_request_envelope(RenewRequestEnvelope(nonce, now, signature))


def verify_renew_request(
    data: bytes,
    signer: IdentityPublicKey,
    recipient: IdentityPublicKey,
    *,
    now: int,
    seen_nonces: Collection[bytes],
) -> RenewRequestEnvelope:
    """Check a renew request envelope and return it.

    The signature is checked before the timestamp and the nonce, so an unsigned request
    tells the caller nothing more than "invalid".

    Args:
        signer: the counselor's identity key from pairing.
        recipient: this konseli's own identity key.
        now: the receiver's clock in Unix seconds.
        seen_nonces: nonces of requests accepted before.

    Raises:
        DecodeError: the envelope is malformed.
        AuthenticationError: the signature does not verify for these two identities.
        StaleRenewRequestError: the request is too old or dated too far ahead.
        ReplayedRenewRequestError: the nonce is in ``seen_nonces``.
    """
    request = decode_renew_request_envelope(data)
    message = signed_message(signer, recipient, request.nonce, request.timestamp)
    if not signer.verify(message, request.signature):
        raise AuthenticationError()

    if not now - MAX_REQUEST_AGE <= request.timestamp <= now + MAX_CLOCK_SKEW:
        raise StaleRenewRequestError(request.timestamp, now)
    if request.nonce in seen_nonces:
        raise ReplayedRenewRequestError()
    return request
