"""Write protocol_vectors.json: known-answer vectors for konsel's end-to-end encryption.

Every random byte comes from a seeded stream, so the output is the same on every run:
output number i of a stream is SHAKE-256(seed || i as u32 big-endian), cut to the size
requested. Run from the repository root:

    .venv/bin/python tests/data/generate_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from konsel.protocol import kdf, x3dh
from konsel.protocol.envelope import message_id
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.padding import pad
from konsel.protocol.prekeys import PrekeyStore
from konsel.protocol.renew_request import create_renew_request, signed_message
from konsel.protocol.session import Session

VECTORS_PATH = Path(__file__).with_name("protocol_vectors.json")

NOW = 1_780_000_000
ALICE_SEED = bytes(range(1, 33))
BOB_SEED = bytes(range(33, 65))
ALICE_RNG_SEED = b"konsel vectors alice"
BOB_RNG_SEED = b"konsel vectors bob"
ALICE_TEXTS = [
    "Selamat siang, Bu. Saya mau cerita soal teman sekelas saya.",
    "Boleh saya cerita sekarang?",
]
BOB_TEXT = "Selamat siang. Tentu boleh, Ibu siap mendengarkan."
ALICE_AFTER_REPLY = "Terima kasih, Bu."
RENEW_RNG_SEED = b"konsel vectors renew"


def seeded_rng(seed: bytes) -> Callable[[int], bytes]:
    """Return an rng whose i-th output is SHAKE-256(seed || u32 i) of the requested size."""
    counter = 0

    def rng(size: int) -> bytes:
        nonlocal counter
        output = hashlib.shake_256(seed + counter.to_bytes(4, "big")).digest(size)
        counter += 1
        return output

    return rng


def build_bob_store(bob: IdentityKeyPair) -> PrekeyStore:
    """Build Bob's prekey store: signed prekey 1 and one-time prekeys 1 and 2."""
    return PrekeyStore.create(bob, NOW, one_time_count=2, rng=seeded_rng(BOB_RNG_SEED + b" store"))


def component_vectors() -> dict[str, Any]:
    """Compute vectors for the KDFs, padding and identity keys."""
    root_key, dh_output = bytes(range(32)), bytes(range(32, 64))
    new_root, chain_key, next_header_key = kdf.root_step(root_key, dh_output)
    next_chain_key, message_key = kdf.chain_step(chain_key)
    body_key, body_nonce = kdf.body_key_and_nonce(message_key, b"\x00" * 8)
    alice = IdentityKeyPair(ALICE_SEED)
    return {
        "root_step": {
            "root_key": root_key.hex(),
            "dh_output": dh_output.hex(),
            "new_root_key": new_root.hex(),
            "chain_key": chain_key.hex(),
            "next_header_key": next_header_key.hex(),
        },
        "chain_step": {
            "chain_key": chain_key.hex(),
            "next_chain_key": next_chain_key.hex(),
            "message_key": message_key.hex(),
        },
        "body_key": {
            "message_key": message_key.hex(),
            "salt": "00" * 8,
            "key": body_key.hex(),
            "nonce": body_nonce.hex(),
        },
        "padding": {str(size): pad(b"\x61" * size).hex() for size in (0, 7, 15, 60)},
        "identity": {
            "seed": ALICE_SEED.hex(),
            "ed25519_public": alice.public.ed25519.hex(),
            "x25519_public": alice.public.x25519.hex(),
            "fingerprint": alice.public.fingerprint().hex(),
        },
    }


def session_vectors() -> dict[str, Any]:
    """Run a fixed conversation and record the bundle, shared keys and every envelope."""
    alice, bob = IdentityKeyPair(ALICE_SEED), IdentityKeyPair(BOB_SEED)
    alice_rng, bob_rng = seeded_rng(ALICE_RNG_SEED), seeded_rng(BOB_RNG_SEED)
    store = build_bob_store(bob)
    bundle = store.bundle(bob, 1)

    # X3DH draws the ephemeral key first, so a fresh stream repeats the session's handshake.
    handshake = x3dh.initiate(alice, bundle, seeded_rng(ALICE_RNG_SEED))
    alice_session = Session.initiate(alice, bundle, alice_rng)
    initial_envelopes = []
    for text in ALICE_TEXTS:
        envelope, alice_session = alice_session.encrypt(text.encode(), alice_rng)
        initial_envelopes.append(envelope)

    bob_session, _, store = Session.respond(bob, store, initial_envelopes[0], now=NOW)
    _, bob_session = bob_session.decrypt(initial_envelopes[1], NOW)
    reply, bob_session = bob_session.encrypt(BOB_TEXT.encode(), bob_rng)
    _, alice_session = alice_session.decrypt(reply, NOW)
    after_reply, alice_session = alice_session.encrypt(ALICE_AFTER_REPLY.encode(), alice_rng)

    return {
        "now": NOW,
        "alice_seed": ALICE_SEED.hex(),
        "bob_seed": BOB_SEED.hex(),
        "alice_rng_seed": ALICE_RNG_SEED.hex(),
        "bob_rng_seed": BOB_RNG_SEED.hex(),
        "bundle": bundle.encode().hex(),
        "x3dh": {
            "ephemeral_public": handshake.ephemeral_public.hex(),
            "root_key": handshake.shared.root_key.hex(),
            "initiator_header_key": handshake.shared.initiator_header_key.hex(),
            "responder_next_header_key": handshake.shared.responder_next_header_key.hex(),
            "sealed_identity": handshake.sealed_identity.hex(),
            "associated_data": handshake.associated_data.hex(),
        },
        "messages": [
            {"from": "alice", "plaintext": ALICE_TEXTS[0], "envelope": initial_envelopes[0].hex()},
            {"from": "alice", "plaintext": ALICE_TEXTS[1], "envelope": initial_envelopes[1].hex()},
            {"from": "bob", "plaintext": BOB_TEXT, "envelope": reply.hex()},
            {"from": "alice", "plaintext": ALICE_AFTER_REPLY, "envelope": after_reply.hex()},
        ],
        "message_ids": [message_id(e).hex() for e in (*initial_envelopes, reply, after_reply)],
        "final_alice_state": alice_session.to_bytes().hex(),
        "final_bob_state": bob_session.to_bytes().hex(),
    }


def renew_request_vectors() -> dict[str, Any]:
    """Sign a renew request from Alice (the counselor) to Bob and record its bytes.

    Ed25519 signatures are deterministic, so the envelope depends only on the two keys,
    the nonce and the timestamp.
    """
    alice, bob = IdentityKeyPair(ALICE_SEED), IdentityKeyPair(BOB_SEED)
    nonce = seeded_rng(RENEW_RNG_SEED)(16)
    envelope = create_renew_request(alice, bob.public, NOW, lambda size: nonce[:size])
    return {
        "signer_seed": ALICE_SEED.hex(),
        "recipient_seed": BOB_SEED.hex(),
        "timestamp": NOW,
        "nonce": nonce.hex(),
        "signed_message": signed_message(alice.public, bob.public, nonce, NOW).hex(),
        "envelope": envelope.hex(),
    }


def build_vectors() -> dict[str, Any]:
    """Compute all vectors."""
    return {
        "description": "konsel protocol v1 known-answer vectors; see generate_vectors.py",
        "components": component_vectors(),
        "session": session_vectors(),
        "renew_request": renew_request_vectors(),
    }


def main() -> None:
    """Write the vectors file next to this script."""
    VECTORS_PATH.write_text(json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {VECTORS_PATH}")


if __name__ == "__main__":
    main()
