"""Double Ratchet with header encryption, after Signal's specification.

Reference: https://signal.org/docs/specifications/doubleratchet/, section "Double Ratchet
with header encryption". The primitives are X25519, HKDF-SHA-256 for the root chain,
HMAC-SHA-256 for the sending and receiving chains, and XChaCha20-Poly1305 for both the
header and the body. Two changes to the message layout:

* the body AEAD key and nonce come from HKDF(message key, salt = the header's 8 random
  bytes), and the body's associated data is ``AD || header plaintext``;
* the header AEAD nonce is BLAKE2b-192 of the body ciphertext, so no nonce travels on the
  wire and the header is bound to its body.

One change to the algorithm: a receiver takes the receiving half of a DH ratchet step when
a message arrives, and the sending half (new key pair, new sending chain) only when it
next encrypts. The root chain receives the same inputs in the same order as in the
specification, and decryption needs no randomness.

Every public function that takes a :class:`RatchetState` leaves it unchanged and returns a
new state, so a failed decryption never changes what the caller stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from .aead import AEAD_TAG_SIZE, _aead_open, aead_decrypt, aead_encrypt
from .errors import AuthenticationError, DuplicateMessageError, SessionError, TooManySkippedError
from .kdf import PERSON_HEADER_NONCE, body_key_and_nonce, chain_step, root_step
from .padding import pad, unpad
from .prekeys import x25519_keypair
from .ratchet_state import (
    HEADER_SALT_SIZE,
    MAX_COUNTER,
    MAX_PREVIOUS_HEADER_KEYS,
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
    SKIPPED_KEY_MAX_AGE,
    SKIPPED_KEY_MAX_STEPS,
    Header,
    RatchetState,
    SkippedKey,
    encode_header,
)
from .x3dh import SharedKeys

HEADER_CIPHERTEXT_SIZE = 48 + AEAD_TAG_SIZE
"""Encrypted header: 48 bytes of header plaintext and a 16-byte Poly1305 tag."""

_HEADER_NONCE_SIZE = 24

# Copying a keyed BLAKE2b state skips parsing the parameters again for every message.
_HEADER_NONCE_HASH = hashlib.blake2b(digest_size=_HEADER_NONCE_SIZE, person=PERSON_HEADER_NONCE)

Rng = Callable[[int], bytes]


def initialize_initiator(
    shared: SharedKeys, remote_ratchet_key: bytes, rng: Rng = nacl.utils.random
) -> RatchetState:
    """Create the initiator's state (RatchetInitAliceHE) from the X3DH result."""
    dh_private, dh_public = x25519_keypair(rng)
    root_key, sending_chain_key, next_sending_header_key = root_step(
        shared.root_key, _dh(dh_private, remote_ratchet_key)
    )
    return RatchetState(
        dh_private=dh_private,
        dh_public=dh_public,
        remote_dh_public=remote_ratchet_key,
        root_key=root_key,
        sending_chain_key=sending_chain_key,
        receiving_chain_key=None,
        sending_header_key=shared.initiator_header_key,
        receiving_header_key=None,
        next_sending_header_key=next_sending_header_key,
        next_receiving_header_key=shared.responder_next_header_key,
    )


def initialize_responder(shared: SharedKeys, ratchet_private_key: bytes) -> RatchetState:
    """Create the responder's state (RatchetInitBobHE); it can send after its first receipt."""
    return RatchetState(
        dh_private=ratchet_private_key,
        dh_public=sodium.crypto_scalarmult_base(ratchet_private_key),
        remote_dh_public=None,
        root_key=shared.root_key,
        sending_chain_key=None,
        receiving_chain_key=None,
        sending_header_key=None,
        receiving_header_key=None,
        next_sending_header_key=shared.responder_next_header_key,
        next_receiving_header_key=shared.initiator_header_key,
    )


def encrypt(
    state: RatchetState,
    plaintext: bytes,
    associated_data: bytes,
    rng: Rng = nacl.utils.random,
) -> tuple[bytes, bytes, RatchetState]:
    """Encrypt one message.

    Returns:
        The encrypted header (64 bytes), the body ciphertext and the new state.

    Raises:
        SessionError: the responder has not received a message yet, or the sending
            counter is exhausted.
    """
    work = state.copy()
    if work.sending_chain_key is None:
        start_sending_chain(work, rng)

    salt = rng(HEADER_SALT_SIZE)
    message_number, message_key = _advance_sending_chain(work)
    header = encode_header(work.dh_public, work.previous_sending_length, message_number, salt)
    body_key, body_nonce = body_key_and_nonce(message_key, salt)
    body = aead_encrypt(pad(plaintext), associated_data + header, body_nonce, body_key)

    assert work.sending_header_key is not None  # set together with the sending chain
    encrypted_header = aead_encrypt(
        header, associated_data, header_nonce(body), work.sending_header_key
    )
    return encrypted_header, body, work


def decrypt(
    state: RatchetState,
    encrypted_header: bytes,
    body: bytes,
    associated_data: bytes,
    now: int,
) -> tuple[bytes, RatchetState]:
    """Decrypt one message and return its plaintext and the new state.

    Raises:
        AuthenticationError: the header opens under no known header key, or the body
            fails authentication.
        DuplicateMessageError: the header opens under a known header key but no message
            key exists for its number any more. That happens for a message that was
            already decrypted, and also for one whose skipped key was dropped by the cap
            or by expiry.
        TooManySkippedError: the message would need more than :data:`MAX_SKIP` keys.
        DecodeError: the authenticated plaintext has malformed padding.
    """
    work = state.copy()
    if work.skipped:
        _drop_expired_keys(work, now)

    # The nonce depends only on the body, so one hash serves every header key tried.
    nonce_hash = _HEADER_NONCE_HASH.copy()
    nonce_hash.update(body)
    nonce = nonce_hash.digest()

    # Nearly every message belongs to the current receiving chain, so its header key is
    # tried first, inline. The header keys of older chains come after it.
    header_key = b""
    header_plaintext: bytes | None = None
    if work.receiving_header_key is not None:
        header_key = work.receiving_header_key
        header_plaintext = _aead_open(encrypted_header, associated_data, nonce, header_key)
    if header_plaintext is None:
        header_key, header_plaintext = _open_header_with_older_keys(
            work, encrypted_header, nonce, associated_data
        )

    if header_plaintext is not None:
        header = Header.decode(header_plaintext)
        message_key = _known_chain_key(work, header_key, header, now)
    else:
        header_plaintext = _aead_open(
            encrypted_header, associated_data, nonce, work.next_receiving_header_key
        )
        if header_plaintext is None:
            raise AuthenticationError()
        header = Header.decode(header_plaintext)
        message_key = receive_key(work, header, ratchet_step=True, now=now)

    body_key, body_nonce = body_key_and_nonce(message_key, header.salt)
    padded = _aead_open(body, associated_data + header_plaintext, body_nonce, body_key)
    if padded is None:
        raise AuthenticationError()
    plaintext = unpad(padded)
    if len(work.skipped) > MAX_SKIPPED_KEYS:
        _drop_oldest_skipped_keys(work)
    return plaintext, work


def start_sending_chain(work: RatchetState, rng: Rng) -> None:
    """Take the sending half of a DH ratchet step: new key pair, new sending chain.

    Warning:
        Changes ``work`` in place; pass a copy.
    """
    if work.remote_dh_public is None:
        raise SessionError("cannot send before the first message from the peer arrived")

    work.previous_sending_length = work.sending_number
    work.sending_number = 0
    work.sending_header_key = work.next_sending_header_key
    work.dh_private, work.dh_public = x25519_keypair(rng)
    work.root_key, work.sending_chain_key, work.next_sending_header_key = root_step(
        work.root_key, _dh(work.dh_private, work.remote_dh_public)
    )


def next_sending_key(work: RatchetState, salt: bytes) -> tuple[Header, bytes]:
    """Advance the sending chain; return the header plaintext and the message key.

    Warning:
        Changes ``work`` in place; pass a copy.
    """
    message_number, message_key = _advance_sending_chain(work)
    header = Header(work.dh_public, work.previous_sending_length, message_number, salt)
    return header, message_key


def _advance_sending_chain(work: RatchetState) -> tuple[int, bytes]:
    # Returns the number of the message being sent and its message key.
    if work.sending_chain_key is None:
        raise SessionError("no sending chain; call start_sending_chain first")
    if work.sending_number >= MAX_COUNTER:
        raise SessionError("sending counter exhausted; start a new session")

    message_number = work.sending_number
    work.sending_chain_key, message_key = chain_step(work.sending_chain_key)
    work.sending_number = message_number + 1
    return message_number, message_key


def receive_key(work: RatchetState, header: Header, *, ratchet_step: bool, now: int) -> bytes:
    """Return the message key for an authenticated ``header`` from a new or the current chain.

    With ``ratchet_step``, the keys left in the current receiving chain up to the header's
    PN are stored as skipped keys, and the receiving half of a DH ratchet step runs first.
    Either way the keys before the header's N are stored as skipped keys.

    Raises:
        TooManySkippedError: more than :data:`MAX_SKIP` keys would be derived.

    Warning:
        Changes ``work`` in place; pass a copy.
    """
    needed = header.message_number
    if ratchet_step:
        if work.receiving_chain_key is not None:
            needed += max(0, header.previous_chain_length - work.receiving_number)
    else:
        needed -= work.receiving_number
    if needed > MAX_SKIP:
        raise TooManySkippedError(needed, MAX_SKIP)

    if ratchet_step:
        _skip_message_keys(work, header.previous_chain_length, now)
        _receive_ratchet_step(work, header.dh_public)

    _skip_message_keys(work, header.message_number, now)
    assert work.receiving_chain_key is not None  # set by the ratchet step at the latest
    work.receiving_chain_key, message_key = chain_step(work.receiving_chain_key)
    work.receiving_number += 1
    return message_key


def seal_body(
    message_key: bytes, header: Header, plaintext: bytes, associated_data: bytes
) -> bytes:
    """Pad and encrypt a body under the key and nonce derived from the message key and salt."""
    key, nonce = body_key_and_nonce(message_key, header.salt)
    return aead_encrypt(pad(plaintext), associated_data + header.encode(), nonce, key)


def open_body(message_key: bytes, header: Header, body: bytes, associated_data: bytes) -> bytes:
    """Decrypt and unpad a body.

    Raises:
        AuthenticationError: the body fails authentication.
        DecodeError: the authenticated plaintext has malformed padding.
    """
    key, nonce = body_key_and_nonce(message_key, header.salt)
    return unpad(aead_decrypt(body, associated_data + header.encode(), nonce, key))


def header_nonce(body: bytes) -> bytes:
    """Derive the header nonce: BLAKE2b-192 of the body ciphertext, person "konsel/v1 hnonce"."""
    state = _HEADER_NONCE_HASH.copy()
    state.update(body)
    return state.digest()


def seal_header(header_key: bytes, header: Header, body: bytes, associated_data: bytes) -> bytes:
    """Encrypt a header plaintext under ``header_key`` with the nonce taken from ``body``."""
    return aead_encrypt(header.encode(), associated_data, header_nonce(body), header_key)


def open_header(
    header_key: bytes, encrypted_header: bytes, body: bytes, associated_data: bytes
) -> Header | None:
    """Decrypt a header under ``header_key``; return None when it fails authentication."""
    plaintext = _aead_open(encrypted_header, associated_data, header_nonce(body), header_key)
    return None if plaintext is None else Header.decode(plaintext)


def _open_header_with_older_keys(
    work: RatchetState, encrypted_header: bytes, nonce: bytes, associated_data: bytes
) -> tuple[bytes, bytes | None]:
    # Returns the header key that opened the header and the header plaintext. The keys
    # are those of older chains, newest first: remembered header keys, then the header
    # keys of skipped message keys. The caller has tried the current chain's key.
    tried: set[bytes | None] = {work.receiving_header_key}
    older_keys = [*reversed(work.previous_receiving_header_keys)]
    older_keys.extend(header_key for header_key, _ in work.skipped)
    for header_key in older_keys:
        if header_key in tried:
            continue
        tried.add(header_key)
        plaintext = _aead_open(encrypted_header, associated_data, nonce, header_key)
        if plaintext is not None:
            return header_key, plaintext
    return b"", None


def _known_chain_key(work: RatchetState, header_key: bytes, header: Header, now: int) -> bytes:
    if work.skipped:
        skipped = work.skipped.pop((header_key, header.message_number), None)
        if skipped is not None:
            return skipped.message_key

    is_current_chain = header_key == work.receiving_header_key
    if is_current_chain and header.message_number >= work.receiving_number:
        chain_key = work.receiving_chain_key
        if header.message_number == work.receiving_number and chain_key is not None:
            # The next message of the current chain is the common case. It has no keys
            # to skip, so it needs only the chain step that receive_key would take.
            work.receiving_chain_key, message_key = chain_step(chain_key)
            work.receiving_number += 1
            return message_key
        return receive_key(work, header, ratchet_step=False, now=now)
    raise DuplicateMessageError()


def _skip_message_keys(work: RatchetState, until: int, now: int) -> None:
    if work.receiving_chain_key is None:
        return
    assert work.receiving_header_key is not None  # both belong to the same chain
    while work.receiving_number < until:
        work.receiving_chain_key, message_key = chain_step(work.receiving_chain_key)
        entry = SkippedKey(message_key, work.receive_steps, now)
        work.skipped[(work.receiving_header_key, work.receiving_number)] = entry
        work.receiving_number += 1


def _receive_ratchet_step(work: RatchetState, remote_dh_public: bytes) -> None:
    if work.receiving_header_key is not None:
        work.previous_receiving_header_keys.append(work.receiving_header_key)
        del work.previous_receiving_header_keys[:-MAX_PREVIOUS_HEADER_KEYS]

    work.receiving_header_key = work.next_receiving_header_key
    work.remote_dh_public = remote_dh_public
    work.receiving_number = 0
    work.root_key, work.receiving_chain_key, work.next_receiving_header_key = root_step(
        work.root_key, _dh(work.dh_private, remote_dh_public)
    )
    # The sending half of the step waits for the next encryption.
    work.sending_chain_key = None
    work.receive_steps += 1
    _drop_keys_of_old_chains(work)


def _drop_keys_of_old_chains(work: RatchetState) -> None:
    for entry_id, skipped in list(work.skipped.items()):
        if work.receive_steps - skipped.chain_index >= SKIPPED_KEY_MAX_STEPS:
            del work.skipped[entry_id]


def _drop_expired_keys(work: RatchetState, now: int) -> None:
    for entry_id, skipped in list(work.skipped.items()):
        if now - skipped.stored_at > SKIPPED_KEY_MAX_AGE:
            del work.skipped[entry_id]


def _drop_oldest_skipped_keys(work: RatchetState) -> None:
    excess = len(work.skipped) - MAX_SKIPPED_KEYS
    for entry_id in list(work.skipped)[:excess]:
        del work.skipped[entry_id]


def _dh(private_key: bytes, public_key: bytes) -> bytes:
    try:
        shared: bytes = sodium.crypto_scalarmult(private_key, public_key)
    except nacl.exceptions.RuntimeError:
        # Only a low-order point gives the all-zero output that libsodium rejects.
        raise AuthenticationError() from None
    return shared
