"""Extended Triple Diffie-Hellman (X3DH): the key agreement that starts a session.

This follows Signal's X3DH specification (https://signal.org/docs/specifications/x3dh/)
with Curve25519 and SHA-256, and two differences:

* identity keys are Ed25519 keys converted to X25519 (see :mod:`.identity`);
* the initiator's identity key travels sealed with XChaCha20-Poly1305 under a key derived
  from DH(EK_A, SPK_B), so the relay that forwards the initial message cannot tell who
  started the session.

The shared secret feeds three HKDF derivations: the first root key of the Double Ratchet
and the two header keys that the ratchet with header encryption needs to start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from . import PROTOCOL_VERSION
from .errors import AuthenticationError, HandshakeError
from .identity import IdentityKeyPair, IdentityPublicKey
from .kdf import (
    KEY_SIZE,
    LABEL_SEALED_IDENTITY,
    LABEL_X3DH_HEADER_KEY,
    LABEL_X3DH_NEXT_HEADER_KEY,
    LABEL_X3DH_ROOT,
    X3DH_PREFIX,
    hkdf_sha256,
)
from .prekeys import PrekeyBundle, PrekeyStore, x25519_keypair

SEALED_IDENTITY_SIZE = 32 + 16
"""Size of the sealed initiator identity: a 32-byte Ed25519 key plus a 16-byte tag."""

_XCHACHA_NONCE_SIZE = 24

Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class SharedKeys:
    """The X3DH outputs that initialize the Double Ratchet."""

    root_key: bytes
    initiator_header_key: bytes
    """Header key of the initiator's first sending chain (HKA in Signal's notation)."""
    responder_next_header_key: bytes
    """Header key of the responder's first sending chain (NHKB in Signal's notation)."""


@dataclass(frozen=True)
class InitiatorHandshake:
    """Initiator's X3DH result: the keys it keeps and the fields every initial envelope repeats."""

    ephemeral_public: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None
    sealed_identity: bytes
    remote_ratchet_key: bytes
    """The responder's signed prekey, which doubles as its first ratchet public key."""
    shared: SharedKeys
    associated_data: bytes


@dataclass(frozen=True)
class ResponderHandshake:
    """Responder's X3DH result for one initial envelope."""

    initiator_identity: IdentityPublicKey
    ratchet_private_key: bytes
    """The signed prekey's private key, the responder's first ratchet key pair."""
    shared: SharedKeys
    associated_data: bytes
    store: PrekeyStore
    """The prekey store without the consumed one-time prekey; save it only on success."""


def associated_data(initiator: IdentityPublicKey, responder: IdentityPublicKey) -> bytes:
    """Build the session's associated data: version (1 byte) || IK_A (32) || IK_B (32)."""
    return bytes([PROTOCOL_VERSION]) + initiator.ed25519 + responder.ed25519


def initiate(
    identity: IdentityKeyPair, bundle: PrekeyBundle, rng: Rng = nacl.utils.random
) -> InitiatorHandshake:
    """Run the initiator's side of X3DH against a verified ``bundle``.

    Raises:
        HandshakeError: the bundle's signature is invalid or one of its keys gives an
            all-zero DH output (a low-order point).
    """
    bundle.verify()
    ephemeral_private, ephemeral_public = x25519_keypair(rng)

    dh_outputs = [
        _dh(identity.x25519_private, bundle.signed_prekey),
        _dh(ephemeral_private, bundle.identity.x25519),
        _dh(ephemeral_private, bundle.signed_prekey),
    ]
    if bundle.one_time_prekey is not None:
        dh_outputs.append(_dh(ephemeral_private, bundle.one_time_prekey))

    sealed_identity = _seal_identity(
        identity.public, dh_outputs[2], ephemeral_public, bundle.signed_prekey
    )
    return InitiatorHandshake(
        ephemeral_public=ephemeral_public,
        signed_prekey_id=bundle.signed_prekey_id,
        one_time_prekey_id=bundle.one_time_prekey_id,
        sealed_identity=sealed_identity,
        remote_ratchet_key=bundle.signed_prekey,
        shared=_derive_shared_keys(dh_outputs),
        associated_data=associated_data(identity.public, bundle.identity),
    )


def respond(
    identity: IdentityKeyPair,
    store: PrekeyStore,
    ephemeral_public: bytes,
    signed_prekey_id: int,
    one_time_prekey_id: int | None,
    sealed_identity: bytes,
) -> ResponderHandshake:
    """Run the responder's side of X3DH for the fields of an initial envelope.

    Nothing here proves that the initiator has its identity's private key. That proof
    comes when the first ratchet message decrypts, because DH1 used the private key.

    Raises:
        PrekeyNotFoundError: the signed or one-time prekey id is unknown or used.
        AuthenticationError: the sealed identity does not decrypt.
        HandshakeError: a key gives an all-zero DH output, or the sealed identity is not
            a valid Ed25519 key.
    """
    signed_prekey = store.signed_prekey(signed_prekey_id)
    remaining_store = store
    one_time_private: bytes | None = None
    if one_time_prekey_id is not None:
        one_time_private, remaining_store = store.consume_one_time_prekey(one_time_prekey_id)

    dh3 = _dh(signed_prekey.private_key, ephemeral_public)
    initiator = _open_identity(sealed_identity, dh3, ephemeral_public, signed_prekey.public_key)

    dh_outputs = [
        _dh(signed_prekey.private_key, initiator.x25519),
        _dh(identity.x25519_private, ephemeral_public),
        dh3,
    ]
    if one_time_private is not None:
        dh_outputs.append(_dh(one_time_private, ephemeral_public))

    return ResponderHandshake(
        initiator_identity=initiator,
        ratchet_private_key=signed_prekey.private_key,
        shared=_derive_shared_keys(dh_outputs),
        associated_data=associated_data(initiator, identity.public),
        store=remaining_store,
    )


def _dh(private_key: bytes, public_key: bytes) -> bytes:
    try:
        shared: bytes = sodium.crypto_scalarmult(private_key, public_key)
    except nacl.exceptions.RuntimeError:
        # libsodium rejects an all-zero result, which only a low-order point produces.
        raise HandshakeError("a public key in the handshake is a low-order point") from None
    return shared


def _derive_shared_keys(dh_outputs: list[bytes]) -> SharedKeys:
    # F || DH1 || DH2 || DH3 [|| DH4], HKDF salt of 32 zero bytes, as the X3DH specification defines.
    ikm = X3DH_PREFIX + b"".join(dh_outputs)
    return SharedKeys(
        root_key=hkdf_sha256(ikm, salt=None, info=LABEL_X3DH_ROOT, length=KEY_SIZE),
        initiator_header_key=hkdf_sha256(
            ikm, salt=None, info=LABEL_X3DH_HEADER_KEY, length=KEY_SIZE
        ),
        responder_next_header_key=hkdf_sha256(
            ikm, salt=None, info=LABEL_X3DH_NEXT_HEADER_KEY, length=KEY_SIZE
        ),
    )


def _identity_seal_key(dh3: bytes) -> tuple[bytes, bytes]:
    output = hkdf_sha256(
        dh3, salt=None, info=LABEL_SEALED_IDENTITY, length=KEY_SIZE + _XCHACHA_NONCE_SIZE
    )
    return output[:KEY_SIZE], output[KEY_SIZE:]


def _seal_ad(ephemeral_public: bytes, signed_prekey: bytes) -> bytes:
    return bytes([PROTOCOL_VERSION]) + ephemeral_public + signed_prekey


def _seal_identity(
    identity: IdentityPublicKey, dh3: bytes, ephemeral_public: bytes, signed_prekey: bytes
) -> bytes:
    # The key is unique to this ephemeral key, and every initial envelope of the session
    # seals the same identity, so a fixed derived nonce never encrypts two plaintexts.
    key, nonce = _identity_seal_key(dh3)
    sealed: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        identity.ed25519, _seal_ad(ephemeral_public, signed_prekey), nonce, key
    )
    return sealed


def _open_identity(
    sealed_identity: bytes, dh3: bytes, ephemeral_public: bytes, signed_prekey: bytes
) -> IdentityPublicKey:
    key, nonce = _identity_seal_key(dh3)
    try:
        identity_bytes: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed_identity, _seal_ad(ephemeral_public, signed_prekey), nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise AuthenticationError() from None
    try:
        return IdentityPublicKey(identity_bytes)
    except ValueError:
        raise HandshakeError("sealed initiator identity is not a valid Ed25519 key") from None
