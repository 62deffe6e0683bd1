"""Signed and one-time prekeys, the published prekey bundle and the responder's prekey store.

A responder publishes bundles (identity key, signed prekey with its signature, and at
most one one-time prekey each) so that initiators can start X3DH while the responder is
offline. The :class:`PrekeyStore` keeps the private halves and drops a one-time prekey
when it is consumed, so a caller that saves the returned store never accepts it twice. Stores are immutable: every change returns a new store, so a caller
saves the new store only after the message that consumed a prekey decrypted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import nacl.bindings as sodium
import nacl.utils

from .codec import Fields, Limits, pack, unpack
from .errors import DecodeError, HandshakeError, PrekeyNotFoundError, StateError
from .identity import SIGNATURE_SIZE, IdentityKeyPair, IdentityPublicKey
from .kdf import LABEL_SIGNED_PREKEY

KEY_SIZE = 32
MAX_PREKEY_ID = 2**32 - 1
MAX_ONE_TIME_PREKEYS = 1000
"""Cap on one-time prekeys kept by one store; a client publishes a batch far below it."""

MAX_SIGNED_PREKEYS = 2
"""Signed prekeys kept after rotation: the current one and its predecessor, so initial
messages built from a bundle fetched just before the rotation still decrypt."""

BUNDLE_VERSION = 1
STORE_VERSION = 1
MAX_BUNDLE_SIZE = 512
_BUNDLE_TYPE = "bundle"
_ONE_TIME_TYPE = "opk"
_ONE_TIME_LIMITS = Limits(max_input=128, max_str=8, max_bin=32, max_map=8, max_depth=1)
_STORE_TYPE = "prekey-store"
_BUNDLE_LIMITS = Limits(max_input=MAX_BUNDLE_SIZE, max_str=32, max_bin=64, max_map=16, max_depth=1)
_STORE_LIMITS = Limits(
    max_input=128 * 1024,
    max_str=32,
    max_bin=64,
    max_array=MAX_ONE_TIME_PREKEYS,
    max_map=16,
    max_depth=3,
)

Rng = Callable[[int], bytes]


def signed_prekey_message(prekey_id: int, public_key: bytes) -> bytes:
    """Return the bytes an identity signs for a signed prekey.

    The layout is ``"konsel/v1 signed prekey" || id (u32 big-endian) || public key (32)``.
    """
    return LABEL_SIGNED_PREKEY + struct.pack(">I", prekey_id) + public_key


def x25519_keypair(rng: Rng) -> tuple[bytes, bytes]:
    """Create an X25519 key pair from 32 bytes of ``rng``; return (private, public)."""
    private_key = rng(KEY_SIZE)
    return private_key, sodium.crypto_scalarmult_base(private_key)


def encode_one_time_prekey(prekey_id: int, public_key: bytes) -> bytes:
    """Encode one one-time prekey for upload: a map with its id (u32) and public key (32)."""
    return pack({"t": _ONE_TIME_TYPE, "v": BUNDLE_VERSION, "id": prekey_id, "key": public_key})


def decode_one_time_prekey(data: bytes) -> tuple[int, bytes]:
    """Parse a record made by :func:`encode_one_time_prekey`; return (id, public key).

    Raises:
        DecodeError: the record is malformed.
    """
    fields = Fields(unpack(data, _ONE_TIME_LIMITS, where="opk"), "opk")
    fields.type_tag("t", frozenset({_ONE_TIME_TYPE}))
    fields.version("v", (BUNDLE_VERSION,))
    return fields.integer("id"), fields.binary("key", size=KEY_SIZE)


@dataclass(frozen=True)
class SignedPrekey:
    """A medium-term X25519 prekey, signed by the identity key."""

    prekey_id: int
    private_key: bytes = field(repr=False)
    public_key: bytes
    signature: bytes
    created_at: int
    """Unix seconds when the key was made; the client rotates keys by this time."""


@dataclass(frozen=True)
class PrekeyBundle:
    """Public keys that let an initiator start X3DH with one responder."""

    identity: IdentityPublicKey
    signed_prekey_id: int
    signed_prekey: bytes
    signed_prekey_signature: bytes
    one_time_prekey_id: int | None = None
    one_time_prekey: bytes | None = None

    def encode(self) -> bytes:
        """Serialize as a msgpack map; the optional one-time prekey fields are nil when absent."""
        return pack(
            {
                "t": _BUNDLE_TYPE,
                "v": BUNDLE_VERSION,
                "identity": self.identity.ed25519,
                "spk_id": self.signed_prekey_id,
                "spk": self.signed_prekey,
                "spk_signature": self.signed_prekey_signature,
                "opk_id": self.one_time_prekey_id,
                "opk": self.one_time_prekey,
            }
        )

    @classmethod
    def decode(cls, data: bytes, one_time_prekey: bytes | None = None) -> PrekeyBundle:
        """Parse and verify a bundle received from the relay.

        Args:
            data: an encoded bundle.
            one_time_prekey: a record from :func:`encode_one_time_prekey` that the relay
                handed out with a bundle that carries none itself.

        Raises:
            DecodeError: a field is missing, has the wrong type or size, or the identity
                key is not a valid Ed25519 point.
            HandshakeError: the signature over the signed prekey does not verify.
        """
        fields = Fields(unpack(data, _BUNDLE_LIMITS, where="bundle"), "bundle")
        fields.type_tag("t", frozenset({_BUNDLE_TYPE}))
        fields.version("v", (BUNDLE_VERSION,))
        try:
            identity = IdentityPublicKey(fields.binary("identity", size=KEY_SIZE))
        except ValueError as error:
            raise DecodeError("bundle.identity", str(error)) from None

        one_time_id: int | None = None
        one_time_key: bytes | None = None
        if fields.has("opk_id") or fields.has("opk"):
            one_time_id = fields.integer("opk_id")
            one_time_key = fields.binary("opk", size=KEY_SIZE)
        if one_time_prekey is not None:
            if one_time_id is not None:
                raise DecodeError("bundle.opk", "bundle already carries a one-time prekey")
            one_time_id, one_time_key = decode_one_time_prekey(one_time_prekey)

        bundle = cls(
            identity=identity,
            signed_prekey_id=fields.integer("spk_id"),
            signed_prekey=fields.binary("spk", size=KEY_SIZE),
            signed_prekey_signature=fields.binary("spk_signature", size=SIGNATURE_SIZE),
            one_time_prekey_id=one_time_id,
            one_time_prekey=one_time_key,
        )
        bundle.verify()
        return bundle

    def verify(self) -> None:
        """Check the identity's signature over the signed prekey.

        Raises:
            HandshakeError: the signature is invalid.
        """
        message = signed_prekey_message(self.signed_prekey_id, self.signed_prekey)
        if not self.identity.verify(message, self.signed_prekey_signature):
            raise HandshakeError("signed prekey signature is invalid")


@dataclass(frozen=True)
class PrekeyStore:
    """The responder's private prekeys. Immutable: every change returns a new store."""

    signed_prekeys: tuple[SignedPrekey, ...]
    """Newest last; the last one is the current signed prekey."""
    one_time_prekeys: dict[int, bytes] = field(repr=False)
    """Unused one-time prekeys, id to private key. Never mutated in place."""
    next_one_time_id: int
    next_signed_id: int

    @classmethod
    def create(
        cls,
        identity: IdentityKeyPair,
        now: int,
        one_time_count: int,
        rng: Rng = nacl.utils.random,
    ) -> PrekeyStore:
        """Create a store with one signed prekey and ``one_time_count`` one-time prekeys."""
        empty = cls(signed_prekeys=(), one_time_prekeys={}, next_one_time_id=1, next_signed_id=1)
        return empty.rotate_signed_prekey(identity, now, rng).add_one_time_prekeys(
            one_time_count, rng
        )

    @property
    def current_signed_prekey(self) -> SignedPrekey:
        """The signed prekey that new bundles carry."""
        return self.signed_prekeys[-1]

    def rotate_signed_prekey(
        self, identity: IdentityKeyPair, now: int, rng: Rng = nacl.utils.random
    ) -> PrekeyStore:
        """Return a store with a new current signed prekey, keeping its predecessor."""
        prekey_id = _check_next_id(self.next_signed_id)
        private_key, public_key = x25519_keypair(rng)
        signature = identity.sign(signed_prekey_message(prekey_id, public_key))
        prekey = SignedPrekey(prekey_id, private_key, public_key, signature, now)
        kept = (*self.signed_prekeys, prekey)[-MAX_SIGNED_PREKEYS:]
        return PrekeyStore(kept, self.one_time_prekeys, self.next_one_time_id, prekey_id + 1)

    def add_one_time_prekeys(self, count: int, rng: Rng = nacl.utils.random) -> PrekeyStore:
        """Return a store with ``count`` new one-time prekeys under fresh, never reused ids."""
        if len(self.one_time_prekeys) + count > MAX_ONE_TIME_PREKEYS:
            raise ValueError(
                f"store would hold {len(self.one_time_prekeys) + count} one-time prekeys,"
                f" above the cap of {MAX_ONE_TIME_PREKEYS}"
            )
        prekeys = dict(self.one_time_prekeys)
        next_id = self.next_one_time_id
        for _ in range(count):
            prekeys[_check_next_id(next_id)] = rng(KEY_SIZE)
            next_id += 1
        return PrekeyStore(self.signed_prekeys, prekeys, next_id, self.next_signed_id)

    def bundle(self, identity: IdentityKeyPair, one_time_prekey_id: int | None) -> PrekeyBundle:
        """Build the public bundle with the current signed prekey and one one-time prekey.

        Raises:
            PrekeyNotFoundError: ``one_time_prekey_id`` is not an unused one-time prekey.
        """
        signed = self.current_signed_prekey
        one_time_public: bytes | None = None
        if one_time_prekey_id is not None:
            private_key = self._one_time_private(one_time_prekey_id)
            one_time_public = sodium.crypto_scalarmult_base(private_key)
        return PrekeyBundle(
            identity=identity.public,
            signed_prekey_id=signed.prekey_id,
            signed_prekey=signed.public_key,
            signed_prekey_signature=signed.signature,
            one_time_prekey_id=one_time_prekey_id,
            one_time_prekey=one_time_public,
        )

    def one_time_prekey_records(self) -> list[bytes]:
        """Encode every unused one-time prekey, in id order, for upload next to a bundle."""
        return [
            encode_one_time_prekey(prekey_id, sodium.crypto_scalarmult_base(private_key))
            for prekey_id, private_key in sorted(self.one_time_prekeys.items())
        ]

    def bundles(self, identity: IdentityKeyPair) -> list[PrekeyBundle]:
        """Build one bundle per unused one-time prekey, in id order, for upload to the relay."""
        return [self.bundle(identity, prekey_id) for prekey_id in sorted(self.one_time_prekeys)]

    def signed_prekey(self, prekey_id: int) -> SignedPrekey:
        """Return the signed prekey with ``prekey_id``.

        Raises:
            PrekeyNotFoundError: the id is unknown or the key was rotated out.
        """
        for prekey in self.signed_prekeys:
            if prekey.prekey_id == prekey_id:
                return prekey
        raise PrekeyNotFoundError("signed", prekey_id)

    def consume_one_time_prekey(self, prekey_id: int) -> tuple[bytes, PrekeyStore]:
        """Return the private key of a one-time prekey and a store without it.

        Raises:
            PrekeyNotFoundError: the id is unknown or was already consumed.
        """
        private_key = self._one_time_private(prekey_id)
        remaining = {
            key_id: key for key_id, key in self.one_time_prekeys.items() if key_id != prekey_id
        }
        store = PrekeyStore(
            self.signed_prekeys, remaining, self.next_one_time_id, self.next_signed_id
        )
        return private_key, store

    def _one_time_private(self, prekey_id: int) -> bytes:
        private_key = self.one_time_prekeys.get(prekey_id)
        if private_key is None:
            raise PrekeyNotFoundError("one-time", prekey_id)
        return private_key

    def to_bytes(self) -> bytes:
        """Serialize the store, private keys included, as a msgpack map.

        Warning:
            The output contains private keys. Store it only in an encrypted file.
        """
        return pack(
            {
                "t": _STORE_TYPE,
                "v": STORE_VERSION,
                "signed": [
                    [p.prekey_id, p.private_key, p.signature, p.created_at]
                    for p in self.signed_prekeys
                ],
                "one_time": [
                    [key_id, key] for key_id, key in sorted(self.one_time_prekeys.items())
                ],
                "next_one_time_id": self.next_one_time_id,
                "next_signed_id": self.next_signed_id,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PrekeyStore:
        """Load a store written by :meth:`to_bytes`.

        Raises:
            StateError: the bytes are not a valid serialized store.
        """
        try:
            return cls._decode(data)
        except DecodeError as error:
            raise StateError(f"invalid prekey store: {error}") from None

    @classmethod
    def _decode(cls, data: bytes) -> PrekeyStore:
        fields = Fields(unpack(data, _STORE_LIMITS, where="store"), "store")
        fields.type_tag("t", frozenset({_STORE_TYPE}))
        fields.version("v", (STORE_VERSION,))

        signed = []
        for index, item in enumerate(fields.array("signed", max_len=MAX_SIGNED_PREKEYS)):
            where = f"store.signed[{index}]"
            prekey_id, private_key, signature, created_at = _tuple(item, 4, where)
            private_key = _bytes(private_key, KEY_SIZE, f"{where}.private_key")
            signed.append(
                SignedPrekey(
                    prekey_id=_u32(prekey_id, f"{where}.id"),
                    private_key=private_key,
                    public_key=sodium.crypto_scalarmult_base(private_key),
                    signature=_bytes(signature, SIGNATURE_SIZE, f"{where}.signature"),
                    created_at=_integer(created_at, 0, 2**63 - 1, f"{where}.created_at"),
                )
            )
        if not signed:
            raise DecodeError("store.signed", "at least one signed prekey is required")

        one_time: dict[int, bytes] = {}
        for index, item in enumerate(fields.array("one_time", max_len=MAX_ONE_TIME_PREKEYS)):
            where = f"store.one_time[{index}]"
            prekey_id, private_key = _tuple(item, 2, where)
            one_time[_u32(prekey_id, f"{where}.id")] = _bytes(private_key, KEY_SIZE, where)

        next_one_time_id = fields.integer("next_one_time_id", max_value=2**32)
        next_signed_id = fields.integer("next_signed_id", max_value=2**32)
        # A counter at or below a stored id would hand out that id again.
        if one_time and next_one_time_id <= max(one_time):
            raise DecodeError("store.next_one_time_id", "not above the stored one-time prekey ids")
        if next_signed_id <= max(prekey.prekey_id for prekey in signed):
            raise DecodeError("store.next_signed_id", "not above the stored signed prekey ids")

        return cls(
            signed_prekeys=tuple(signed),
            one_time_prekeys=one_time,
            next_one_time_id=next_one_time_id,
            next_signed_id=next_signed_id,
        )


def _check_next_id(prekey_id: int) -> int:
    if prekey_id > MAX_PREKEY_ID:
        raise ValueError("prekey ids are exhausted; create a new prekey store")
    return prekey_id


def _tuple(item: object, size: int, where: str) -> list[object]:
    if not isinstance(item, list) or len(item) != size:
        raise DecodeError(where, f"expected an array of {size} items")
    return item


def _bytes(value: object, size: int, where: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise DecodeError(where, f"expected bin of {size} bytes")
    return value


def _integer(value: object, low: int, high: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DecodeError(where, f"expected an integer in {low}..{high}")
    return value


def _u32(value: object, where: str) -> int:
    return _integer(value, 0, MAX_PREKEY_ID, where)
