"""Interoperability with the independent ``doubleratchet`` package (python-doubleratchet 1.3).

That package has no header encryption, so the konsel side here runs its ratchet without
it: the test sends the header fields in the clear and calls the ratchet's building blocks
(start_sending_chain, next_sending_key, receive_key, seal_body, open_body) directly. The
root KDF, chain KDF, X25519 steps and body encryption are the production code paths. The
package is configured with the same primitives: HKDF-SHA-256 with konsel's root label,
HMAC-SHA-256 chain steps with the constants 0x02 (next chain key) and 0x01 (message key),
and an AEAD class that performs konsel's body encryption. The 8-byte header salt, which
the package's header does not carry, travels in front of the body ciphertext.
"""

import struct

import nacl.utils
import pytest
from doubleratchet import AEAD, AuthenticationFailedException, DoubleRatchet, EncryptedMessage
from doubleratchet import Header as LibraryHeader
from doubleratchet.recommended import HashFunction, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.recommended.diffie_hellman_ratchet_curve25519 import DiffieHellmanRatchet

from konsel.protocol import kdf, ratchet
from konsel.protocol.errors import AuthenticationError
from konsel.protocol.prekeys import x25519_keypair
from konsel.protocol.ratchet_state import (
    HEADER_SALT_SIZE,
    MAX_SKIP,
    MAX_SKIPPED_KEYS,
    Header,
    RatchetState,
)
from konsel.protocol.x3dh import SharedKeys

AD = b"\x01" + b"A" * 32 + b"B" * 32
NOW = 1_780_000_000
CHAIN_CONSTANT = kdf.CHAIN_NEXT_KEY_INPUT + kdf.CHAIN_MESSAGE_KEY_INPUT
_HEADER_FIELDS_SIZE = 32 + 8


class RootKdf(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return kdf.LABEL_ROOT


class ChainKdf(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


def split_associated_data(associated_data: bytes, salt: bytes) -> tuple[bytes, Header]:
    """Rebuild konsel's header from the package's ``AD || DH key || PN || N`` and a salt."""
    fields = associated_data[-_HEADER_FIELDS_SIZE:]
    previous_chain_length, message_number = struct.unpack(">II", fields[32:])
    header = Header(fields[:32], previous_chain_length, message_number, salt)
    return associated_data[:-_HEADER_FIELDS_SIZE], header


class KonselBodyAead(AEAD):
    """konsel's body encryption behind the package's AEAD interface."""

    @staticmethod
    async def encrypt(plaintext: bytes, key: bytes, associated_data: bytes) -> bytes:
        salt = nacl.utils.random(HEADER_SALT_SIZE)
        session_ad, header = split_associated_data(associated_data, salt)
        return salt + ratchet.seal_body(key, header, plaintext, session_ad)

    @staticmethod
    async def decrypt(ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        salt, body = ciphertext[:HEADER_SALT_SIZE], ciphertext[HEADER_SALT_SIZE:]
        session_ad, header = split_associated_data(associated_data, salt)
        try:
            return ratchet.open_body(key, header, body, session_ad)
        except AuthenticationError:
            raise AuthenticationFailedException("body failed authentication") from None


class LibraryRatchet(DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: LibraryHeader) -> bytes:
        counters = struct.pack(
            ">II", header.previous_sending_chain_length, header.sending_chain_length
        )
        return associated_data + header.ratchet_pub + counters


LIBRARY_CONFIG = {
    "diffie_hellman_ratchet_class": DiffieHellmanRatchet,
    "root_chain_kdf": RootKdf,
    "message_chain_kdf": ChainKdf,
    "message_chain_constant": CHAIN_CONSTANT,
    "dos_protection_threshold": MAX_SKIP,
    "max_num_skipped_message_keys": MAX_SKIPPED_KEYS,
    "aead": KonselBodyAead,
}


def konsel_encrypt(state: RatchetState, plaintext: bytes) -> tuple[EncryptedMessage, RatchetState]:
    """Encrypt with konsel's ratchet, sending the header fields in the clear."""
    work = state.copy()
    if work.sending_chain_key is None:
        ratchet.start_sending_chain(work, nacl.utils.random)
    header, message_key = ratchet.next_sending_key(work, nacl.utils.random(HEADER_SALT_SIZE))
    body = ratchet.seal_body(message_key, header, plaintext, AD)
    library_header = LibraryHeader(
        header.dh_public, header.previous_chain_length, header.message_number
    )
    return EncryptedMessage(library_header, header.salt + body), work


def konsel_decrypt(state: RatchetState, message: EncryptedMessage) -> tuple[bytes, RatchetState]:
    """Decrypt a message from the package with konsel's ratchet (in-order delivery)."""
    work = state.copy()
    salt, body = message.ciphertext[:HEADER_SALT_SIZE], message.ciphertext[HEADER_SALT_SIZE:]
    header = Header(
        message.header.ratchet_pub,
        message.header.previous_sending_chain_length,
        message.header.sending_chain_length,
        salt,
    )
    step = header.dh_public != work.remote_dh_public
    message_key = ratchet.receive_key(work, header, ratchet_step=step, now=NOW)
    return ratchet.open_body(message_key, header, body, AD), work


def shared_keys() -> SharedKeys:
    return SharedKeys(nacl.utils.random(32), nacl.utils.random(32), nacl.utils.random(32))


def assert_same_receiving_chain(ours: RatchetState, theirs: LibraryRatchet) -> None:
    """Check our root key and receiving chain against the package's sending side."""
    model = theirs.model.diffie_hellman_ratchet
    sending_chain = model.symmetric_key_ratchet.sending_chain
    assert sending_chain is not None
    assert ours.root_key == model.root_chain.key
    assert ours.receiving_chain_key == sending_chain.key
    assert ours.receiving_number == sending_chain.length


async def test_konsel_initiates() -> None:
    shared = shared_keys()
    bob_private, bob_public = x25519_keypair(nacl.utils.random)
    alice = ratchet.initialize_initiator(shared, bob_public)

    first, alice = konsel_encrypt(alice, b"halo dari konsel")
    bob, plaintext = await LibraryRatchet.decrypt_initial_message(
        shared_secret=shared.root_key,
        own_ratchet_priv=bob_private,
        message=first,
        associated_data=AD,
        **LIBRARY_CONFIG,
    )
    assert plaintext == b"halo dari konsel"

    for round_number in range(4):
        for index in range(2):
            text = b"library %d.%d" % (round_number, index)
            plaintext, alice = konsel_decrypt(alice, await bob.encrypt_message(text, AD))
            assert plaintext == text
        assert_same_receiving_chain(alice, bob)

        for index in range(2):
            text = b"konsel %d.%d" % (round_number, index)
            message, alice = konsel_encrypt(alice, text)
            assert await bob.decrypt_message(message, AD) == text
    assert alice.receive_steps == 4


async def test_library_initiates() -> None:
    shared = shared_keys()
    bob_private, bob_public = x25519_keypair(nacl.utils.random)
    alice, first = await LibraryRatchet.encrypt_initial_message(
        shared_secret=shared.root_key,
        recipient_ratchet_pub=bob_public,
        message=b"halo dari library",
        associated_data=AD,
        **LIBRARY_CONFIG,
    )
    bob = ratchet.initialize_responder(shared, bob_private)
    plaintext, bob = konsel_decrypt(bob, first)
    assert plaintext == b"halo dari library"
    assert_same_receiving_chain(bob, alice)

    for round_number in range(4):
        for index in range(3):
            text = b"konsel %d.%d" % (round_number, index)
            message, bob = konsel_encrypt(bob, text)
            assert await alice.decrypt_message(message, AD) == text

        for index in range(2):
            text = b"library %d.%d" % (round_number, index)
            plaintext, bob = konsel_decrypt(bob, await alice.encrypt_message(text, AD))
            assert plaintext == text
        assert_same_receiving_chain(bob, alice)
    assert bob.receive_steps == 5


async def test_tampered_body_rejected_both_ways() -> None:
    shared = shared_keys()
    bob_private, bob_public = x25519_keypair(nacl.utils.random)
    alice = ratchet.initialize_initiator(shared, bob_public)
    first, alice = konsel_encrypt(alice, b"asli")
    tampered = EncryptedMessage(first.header, first.ciphertext[:-1] + b"\x00")

    with pytest.raises(AuthenticationFailedException):
        await LibraryRatchet.decrypt_initial_message(
            shared_secret=shared.root_key,
            own_ratchet_priv=bob_private,
            message=tampered,
            associated_data=AD,
            **LIBRARY_CONFIG,
        )

    bob, _ = await LibraryRatchet.decrypt_initial_message(
        shared_secret=shared.root_key,
        own_ratchet_priv=bob_private,
        message=first,
        associated_data=AD,
        **LIBRARY_CONFIG,
    )
    reply = await bob.encrypt_message(b"balas", AD)
    bad_reply = EncryptedMessage(reply.header, reply.ciphertext[:-1] + b"\x00")
    with pytest.raises(AuthenticationError):
        konsel_decrypt(alice, bad_reply)
    assert konsel_decrypt(alice, reply)[0] == b"balas"
