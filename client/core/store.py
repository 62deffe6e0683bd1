"""The client's encrypted local store: one open profile as a :class:`Store`.

A store contains the user's own identity and prekey state, named state blobs of other
components (the sync engine's), contacts, ratchet sessions, messages, the outbox and the
counselor's records in one SQLCipher database. Its methods
are synchronous. The async core calls them through ``asyncio.to_thread``, and a lock runs
the calls one at a time. Methods that change more than one table do it in one
transaction.

:class:`Store` is assembled from parts, one module each: contacts and sessions
(:mod:`.store_contacts`), messages and outbox (:mod:`.store_messages`) and counseling
records (:mod:`.store_records`). Opening, creating and re-keying the database are in
:mod:`.store_connection`, and the schema is in :mod:`.store_schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import DatabaseCorrupted, ProfileNotFound
from .passphrase import DEFAULT_KDF, KdfParams
from .profile import Profile, ProfileLock
from .store_base import now_ms
from .store_connection import create_database, damage_as_corruption, rekey, serialized, unlock
from .store_contacts import Contact
from .store_messages import MessageFields, MessageLog, OutboxItem, StoredMessage, fts_query
from .store_records import CounselingRecords
from .store_schema import apply_migrations

__all__ = [
    "Contact",
    "MessageFields",
    "OutboxItem",
    "Store",
    "StoredMessage",
    "fts_query",
]

_IDENTITY_STATE = "identity"
_PREKEY_STATE = "prekeys"
_RESERVED_STATE_NAMES = frozenset({_IDENTITY_STATE, _PREKEY_STATE})


class Store(MessageLog, CounselingRecords):
    """An open, unlocked profile store. Use :meth:`create` or :meth:`open` to get one."""

    # Opening and closing

    @classmethod
    def create(
        cls,
        profile: Profile,
        passphrase: str,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        clock: Callable[[], int] = now_ms,
    ) -> Store:
        """Create a new store in an empty profile directory (made 0700 if missing)."""
        profile.ensure_directory()
        return cls._locked(profile, lambda: create_database(profile, passphrase, kdf), clock)

    @classmethod
    def open(cls, profile: Profile, passphrase: str, *, clock: Callable[[], int] = now_ms) -> Store:
        """Unlock an existing profile's store and bring its schema up to date.

        Raises:
            ProfileNotFound: the directory does not exist or contains no store.
            ProfileLocked: another process has the profile open.
            WrongPassphrase, DatabaseCorrupted, SchemaTooNew: and the other errors of
                :mod:`.errors`, with the profile left as it was.
        """
        if not profile.directory.is_dir():
            raise ProfileNotFound(profile.directory)
        profile.ensure_directory()
        return cls._locked(profile, lambda: unlock(profile, passphrase), clock)

    @classmethod
    def _locked(
        cls, profile: Profile, connect: Callable[[], Any], clock: Callable[[], int]
    ) -> Store:
        lock = ProfileLock(profile)
        lock.acquire()
        try:
            connection = connect()
        except BaseException:
            lock.release()
            raise
        try:
            with damage_as_corruption(profile.database_path):
                apply_migrations(connection)
        except BaseException:
            connection.close()
            lock.release()
            raise
        return cls(profile, connection, lock, clock)

    @serialized
    def close(self) -> None:
        """Checkpoint the WAL into the database, close it and release the profile lock."""
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            connection.close()
            self._profile_lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @serialized
    def change_passphrase(
        self, old_passphrase: str, new_passphrase: str, *, kdf: KdfParams | None = None
    ) -> None:
        """Re-key the database and rewrite the header with a fresh salt.

        Raises:
            WrongPassphrase: ``old_passphrase`` is wrong; nothing was changed.
        """
        rekey(self._connection, self.profile, old_passphrase, new_passphrase, kdf)

    @serialized
    def check_integrity(self) -> None:
        """Read every page and check its SQLCipher HMAC and SQLite's structure.

        Opening reads only page 1, so damage further in shows up here, or as
        :class:`DatabaseCorrupted` from the first query that reads the damaged page.
        """
        problems = self.db.execute("PRAGMA cipher_integrity_check").fetchall()
        problems += [
            row for row in self.db.execute("PRAGMA quick_check").fetchall() if row[0] != "ok"
        ]
        if problems:
            detail = "; ".join(str(row[0]) for row in problems[:3])
            raise DatabaseCorrupted(self.profile.database_path, detail)

    # Own identity and prekeys

    @serialized
    def put_identity_state(self, state: bytes) -> None:
        """Store the serialized own identity (long-term keys)."""
        with self._write():
            self._upsert_own_state(_IDENTITY_STATE, state)

    @serialized
    def get_identity_state(self) -> bytes | None:
        """Return the serialized own identity, or None before it is created."""
        return self._get_own_state(_IDENTITY_STATE)

    @serialized
    def put_prekey_state(self, state: bytes) -> None:
        """Store the serialized signed and one-time prekey state."""
        with self._write():
            self._upsert_own_state(_PREKEY_STATE, state)

    @serialized
    def get_prekey_state(self) -> bytes | None:
        """Return the serialized prekey state, or None before it is created."""
        return self._get_own_state(_PREKEY_STATE)

    # Named state of other components, such as the sync engine

    @serialized
    def get_named_state(self, name: str) -> bytes | None:
        """Return the state blob stored under ``name``, or None if there is none.

        Raises:
            ValueError: ``name`` is ``identity`` or ``prekeys``, which have their own methods.
        """
        _check_state_name(name)
        return self._get_own_state(name)

    @serialized
    def put_named_state(
        self,
        name: str,
        state: bytes,
        *,
        session: tuple[int, bytes] | None = None,
        prekey_state: bytes | None = None,
    ) -> None:
        """Store a named state blob, and optionally a session and the prekey state, at once.

        ``session`` is a contact id with its serialized ratchet session. All given parts are
        written in one transaction, so if one write fails, none of them stays. A caller can
        thus keep an advanced session only together with the state that records what it sent.

        Raises:
            ValueError: ``name`` is ``identity`` or ``prekeys``, which have their own methods.
            RecordNotFound: the session's contact does not exist; nothing was written.
        """
        _check_state_name(name)
        if session is not None:
            self._contact(session[0])

        with self._write():
            if session is not None:
                self._put_session(session[0], session[1])
            if prekey_state is not None:
                self._upsert_own_state(_PREKEY_STATE, prekey_state)
            self._upsert_own_state(name, state)

    def _upsert_own_state(self, name: str, state: bytes) -> None:
        self.db.execute(
            "INSERT INTO own_state (name, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [name, bytes(state), self._clock()],
        )

    def _get_own_state(self, name: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM own_state WHERE name = ?", [name]).fetchone()
        return None if row is None else bytes(row[0])


def _check_state_name(name: str) -> None:
    if name in _RESERVED_STATE_NAMES:
        raise ValueError(
            f"state name {name!r} is reserved for the identity and prekey methods, "
            "so choose another name"
        )
