"""Known-answer tests against tests/data/protocol_vectors.json."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from nacl.signing import VerifyKey

from konsel.protocol.envelope import InitialEnvelope, decode_envelope, message_id
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import PrekeyBundle
from konsel.protocol.renew_request import verify_renew_request
from konsel.protocol.session import Session

DATA = Path(__file__).parent.parent / "data"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_vectors", DATA / "generate_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    return json.loads((DATA / "protocol_vectors.json").read_text())


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


def test_components_match(stored: dict[str, Any], generator: ModuleType) -> None:
    recomputed = generator.component_vectors()
    for name, values in stored["components"].items():
        assert recomputed[name] == values, name


def test_session_matches(stored: dict[str, Any], generator: ModuleType) -> None:
    recomputed = generator.session_vectors()
    for name, values in stored["session"].items():
        assert recomputed[name] == values, name


def test_stored_envelopes_decrypt(stored: dict[str, Any], generator: ModuleType) -> None:
    vectors = stored["session"]
    now = vectors["now"]
    alice = IdentityKeyPair(bytes.fromhex(vectors["alice_seed"]))
    bob = IdentityKeyPair(bytes.fromhex(vectors["bob_seed"]))
    envelopes = [bytes.fromhex(message["envelope"]) for message in vectors["messages"]]
    texts = [message["plaintext"].encode() for message in vectors["messages"]]

    bundle = PrekeyBundle.decode(bytes.fromhex(vectors["bundle"]))
    assert bundle.identity == bob.public
    first = decode_envelope(envelopes[0])
    assert isinstance(first, InitialEnvelope)
    assert first.ephemeral_public.hex() == vectors["x3dh"]["ephemeral_public"]
    assert first.sealed_identity.hex() == vectors["x3dh"]["sealed_identity"]

    # Bob starts from the second initial envelope, so the first one takes a skipped key.
    store = generator.build_bob_store(bob)
    bob_session, plaintext, _ = Session.respond(bob, store, envelopes[1], now=now)
    assert plaintext == texts[1]
    assert bob_session.remote_identity == alice.public
    plaintext, bob_session = bob_session.decrypt(envelopes[0], now)
    assert plaintext == texts[0]

    # Delivery order does not enter the reply, so Bob's seeded reply matches the stored one.
    bob_rng = generator.seeded_rng(bytes.fromhex(vectors["bob_rng_seed"]))
    reply, bob_session = bob_session.encrypt(texts[2], bob_rng)
    assert reply == envelopes[2]
    plaintext, _ = bob_session.decrypt(envelopes[3], now)
    assert plaintext == texts[3]

    alice_state = Session.from_bytes(bytes.fromhex(vectors["final_alice_state"]))
    assert alice_state.remote_identity == bob.public
    assert [message_id(envelope).hex() for envelope in envelopes] == vectors["message_ids"]


def test_stored_state_decrypts(stored: dict[str, Any]) -> None:
    """Bob's stored final state decrypts the message Alice sent after his reply."""
    vectors = stored["session"]
    bob_session = Session.from_bytes(bytes.fromhex(vectors["final_bob_state"]))
    last_from_alice = bytes.fromhex(vectors["messages"][3]["envelope"])
    plaintext, _ = bob_session.decrypt(last_from_alice, vectors["now"])
    assert plaintext == vectors["messages"][3]["plaintext"].encode()


def test_renew_request_matches(stored: dict[str, Any], generator: ModuleType) -> None:
    assert generator.renew_request_vectors() == stored["renew_request"]


def test_renew_request_vector_follows_the_spec(stored: dict[str, Any]) -> None:
    """Rebuild the "r" envelope from docs/protocol.md section 4.9 with msgpack and PyNaCl."""
    vector = stored["renew_request"]
    signer = IdentityKeyPair(bytes.fromhex(vector["signer_seed"])).public.ed25519
    recipient = IdentityKeyPair(bytes.fromhex(vector["recipient_seed"])).public.ed25519
    nonce, timestamp = bytes.fromhex(vector["nonce"]), vector["timestamp"]
    envelope = bytes.fromhex(vector["envelope"])

    signed = b"konsel/v1 renew request" + signer + recipient + nonce + timestamp.to_bytes(8, "big")
    assert signed.hex() == vector["signed_message"]
    signature = msgpack.unpackb(envelope)[4]
    VerifyKey(signer).verify(signed, signature)
    assert msgpack.packb([1, "r", nonce, timestamp, signature]) == envelope
    assert envelope[:4] == bytes.fromhex("9501a172")
    assert len(envelope) == 93

    request = verify_renew_request(
        envelope,
        IdentityKeyPair(bytes.fromhex(vector["signer_seed"])).public,
        IdentityKeyPair(bytes.fromhex(vector["recipient_seed"])).public,
        now=timestamp,
        seen_nonces=(),
    )
    assert (request.nonce, request.timestamp) == (nonce, timestamp)
