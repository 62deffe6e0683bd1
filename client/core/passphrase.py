"""Derive the store's database key from a passphrase, and read and write its key header.

The database key is 32 bytes from Argon2id (libsodium through PyNaCl) over the UTF-8 of the
NFC-normalized passphrase and a random 16-byte salt. The salt, the Argon2id cost and a
verifier live in a small plaintext JSON header beside the database. The verifier is
BLAKE2b-256 keyed with the database key over the label ``konsel store verifier v1``. With
it, a wrong passphrase is distinguished from a damaged database without opening the
database. It reveals nothing about the key beyond what a trial decryption would.

The passphrase and the key are never written anywhere; only the header is.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nacl.pwhash

from .errors import HeaderCorrupted, HeaderMissing, InvalidPassphrase

HEADER_FORMAT = 1
KEY_SIZE = 32
SALT_SIZE = nacl.pwhash.argon2id.SALTBYTES
VERIFIER_LABEL = b"konsel store verifier v1"

MAX_PASSPHRASE_BYTES = 1024
MAX_HEADER_BYTES = 4096

# Bounds on the cost read from a header, so that a tampered header cannot make unlocking
# allocate gigabytes or spin for minutes.
MIN_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MIN
MAX_OPSLIMIT = 20
MIN_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MIN
MAX_MEMLIMIT = 1024 * 1024 * 1024


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: passes over memory (``opslimit``) and memory in bytes (``memlimit``)."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise ValueError(f"opslimit {self.opslimit} outside {MIN_OPSLIMIT}..{MAX_OPSLIMIT}")
        if not MIN_MEMLIMIT <= self.memlimit <= MAX_MEMLIMIT:
            raise ValueError(f"memlimit {self.memlimit} outside {MIN_MEMLIMIT}..{MAX_MEMLIMIT}")


# 64 MiB and 3 passes, the low-memory option of RFC 9106. bench/client_store.py measured
# 60-180 ms on a loaded 2-core Xeon server. An old school PC with 2-4 GiB of RAM takes an
# estimated 0.5-1.5 s, and 64 MiB leaves room there for the OS and a browser.
DEFAULT_KDF = KdfParams(opslimit=3, memlimit=64 * 1024 * 1024)


@dataclass(frozen=True)
class KeyHeader:
    """The plaintext header file: format, Argon2id salt and cost, and the key verifier."""

    salt: bytes
    kdf: KdfParams
    verifier: bytes
    format: int = HEADER_FORMAT

    def to_json(self) -> bytes:
        """Encode the header as the JSON bytes written to disk."""
        document = {
            "format": self.format,
            "kdf": "argon2id",
            "salt": self.salt.hex(),
            "opslimit": self.kdf.opslimit,
            "memlimit": self.kdf.memlimit,
            "verifier": self.verifier.hex(),
        }
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


def encode_passphrase(passphrase: str) -> bytes:
    """Normalize a passphrase to NFC and encode it as UTF-8, checking its length.

    NFC makes the same typed text give the same key whatever input method composed it.
    """
    encoded = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if not encoded:
        raise InvalidPassphrase("it is empty; type at least one character")
    if len(encoded) > MAX_PASSPHRASE_BYTES:
        raise InvalidPassphrase(
            f"it is {len(encoded)} bytes long, above the maximum of {MAX_PASSPHRASE_BYTES}"
        )
    return encoded


def derive_key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    """Derive the 32-byte database key with Argon2id."""
    return nacl.pwhash.argon2id.kdf(
        KEY_SIZE, encode_passphrase(passphrase), salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
    )


def compute_verifier(key: bytes) -> bytes:
    """Compute the header's verifier: BLAKE2b-256 keyed with the database key."""
    return hashlib.blake2b(VERIFIER_LABEL, key=key, digest_size=32).digest()


def verify_key(header: KeyHeader, key: bytes) -> bool:
    """Return whether ``key`` matches the header's verifier, in constant time."""
    return hmac.compare_digest(compute_verifier(key), header.verifier)


def new_header(passphrase: str, kdf: KdfParams) -> tuple[KeyHeader, bytes]:
    """Create a header with a fresh random salt; return it with the derived key."""
    salt = os.urandom(SALT_SIZE)
    key = derive_key(passphrase, salt, kdf)
    return KeyHeader(salt=salt, kdf=kdf, verifier=compute_verifier(key)), key


def read_header(path: Path) -> KeyHeader:
    """Read and validate a header file.

    Raises:
        HeaderMissing: the file does not exist.
        HeaderCorrupted: the file is too large, not JSON, or a field is missing or invalid.
    """
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_HEADER_BYTES + 1)
    except FileNotFoundError:
        raise HeaderMissing(path) from None
    except OSError as error:
        raise HeaderCorrupted(path, f"cannot be read: {error.strerror}") from error

    if len(raw) > MAX_HEADER_BYTES:
        raise HeaderCorrupted(path, f"larger than {MAX_HEADER_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HeaderCorrupted(path, "not valid JSON") from error
    if not isinstance(document, dict):
        raise HeaderCorrupted(path, "not a JSON object")

    return _parse_header(path, document)


def _parse_header(path: Path, document: dict[str, object]) -> KeyHeader:
    """Check every header field's type and size and build the header."""
    if document.get("format") != HEADER_FORMAT:
        raise HeaderCorrupted(path, f"format {document.get('format')!r} is not {HEADER_FORMAT}")
    if document.get("kdf") != "argon2id":
        raise HeaderCorrupted(path, f"kdf {document.get('kdf')!r} is not 'argon2id'")

    salt = _hex_field(path, document, "salt", SALT_SIZE)
    verifier = _hex_field(path, document, "verifier", 32)

    opslimit = document.get("opslimit")
    memlimit = document.get("memlimit")
    if type(opslimit) is not int or type(memlimit) is not int:
        raise HeaderCorrupted(path, "opslimit and memlimit must be integers")
    try:
        kdf = KdfParams(opslimit=opslimit, memlimit=memlimit)
    except ValueError as error:
        raise HeaderCorrupted(path, str(error)) from error

    return KeyHeader(salt=salt, kdf=kdf, verifier=verifier)


def _hex_field(path: Path, document: dict[str, object], name: str, size: int) -> bytes:
    value = document.get(name)
    if not isinstance(value, str) or len(value) != 2 * size:
        raise HeaderCorrupted(path, f"{name} must be {size} bytes as hex")
    try:
        return bytes.fromhex(value)
    except ValueError as error:
        raise HeaderCorrupted(path, f"{name} is not hex") from error


def write_header(path: Path, header: KeyHeader) -> None:
    """Write the header atomically: a 0600 temporary file, fsync, then ``os.replace``."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(header.to_json())
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry change (a rename) to disk where the OS allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
