"""Safety codes: a short code that two people compare to detect a man in the middle.

Both sides compute the code from the two identity public keys of a conversation, so the
code is the same on both screens unless someone substituted a key. Construction
(version 1), for two 32-byte Ed25519 identity public keys::

    low, high = the two keys sorted bytewise
    h_1 = BLAKE2b-512(0x01 || low || high, person = "konsel/v1 safety")
    h_i = BLAKE2b-512(h_(i-1) || low || high, person = "konsel/v1 safety"), i = 2..65,536
    digits: bytes 0..29 of h_65536 as six 5-byte big-endian integers, each mod 100,000,
            written as six groups of five decimal digits (about 99.7 bits)
    words:  bytes 30..37 of h_65536, each byte one word of the word list (64 bits)

The leading byte is the code version. The 65,536 iterations multiply the cost of each
candidate key in a brute-force search by that factor. One code takes about 30 ms in
CPython 3.11 on a 2-core x86-64 virtual machine (measured once with ``time.perf_counter``).

Warning:
    The word form carries 64 bits, so a man in the middle who controls both substituted
    keys needs about 2**32 key pairs per side (a collision search) to make both screens
    show the same words. Compare the digit form when an attacker with that budget is a
    concern.
"""

from __future__ import annotations

from dataclasses import dataclass

from .kdf import blake2b_labelled
from .wordlist import bytes_to_words

SAFETY_CODE_VERSION = 1
PERSON_SAFETY_CODE = b"konsel/v1 safety"
SAFETY_CODE_ITERATIONS = 65_536
IDENTITY_KEY_SIZE = 32

DIGIT_GROUPS = 6
DIGITS_PER_GROUP = 5
GROUP_CHUNK_SIZE = 5
WORD_COUNT = 8

_DIGEST_SIZE = 64
_WORDS_OFFSET = DIGIT_GROUPS * GROUP_CHUNK_SIZE


@dataclass(frozen=True)
class SafetyCode:
    """A safety code in both forms, which come from different bytes of the digest."""

    digit_groups: tuple[str, ...]
    """Six groups of five decimal digits, such as ``("04719", "88210", ...)``."""

    words: tuple[str, ...]
    """Eight words of the Indonesian word list."""

    def digits_text(self) -> str:
        """Format the digit form as six space-separated groups."""
        return " ".join(self.digit_groups)

    def words_text(self) -> str:
        """Format the word form as eight space-separated words."""
        return " ".join(self.words)


def safety_code(key_a: bytes, key_b: bytes) -> SafetyCode:
    """Compute the safety code of two identity public keys, in either order.

    Args:
        key_a: one side's 32-byte Ed25519 identity public key.
        key_b: the other side's key.

    Raises:
        ValueError: a key is not 32 bytes, or both keys are the same.
    """
    for name, key in (("key_a", key_a), ("key_b", key_b)):
        if not isinstance(key, bytes) or len(key) != IDENTITY_KEY_SIZE:
            raise ValueError(f"{name} must be {IDENTITY_KEY_SIZE} bytes")
    if key_a == key_b:
        raise ValueError(
            "both identity keys are the same, but a safety code needs two different people"
        )

    digest = _iterated_digest(*sorted((key_a, key_b)))

    groups = []
    for group in range(DIGIT_GROUPS):
        chunk = digest[group * GROUP_CHUNK_SIZE : (group + 1) * GROUP_CHUNK_SIZE]
        value = int.from_bytes(chunk, "big") % 10**DIGITS_PER_GROUP
        groups.append(f"{value:0{DIGITS_PER_GROUP}d}")

    words = bytes_to_words(digest[_WORDS_OFFSET : _WORDS_OFFSET + WORD_COUNT])
    return SafetyCode(digit_groups=tuple(groups), words=words)


def _iterated_digest(low: bytes, high: bytes) -> bytes:
    keys = low + high
    digest = blake2b_labelled(
        bytes([SAFETY_CODE_VERSION]) + keys, person=PERSON_SAFETY_CODE, size=_DIGEST_SIZE
    )
    for _ in range(SAFETY_CODE_ITERATIONS - 1):
        digest = blake2b_labelled(digest + keys, person=PERSON_SAFETY_CODE, size=_DIGEST_SIZE)
    return digest
