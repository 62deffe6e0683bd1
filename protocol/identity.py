"""Long-term identity keys: an Ed25519 signing key and its X25519 form for X3DH.

Signal's X3DH signs with XEdDSA on an X25519 identity key. konsel instead keeps an
Ed25519 identity key and converts it to X25519 with libsodium's
``crypto_sign_ed25519_pk_to_curve25519`` and ``crypto_sign_ed25519_sk_to_curve25519``
(the birational map from Edwards to Montgomery form). Both give one key pair that can
sign and take part in Diffie-Hellman, and PyNaCl has no XEdDSA.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from .codec import Fields, Limits, pack, unpack
from .errors import DecodeError, StateError
from .kdf import PERSON_FINGERPRINT, blake2b_labelled

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64
FINGERPRINT_SIZE = 32

IDENTITY_VERSION = 1
_TYPE_PRIVATE = "identity"
_TYPE_PUBLIC = "identity-public"
_LIMITS = Limits(max_input=256, max_str=32, max_bin=64, max_array=0, max_map=8, max_depth=1)

Rng = Callable[[int], bytes]


class IdentityPublicKey:
    """The public half of an identity: an Ed25519 verification key (32 bytes).

    Raises:
        ValueError: ``ed25519`` is not 32 bytes or not a valid Ed25519 point.
    """

    __slots__ = ("_ed25519", "_x25519")

    def __init__(self, ed25519: bytes) -> None:
        if len(ed25519) != PUBLIC_KEY_SIZE:
            raise ValueError(f"identity public key must be 32 bytes, got {len(ed25519)}")
        try:
            x25519 = sodium.crypto_sign_ed25519_pk_to_curve25519(ed25519)
        except nacl.exceptions.RuntimeError:
            raise ValueError("identity public key is not a valid Ed25519 point") from None
        self._ed25519 = bytes(ed25519)
        self._x25519 = x25519

    @property
    def ed25519(self) -> bytes:
        """Raw Ed25519 public key, 32 bytes."""
        return self._ed25519

    @property
    def x25519(self) -> bytes:
        """The same key in X25519 form, for Diffie-Hellman."""
        return self._x25519

    def fingerprint(self) -> bytes:
        """Hash the public key into a 32-byte fingerprint (BLAKE2b, person "konsel/v1 fprint")."""
        return blake2b_labelled(self._ed25519, person=PERSON_FINGERPRINT, size=FINGERPRINT_SIZE)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check an Ed25519 signature over ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            sodium.crypto_sign_open(signature + message, self._ed25519)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def to_bytes(self) -> bytes:
        """Serialize as a msgpack map with a type tag and version."""
        return pack({"t": _TYPE_PUBLIC, "v": IDENTITY_VERSION, "ed25519": self._ed25519})

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentityPublicKey:
        """Load a key written by :meth:`to_bytes`.

        Raises:
            StateError: the bytes are not a valid serialized identity public key.
        """
        try:
            fields = Fields(unpack(data, _LIMITS, where="identity"), "identity")
            fields.type_tag("t", frozenset({_TYPE_PUBLIC}))
            fields.version("v", (IDENTITY_VERSION,))
            return cls(fields.binary("ed25519", size=PUBLIC_KEY_SIZE))
        except (DecodeError, ValueError) as error:
            raise StateError(f"invalid identity public key: {error}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityPublicKey):
            return NotImplemented
        return self._ed25519 == other._ed25519

    def __hash__(self) -> int:
        return hash(self._ed25519)

    def __repr__(self) -> str:
        return f"IdentityPublicKey(fingerprint={self.fingerprint()[:4].hex()}...)"


class IdentityKeyPair:
    """A private identity: the 32-byte Ed25519 seed and the keys derived from it.

    Warning:
        :meth:`to_bytes` returns the private seed. Store it only in an encrypted file.
    """

    __slots__ = ("_public", "_seed", "_signing_key", "_x25519_private")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError(f"identity seed must be 32 bytes, got {len(seed)}")
        ed25519_public, signing_key = sodium.crypto_sign_seed_keypair(seed)
        self._seed = bytes(seed)
        self._signing_key = signing_key
        self._x25519_private = sodium.crypto_sign_ed25519_sk_to_curve25519(signing_key)
        self._public = IdentityPublicKey(ed25519_public)

    @classmethod
    def generate(cls, rng: Rng = nacl.utils.random) -> IdentityKeyPair:
        """Create a new identity from 32 bytes of ``rng``."""
        return cls(rng(SEED_SIZE))

    @property
    def public(self) -> IdentityPublicKey:
        """The public identity key to publish and to show as a fingerprint."""
        return self._public

    @property
    def x25519_private(self) -> bytes:
        """The private key in X25519 form, for Diffie-Hellman in X3DH."""
        return self._x25519_private

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        signed: bytes = sodium.crypto_sign(message, self._signing_key)
        return signed[:SIGNATURE_SIZE]

    def to_bytes(self) -> bytes:
        """Serialize the private seed as a msgpack map with a type tag and version."""
        return pack({"t": _TYPE_PRIVATE, "v": IDENTITY_VERSION, "seed": self._seed})

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentityKeyPair:
        """Load an identity written by :meth:`to_bytes`.

        Raises:
            StateError: the bytes are not a valid serialized identity.
        """
        try:
            fields = Fields(unpack(data, _LIMITS, where="identity"), "identity")
            fields.type_tag("t", frozenset({_TYPE_PRIVATE}))
            fields.version("v", (IDENTITY_VERSION,))
            return cls(fields.binary("seed", size=SEED_SIZE))
        except DecodeError as error:
            raise StateError(f"invalid identity: {error}") from None

    def __repr__(self) -> str:
        return f"IdentityKeyPair(public={self._public!r})"
