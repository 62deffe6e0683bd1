"""Open, create and re-key the SQLCipher database of a profile.

The database key is a raw 32-byte key given as ``PRAGMA key = "x'<64 hex digits>'"``, so
SQLCipher runs no key derivation of its own; Argon2id in :mod:`.passphrase` is the only
one. Before the key is set, ``PRAGMA cipher_version`` must return a version: a plain SQLite
would accept ``PRAGMA key`` silently and write an unencrypted file.

A passphrase change writes the new header to ``key.json.next`` first, then re-keys the
database, then renames the new header over ``key.json``. A crash between the re-key and the
rename leaves a database that opens under the next header only, and :func:`unlock` finishes
the rename when the new passphrase is typed.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, cast

from .errors import (
    DatabaseCorrupted,
    PassphraseChangeInterrupted,
    ProfileExists,
    ProfileNotFound,
    SqlcipherUnavailable,
    WrongPassphrase,
)
from .passphrase import (
    KdfParams,
    KeyHeader,
    derive_key,
    fsync_directory,
    new_header,
    read_header,
    verify_key,
    write_header,
)
from .profile import FILE_MODE, Profile, create_private_file

# SQLite result codes that mean the bytes on disk do not decrypt or do not form a database.
_DAMAGE_CODES = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}


def load_sqlcipher() -> ModuleType:
    """Import the SQLCipher DB-API module.

    Raises:
        SqlcipherUnavailable: the ``sqlcipher3`` package cannot be imported.
    """
    try:
        import sqlcipher3.dbapi2
    except ImportError as error:
        raise SqlcipherUnavailable(f"cannot import sqlcipher3: {error}") from error
    module: ModuleType = sqlcipher3.dbapi2
    return module


def is_damage_error(error: BaseException) -> bool:
    """Return whether a driver error means undecryptable or malformed database bytes."""
    return getattr(error, "sqlite_errorname", None) in _DAMAGE_CODES


@contextlib.contextmanager
def damage_as_corruption(path: Path) -> Iterator[None]:
    """Turn driver errors about damaged pages into :class:`DatabaseCorrupted`."""
    sqlcipher = load_sqlcipher()
    try:
        yield
    except sqlcipher.DatabaseError as error:
        if is_damage_error(error):
            raise DatabaseCorrupted(path, str(error)) from error
        raise


def _key_pragma(key: bytes) -> str:
    # A hex blob literal: SQLCipher uses these 32 bytes as the key, with no PBKDF2 step.
    return f"PRAGMA key = \"x'{key.hex()}'\""


def connect_encrypted(path: Path, key: bytes) -> Any:
    """Open ``path`` under ``key`` and check that the key decrypts page 1.

    Returns a connection in autocommit mode (``isolation_level=None``) so that every
    transaction is an explicit BEGIN/COMMIT. ``check_same_thread`` is off because the async
    core calls the store from worker threads; the store serializes those calls.

    Raises:
        SqlcipherUnavailable: the loaded SQLite has no SQLCipher codec.
        DatabaseCorrupted: the file does not decrypt under ``key`` or is malformed.
    """
    sqlcipher = load_sqlcipher()
    connection = sqlcipher.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        # SQLCipher logs decryption failures to stderr by default, which would draw over
        # the terminal UI; the errors still reach the caller as exceptions.
        connection.execute("PRAGMA cipher_log_level = NONE")
        if not connection.execute("PRAGMA cipher_version").fetchall():
            raise SqlcipherUnavailable("PRAGMA cipher_version returned nothing")

        connection.execute(_key_pragma(key))
        with damage_as_corruption(path):
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        connection.close()
        raise
    return connection


def create_database(profile: Profile, passphrase: str, kdf: KdfParams) -> Any:
    """Create the key header and an empty encrypted database in an empty profile.

    The header is written first, so an interrupted create leaves a profile that
    :func:`unlock` reports as damaged, never a database without the salt of its key.

    Raises:
        ProfileExists: the profile already has a database or a header.
    """
    if profile.has_store():
        raise ProfileExists(profile.directory)

    header, key = new_header(passphrase, kdf)
    write_header(profile.header_path, header)
    create_private_file(profile.database_path)
    return connect_encrypted(profile.database_path, key)


def unlock(profile: Profile, passphrase: str) -> Any:
    """Derive the key from the profile's header and open its database.

    Raises:
        ProfileNotFound: neither a database nor a header exists.
        HeaderMissing, HeaderCorrupted: the header is gone or invalid.
        WrongPassphrase: the passphrase matches neither the header nor a pending change.
        PassphraseChangeInterrupted: the old passphrase after an interrupted change.
        DatabaseCorrupted: the key is right but the database does not decrypt or is gone.
    """
    if not profile.has_store():
        raise ProfileNotFound(profile.directory)

    header = read_header(profile.header_path)
    key = derive_key(passphrase, header.salt, header.kdf)
    pending = _read_pending_header(profile)

    if verify_key(header, key):
        return _open_with_current_key(profile, key, pending)
    if pending is not None:
        return _finish_interrupted_change(profile, passphrase, pending)
    raise WrongPassphrase()


def _read_pending_header(profile: Profile) -> KeyHeader | None:
    if not profile.next_header_path.exists():
        return None
    return read_header(profile.next_header_path)


def _open_with_current_key(profile: Profile, key: bytes, pending: KeyHeader | None) -> Any:
    """Open under the current header, clearing a pending change that never re-keyed."""
    _require_database_file(profile)
    try:
        connection = connect_encrypted(profile.database_path, key)
    except DatabaseCorrupted:
        if pending is not None:
            raise PassphraseChangeInterrupted() from None
        raise

    if pending is not None:
        profile.next_header_path.unlink()
    return connection


def _finish_interrupted_change(profile: Profile, passphrase: str, pending: KeyHeader) -> Any:
    """Open with the pending header's key and make that header current if it works."""
    key = derive_key(passphrase, pending.salt, pending.kdf)
    if not verify_key(pending, key):
        raise WrongPassphrase()

    _require_database_file(profile)
    try:
        connection = connect_encrypted(profile.database_path, key)
    except DatabaseCorrupted:
        # The change stopped before the re-key, so the database still has the old key.
        raise WrongPassphrase() from None

    os.replace(profile.next_header_path, profile.header_path)
    fsync_directory(profile.directory)
    return connection


def _require_database_file(profile: Profile) -> None:
    if not profile.database_path.exists():
        raise DatabaseCorrupted(profile.database_path, "the file is missing")
    os.chmod(profile.database_path, FILE_MODE)


def rekey(
    connection: Any,
    profile: Profile,
    old_passphrase: str,
    new_passphrase: str,
    kdf: KdfParams | None = None,
) -> None:
    """Re-key an open database to a new passphrase with a fresh salt.

    ``kdf`` defaults to the current header's cost. A wrong old passphrase changes nothing.

    Raises:
        WrongPassphrase: ``old_passphrase`` does not match the current header.
    """
    header = read_header(profile.header_path)
    if not verify_key(header, derive_key(old_passphrase, header.salt, header.kdf)):
        raise WrongPassphrase()

    next_header, new_key = new_header(new_passphrase, kdf or header.kdf)
    write_header(profile.next_header_path, next_header)

    with damage_as_corruption(profile.database_path):
        connection.execute(_key_pragma(new_key).replace("PRAGMA key", "PRAGMA rekey", 1))
        # Move the re-encrypted pages from the WAL into the main file now, so that the main
        # file stops holding pages under the old key.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    os.replace(profile.next_header_path, profile.header_path)
    fsync_directory(profile.directory)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def serialized(method: _Method) -> _Method:
    """Run a store method under the store's ``_lock``, mapping damaged pages to an error.

    The async core calls the store through ``asyncio.to_thread``, so calls can come from
    several worker threads, and one SQLite connection must not run two statements at once.
    A page that fails its HMAC can surface in any query, so every public method turns it
    into :class:`DatabaseCorrupted`.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock, damage_as_corruption(self.profile.database_path):
            return method(self, *args, **kwargs)

    return cast(_Method, wrapper)
