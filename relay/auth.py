"""Check the Ed25519 signatures that authorize inbox owners and secured senders."""

from __future__ import annotations

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from konsel.protocol.relay_wire import signing_input


def signature_is_valid(
    public_key: bytes, label: bytes, challenge: bytes, inbox_id: bytes, signature: bytes
) -> bool:
    """Return whether ``signature`` signs label || challenge || inbox id under ``public_key``.

    A malformed key counts as an invalid signature, so the caller has one failure path.
    """
    try:
        VerifyKey(public_key).verify(signing_input(label, challenge, inbox_id), signature)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True
