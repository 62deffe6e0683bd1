"""Measure the end-to-end encryption core: speed, message overhead and handshake size.

Run by hand from the repository root:

    .venv/bin/python bench/protocol.py [--messages 2000] [--repeat 7]

It prints:

(a) encrypt + decrypt time of one 60-character message through two Sessions, as a ratio
    to a bare PyNaCl SecretBox encrypt + decrypt of the same bytes measured in the same
    run. Two cases: one sender in a row (symmetric ratchet steps only) and strict
    alternation (a DH ratchet step on every message);
(b) wire bytes of one 60-character Indonesian text message: envelope total, the overhead
    before padding (envelope minus the padded plaintext) and with padding (envelope minus
    the plaintext);
(c) bytes of a full handshake: the prekey bundle plus the first "i" envelope.

The plaintext is the UTF-8 text alone, without the content layer's fields. Each time is
the median of ``--repeat`` rounds of ``--messages`` messages, and each ratio the median
of the per-round ratios. The run stops by itself after
those loops; with the defaults it takes a few seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime

import nacl.secret
import nacl.utils

from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.padding import padme
from konsel.protocol.prekeys import PrekeyStore
from konsel.protocol.session import Session

NOW = 1_780_000_000
TEXT = "Bu, saya mau cerita soal teman yang sering mengejek saya ya."
TARGET_RATIO = 4.0
TARGET_OVERHEAD = 80
TARGET_HANDSHAKE = 1024


def new_pair() -> tuple[Session, Session, bytes, bytes]:
    """Return two established sessions, the encoded bundle and the first envelope."""
    alice_identity, bob_identity = IdentityKeyPair.generate(), IdentityKeyPair.generate()
    store = PrekeyStore.create(bob_identity, NOW, one_time_count=1)
    bundle = store.bundle(bob_identity, 1)
    alice = Session.initiate(alice_identity, bundle)
    first, alice = alice.encrypt(TEXT.encode())
    bob, _, _ = Session.respond(bob_identity, store, first, now=NOW)
    reply, bob = bob.encrypt(b"ok")
    _, alice = alice.decrypt(reply, NOW)
    return alice, bob, bundle.encode(), first


def time_secretbox(plaintext: bytes, count: int) -> float:
    box = nacl.secret.SecretBox(nacl.utils.random(32))
    start = time.perf_counter()
    for _ in range(count):
        box.decrypt(box.encrypt(plaintext))
    return (time.perf_counter() - start) / count


def time_one_direction(plaintext: bytes, count: int) -> float:
    alice, bob, _, _ = new_pair()
    start = time.perf_counter()
    for _ in range(count):
        envelope, alice = alice.encrypt(plaintext)
        _, bob = bob.decrypt(envelope, NOW)
    return (time.perf_counter() - start) / count


def time_alternating(plaintext: bytes, count: int) -> float:
    alice, bob, _, _ = new_pair()
    start = time.perf_counter()
    for _ in range(count // 2):
        envelope, alice = alice.encrypt(plaintext)
        _, bob = bob.decrypt(envelope, NOW)
        envelope, bob = bob.encrypt(plaintext)
        _, alice = alice.decrypt(envelope, NOW)
    return (time.perf_counter() - start) / (2 * (count // 2))


def verdict(met: bool) -> str:
    return "target met" if met else "TARGET MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per timed run")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median)")
    args = parser.parse_args()
    if not 2 <= args.messages <= 1_000_000 or not 1 <= args.repeat <= 100:
        parser.error("--messages must be 2..1000000 and --repeat 1..100")

    plaintext = TEXT.encode()
    assert len(TEXT) == 60
    assert len(plaintext) == 60

    print(f"command: {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}"
    )
    print(f"date:    {datetime.now(UTC).isoformat(timespec='seconds')}")
    print()

    # Each round times all three in turn, and each ratio is taken within its round, so
    # load from other processes shifts numerator and denominator alike.
    rounds = []
    for _ in range(args.repeat):
        baseline_round = time_secretbox(plaintext, args.messages)
        one_way_round = time_one_direction(plaintext, args.messages)
        alternating_round = time_alternating(plaintext, args.messages)
        rounds.append((baseline_round, one_way_round, alternating_round))
    baseline = statistics.median(r[0] for r in rounds)
    one_way = statistics.median(r[1] for r in rounds)
    alternating = statistics.median(r[2] for r in rounds)
    one_way_ratio = statistics.median(r[1] / r[0] for r in rounds)
    alternating_ratio = statistics.median(r[2] / r[0] for r in rounds)
    print("(a) encrypt + decrypt of one 60-character message")
    print(f"    SecretBox baseline:            {baseline * 1e6:8.1f} us")
    print(
        f"    Session, one sender in a row:  {one_way * 1e6:8.1f} us   "
        f"ratio {one_way_ratio:5.1f}  ({verdict(one_way_ratio <= TARGET_RATIO)}, <= {TARGET_RATIO})"
    )
    print(
        f"    Session, strict alternation:   {alternating * 1e6:8.1f} us   "
        f"ratio {alternating_ratio:5.1f}  ({verdict(alternating_ratio <= TARGET_RATIO)}, <= {TARGET_RATIO})"
    )
    print()

    alice, _, bundle, first = new_pair()
    envelope, _ = alice.encrypt(plaintext)
    padded = padme(len(plaintext) + 1)
    overhead_before_padding = len(envelope) - padded
    print('(b) wire bytes of one 60-character text message ("m" envelope)')
    print(f"    envelope total:                {len(envelope):5d} bytes")
    print(f"    padded plaintext:              {padded:5d} bytes (60 + marker + zeros)")
    print(
        f"    overhead before padding:       {overhead_before_padding:5d} bytes  "
        f"({verdict(overhead_before_padding <= TARGET_OVERHEAD)}, <= {TARGET_OVERHEAD})"
    )
    print(f"    overhead with padding:         {len(envelope) - len(plaintext):5d} bytes")
    print(f"    of which header ct 64, body tag 16, msgpack framing {len(envelope) - padded - 80}")
    print()

    handshake = len(bundle) + len(first)
    print("(c) full handshake")
    print(f"    prekey bundle:                 {len(bundle):5d} bytes")
    print(f'    first "i" envelope:            {len(first):5d} bytes')
    print(
        f"    total:                         {handshake:5d} bytes  "
        f"({verdict(handshake < TARGET_HANDSHAKE)}, < {TARGET_HANDSHAKE})"
    )


if __name__ == "__main__":
    main()
