"""The state every part of the store shares: the connection, the locks, the clock.

:class:`~.store.Store` is assembled from mixins (contacts, messages, counseling records),
and each of them builds on :class:`StoreBase` for its database handle and its write
transaction.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlite_utils

from .profile import Profile, ProfileLock
from .store_connection import damage_as_corruption, load_sqlcipher


def now_ms() -> int:
    """Return the current time in Unix milliseconds, the unit of every stored time."""
    return time.time_ns() // 1_000_000


class StoreBase:
    """An open database connection with its profile lock, call lock and clock."""

    def __init__(
        self,
        profile: Profile,
        connection: Any,
        lock: ProfileLock,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.profile = profile
        self.db = sqlite_utils.Database(connection, execute_plugins=False)
        """The database handle for the store's own modules. Other code calls the store's
        public methods, which take the call lock and run each write in one transaction."""
        self._connection: Any = connection
        self._profile_lock = lock
        self._lock = threading.RLock()
        self._clock = clock
        self._integrity_error: type[Exception] = load_sqlcipher().IntegrityError

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """Run the block in one ``BEGIN IMMEDIATE`` transaction, rolled back on any error."""
        connection = self.db.conn
        with damage_as_corruption(self.profile.database_path):
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise


def inserted_id(cursor: Any) -> int:
    """Return the rowid of the row an INSERT cursor just added."""
    row_id = cursor.lastrowid
    if row_id is None:
        raise RuntimeError("INSERT returned no rowid")
    return int(row_id)
