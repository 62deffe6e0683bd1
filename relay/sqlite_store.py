"""The default storage backend: one SQLite file in WAL mode, written by one batching thread.

Every operation, read or write, is a job that runs on a single worker thread that owns the
only connection. The thread takes every job that is waiting as one batch and runs it in at
most two transactions. It commits each transaction once and only then resolves its jobs'
futures, with one wake-up of the event loop per transaction. Each job that writes runs under
its own savepoint, so one failing job does not undo the others.

Durable writes (a SEND, a new inbox, a prekey pop, ...) share a transaction committed with
``synchronous=FULL``, so the commit is on disk when it returns. A SEND is therefore
confirmed only after its envelope is on disk, and a burst of SENDs costs one fsync per
batch instead of one per message.

Reads, ACK deletes and expiry run first, in a transaction of their own committed with
``synchronous=NORMAL``: the commit reaches the operating system but is not fsynced. In WAL
mode it survives the relay being killed (even by SIGKILL), and only a power loss or kernel
crash can undo it (SQLite's documentation of ``PRAGMA synchronous``). An undone ACK means
that its messages are delivered again with the same message ids, and clients drop them by
message id.

Running the reads on the same thread keeps every job atomic with respect to every other,
which is what makes popping a one-time prekey safe under concurrent fetches.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from konsel.protocol.relay_wire import INBOX_ID_SIZE, MESSAGE_ID_SIZE

from .errors import RelayError
from .storage import (
    Inbox,
    QueueLimits,
    QuotaExceededError,
    StorageFullError,
    StorageTotals,
    StoredMessage,
)

logger = logging.getLogger("konsel.relay.storage")

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

READ = 0
"""A job that only reads: it needs no savepoint and no fsync."""
RELAXED_WRITE = 1
"""A write whose loss in a power failure only causes a redelivery (ACK deletes, expiry)."""
DURABLE_WRITE = 2
"""A write that must be on disk before its future resolves."""

Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]
QueuedJob = tuple[Job, "asyncio.Future[Any]", int]

DATABASE_NAME = "relay.sqlite3"
LOCK_NAME = "relay.lock"
MAX_BATCH = 512
INBOX_ROW_BYTES = 256
"""Estimated bytes one inbox row costs, charged against the relay-wide storage cap."""
DISK_CHECK_INTERVAL = 1.0
"""Seconds between checks of the data directory's free space."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS inboxes (
    id INTEGER PRIMARY KEY,
    rid BLOB NOT NULL UNIQUE,
    sid BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    owner_key BLOB NOT NULL,
    sender_key BLOB,
    bundle BLOB,
    created_at INTEGER NOT NULL,
    queued_count INTEGER NOT NULL DEFAULT 0,
    queued_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox INTEGER NOT NULL,
    mid BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    envelope BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_inbox ON messages (inbox, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_mid ON messages (inbox, mid);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (received_at);
CREATE TABLE IF NOT EXISTS prekeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox INTEGER NOT NULL,
    prekey BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS prekeys_by_inbox ON prekeys (inbox, id);
"""

INBOX_COLUMNS = "id, rid, sid, kind, owner_key, sender_key, queued_count, queued_bytes"


def _inbox_from_row(row: tuple[Any, ...] | None) -> Inbox | None:
    if row is None:
        return None
    return Inbox(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def _lock_data_dir(data_dir: Path) -> int:
    # Two relays on one data directory would keep separate in-memory totals and
    # subscriptions, so the second one must not start. The kernel drops the lock when
    # the process dies, even by SIGKILL.
    descriptor = os.open(data_dir / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise OSError(f"data directory {data_dir} is in use by another konsel-relay") from None
    return descriptor


def _prepare_database_file(data_dir: Path) -> Path:
    # Create the file with mode 0600 before SQLite opens it; SQLite then gives the -wal
    # and -shm files the same mode as the database file.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / DATABASE_NAME
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)
    return path


class SQLiteStore:
    """A :class:`~konsel.relay.storage.Store` backed by one SQLite file.

    Create it with :meth:`open`; the constructor only sets fields.
    """

    def __init__(self, path: Path, limits: QueueLimits, min_free_bytes: int) -> None:
        self.path = path
        self.limits = limits
        self.min_free_bytes = min_free_bytes
        self._jobs: queue.SimpleQueue[QueuedJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="relay-store", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._lock: int | None = None
        self._synchronous_full = True
        """Whether the worker's connection commits with an fsync; only the worker uses it."""

        # Totals, read by the event loop and written only by the worker thread.
        self._inbox_count = 0
        self._message_count = 0
        self._message_bytes = 0
        self._prekey_bytes = 0
        self._disk_checked_at = 0.0
        self._disk_full = False

        self.batches_committed = 0
        """Number of transactions committed; lets tests and benchmarks see batching."""

    @classmethod
    async def open(
        cls, data_dir: Path, limits: QueueLimits, *, min_free_bytes: int = 0
    ) -> SQLiteStore:
        """Open (or create) the database in ``data_dir`` and start the worker thread.

        Raises:
            OSError: the directory cannot be created, or another relay has it open.
        """
        path = _prepare_database_file(data_dir)
        lock = _lock_data_dir(data_dir)

        store = cls(path, limits, min_free_bytes)
        store._lock = lock
        store._loop = asyncio.get_running_loop()
        store._thread.start()
        await store._submit(store._initialize)
        return store

    # --- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._synchronous_full = True
            for batch in self._batches():
                # Jobs that need no fsync go first, in a transaction of their own, so an ACK
                # or a lookup does not wait for the fsync of the SENDs queued beside it. No
                # job of a batch has seen another's result yet, so either order is valid.
                relaxed = [item for item in batch if item[2] != DURABLE_WRITE]
                durable = [item for item in batch if item[2] == DURABLE_WRITE]
                if relaxed:
                    self._run_transaction(connection, relaxed, durable=False)
                if durable:
                    self._run_transaction(connection, durable, durable=True)
        finally:
            connection.close()

    def _batches(self) -> Iterator[list[QueuedJob]]:
        """Yield every job waiting at once, at most MAX_BATCH, until the stop marker."""
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def _run_transaction(
        self, connection: sqlite3.Connection, jobs: list[QueuedJob], *, durable: bool
    ) -> None:
        outcomes: list[Outcome] = []
        try:
            writes = any(kind != READ for _, _, kind in jobs)
            if writes and durable != self._synchronous_full:
                # The setting applies to the next commit and cannot change inside one.
                connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._synchronous_full = durable

            connection.execute("BEGIN IMMEDIATE")
            for job, future, kind in jobs:
                if kind == READ:
                    outcomes.append(_run_read(connection, job, future))
                else:
                    outcomes.append(_run_write(connection, job, future))
            connection.execute("COMMIT")
            self.batches_committed += 1
        except sqlite3.Error as commit_error:
            # Nothing of this transaction is stored, so every job fails, and the in-memory
            # totals are recounted from the rolled-back database.
            logger.error("storage commit failed: %s", commit_error)
            try:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                self._count_totals(connection)
            except sqlite3.Error as recount_error:
                logger.error("storage totals could not be recounted: %s", recount_error)
            failure = RelayError("INTERNAL", "storage write failed")
            outcomes = [(future, None, failure) for _, future, _ in jobs]

        # One wake-up of the event loop per transaction: each call_soon_threadsafe writes to
        # the loop's self-pipe, which costs more than most jobs themselves.
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle_all, outcomes)

    # --- submission --------------------------------------------------------------------------

    async def _submit(self, job: Callable[[sqlite3.Connection], T], kind: int = DURABLE_WRITE) -> T:
        if self._closed:
            raise RelayError("INTERNAL", "storage is closed")
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((job, future, kind))
        return await future

    async def close(self) -> None:
        """Finish every queued job, then stop the worker thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    # --- jobs (run on the worker thread) ------------------------------------------------

    def _initialize(self, connection: sqlite3.Connection) -> None:
        # DDL is transactional in SQLite, so the schema is created inside the batch.
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            if sidecar.exists():
                os.chmod(sidecar, 0o600)
        self._count_totals(connection)

    def _count_totals(self, connection: sqlite3.Connection) -> None:
        self._inbox_count = connection.execute("SELECT count(*) FROM inboxes").fetchone()[0]
        count, size = connection.execute(
            "SELECT count(*), coalesce(sum(length(envelope)), 0) FROM messages"
        ).fetchone()
        self._message_count, self._message_bytes = count, size
        self._prekey_bytes = connection.execute(
            "SELECT coalesce(sum(length(prekey)), 0) FROM prekeys"
        ).fetchone()[0]

    def _stored_bytes(self) -> int:
        return self._message_bytes + self._prekey_bytes + self._inbox_count * INBOX_ROW_BYTES

    def _check_capacity(self, extra_bytes: int) -> None:
        if self._stored_bytes() + extra_bytes > self.limits.max_storage_bytes:
            raise StorageFullError("the relay's storage cap is reached")

        now = time.monotonic()
        if self.min_free_bytes and now - self._disk_checked_at >= DISK_CHECK_INTERVAL:
            self._disk_checked_at = now
            self._disk_full = shutil.disk_usage(self.path.parent).free < self.min_free_bytes
        if self._disk_full:
            raise StorageFullError("the relay's disk is nearly full")

    def _queue_totals(self, connection: sqlite3.Connection, inbox_id: int) -> tuple[int, int]:
        row = connection.execute(
            "SELECT queued_count, queued_bytes FROM inboxes WHERE id = ?", (inbox_id,)
        ).fetchone()
        if row is None:
            raise RelayError("NOT_FOUND", "inbox not found")
        return int(row[0]), int(row[1])

    # --- Store interface ----------------------------------------------------------------

    async def create_inbox(self, kind: str, owner_key: bytes, now: int) -> Inbox:
        """Create an inbox with fresh random receive and send ids."""

        def job(connection: sqlite3.Connection) -> Inbox:
            self._check_capacity(INBOX_ROW_BYTES)
            receive_id = os.urandom(INBOX_ID_SIZE)
            send_id = os.urandom(INBOX_ID_SIZE)
            cursor = connection.execute(
                "INSERT INTO inboxes (rid, sid, kind, owner_key, created_at) VALUES (?, ?, ?, ?, ?)",
                (receive_id, send_id, kind, owner_key, now),
            )
            self._inbox_count += 1
            assert cursor.lastrowid is not None
            return Inbox(cursor.lastrowid, receive_id, send_id, kind, owner_key, None, 0, 0)

        return await self._submit(job)

    async def inbox_by_receive_id(self, receive_id: bytes) -> Inbox | None:
        """Look up an inbox by its receive id."""
        return await self._submit(
            lambda connection: _inbox_from_row(
                connection.execute(
                    f"SELECT {INBOX_COLUMNS} FROM inboxes WHERE rid = ?",  # noqa: S608 (constant)
                    (receive_id,),
                ).fetchone()
            ),
            READ,
        )

    async def inbox_by_send_id(self, send_id: bytes) -> Inbox | None:
        """Look up an inbox by its send id."""
        return await self._submit(
            lambda connection: _inbox_from_row(
                connection.execute(
                    f"SELECT {INBOX_COLUMNS} FROM inboxes WHERE sid = ?",  # noqa: S608 (constant)
                    (send_id,),
                ).fetchone()
            ),
            READ,
        )

    async def delete_inbox(self, inbox_id: int) -> None:
        """Delete an inbox with its messages and prekeys."""

        def job(connection: sqlite3.Connection) -> None:
            count, size = self._queue_totals(connection, inbox_id)
            prekey_bytes = connection.execute(
                "SELECT coalesce(sum(length(prekey)), 0) FROM prekeys WHERE inbox = ?",
                (inbox_id,),
            ).fetchone()[0]
            connection.execute("DELETE FROM messages WHERE inbox = ?", (inbox_id,))
            connection.execute("DELETE FROM prekeys WHERE inbox = ?", (inbox_id,))
            connection.execute("DELETE FROM inboxes WHERE id = ?", (inbox_id,))
            self._inbox_count -= 1
            self._message_count -= count
            self._message_bytes -= size
            self._prekey_bytes -= prekey_bytes

        await self._submit(job)

    async def set_sender_key(self, inbox_id: int, sender_key: bytes) -> None:
        """Store the only sender key allowed to write to the inbox."""
        await self._submit(
            lambda connection: connection.execute(
                "UPDATE inboxes SET sender_key = ? WHERE id = ?", (sender_key, inbox_id)
            )
        )

    async def append(self, inbox_id: int, envelope: bytes, now: int) -> StoredMessage:
        """Store an envelope durably and return it as stored, with its new random message id."""

        def job(connection: sqlite3.Connection) -> StoredMessage:
            count, size = self._queue_totals(connection, inbox_id)
            if count + 1 > self.limits.max_messages:
                raise QuotaExceededError(
                    f"inbox contains {count} messages, its maximum; acknowledge some first"
                )
            if size + len(envelope) > self.limits.max_bytes:
                raise QuotaExceededError(
                    f"inbox contains {size} bytes, and the quota is {self.limits.max_bytes}"
                )
            self._check_capacity(len(envelope))

            message_id = os.urandom(MESSAGE_ID_SIZE)
            cursor = connection.execute(
                "INSERT INTO messages (inbox, mid, received_at, envelope) VALUES (?, ?, ?, ?)",
                (inbox_id, message_id, now, envelope),
            )
            connection.execute(
                "UPDATE inboxes SET queued_count = queued_count + 1,"
                " queued_bytes = queued_bytes + ? WHERE id = ?",
                (len(envelope), inbox_id),
            )
            self._message_count += 1
            self._message_bytes += len(envelope)
            assert cursor.lastrowid is not None
            return StoredMessage(cursor.lastrowid, message_id, envelope, now)

        return await self._submit(job)

    async def read_queue(
        self, inbox_id: int, after_sequence: int, max_count: int, max_bytes: int
    ) -> list[StoredMessage]:
        """Read messages after ``after_sequence``, oldest first, within count and bytes."""

        def job(connection: sqlite3.Connection) -> list[StoredMessage]:
            rows = connection.execute(
                "SELECT seq, mid, envelope, received_at FROM messages"
                " WHERE inbox = ? AND seq > ? ORDER BY seq LIMIT ?",
                (inbox_id, after_sequence, max_count),
            )
            messages: list[StoredMessage] = []
            total = 0
            for sequence, message_id, envelope, received_at in rows:
                if messages and total + len(envelope) > max_bytes:
                    break
                messages.append(StoredMessage(sequence, message_id, envelope, received_at))
                total += len(envelope)
            return messages

        return await self._submit(job, READ)

    async def acknowledge(self, inbox_id: int, message_ids: tuple[bytes, ...]) -> int:
        """Delete the named messages of the inbox and return how many existed.

        The delete is committed without an fsync when its batch has no durable write (see
        the module docstring): losing it in a power failure only causes a redelivery.
        """
        if not message_ids:
            return 0
        # One statement for all ids: at most 256 ids (MAX_ACK_IDS) plus the inbox, below
        # SQLite's smallest default limit of bound parameters (999, before version 3.32).
        placeholders = ", ".join("?" * len(message_ids))
        statement = (
            f"DELETE FROM messages WHERE inbox = ? AND mid IN ({placeholders})"  # noqa: S608 (only placeholders)
            " RETURNING length(envelope)"
        )

        def job(connection: sqlite3.Connection) -> int:
            sizes = connection.execute(statement, (inbox_id, *message_ids)).fetchall()
            deleted = len(sizes)
            if deleted:
                deleted_bytes = sum(size for (size,) in sizes)
                connection.execute(
                    "UPDATE inboxes SET queued_count = queued_count - ?,"
                    " queued_bytes = queued_bytes - ? WHERE id = ?",
                    (deleted, deleted_bytes, inbox_id),
                )
                self._message_count -= deleted
                self._message_bytes -= deleted_bytes
            return deleted

        return await self._submit(job, RELAXED_WRITE)

    async def put_prekeys(
        self, inbox_id: int, bundle: bytes | None, one_time_prekeys: tuple[bytes, ...]
    ) -> int:
        """Store a new bundle (when given) and append one-time prekeys; return the count."""

        def job(connection: sqlite3.Connection) -> int:
            stored = self._count_prekeys(connection, inbox_id)
            if stored + len(one_time_prekeys) > self.limits.max_prekeys:
                raise QuotaExceededError(
                    f"inbox contains {stored} one-time prekeys, and the maximum is "
                    f"{self.limits.max_prekeys}"
                )
            added_bytes = sum(len(prekey) for prekey in one_time_prekeys)
            self._check_capacity(added_bytes + len(bundle or b""))

            if bundle is not None:
                connection.execute("UPDATE inboxes SET bundle = ? WHERE id = ?", (bundle, inbox_id))
            connection.executemany(
                "INSERT INTO prekeys (inbox, prekey) VALUES (?, ?)",
                [(inbox_id, prekey) for prekey in one_time_prekeys],
            )
            self._prekey_bytes += added_bytes
            return stored + len(one_time_prekeys)

        return await self._submit(job)

    async def pop_prekey(self, inbox_id: int) -> tuple[bytes, bytes | None] | None:
        """Return the bundle and remove one one-time prekey, atomically."""

        def job(connection: sqlite3.Connection) -> tuple[bytes, bytes | None] | None:
            row = connection.execute(
                "SELECT bundle FROM inboxes WHERE id = ?", (inbox_id,)
            ).fetchone()
            if row is None or row[0] is None:
                return None
            prekey_row = connection.execute(
                "DELETE FROM prekeys WHERE id = "
                "(SELECT id FROM prekeys WHERE inbox = ? ORDER BY id LIMIT 1) RETURNING prekey",
                (inbox_id,),
            ).fetchone()
            if prekey_row is None:
                return row[0], None
            self._prekey_bytes -= len(prekey_row[0])
            return row[0], prekey_row[0]

        return await self._submit(job)

    async def count_prekeys(self, inbox_id: int) -> int:
        """Return the number of one-time prekeys left."""
        return await self._submit(
            lambda connection: self._count_prekeys(connection, inbox_id), READ
        )

    @staticmethod
    def _count_prekeys(connection: sqlite3.Connection, inbox_id: int) -> int:
        row = connection.execute(
            "SELECT count(*) FROM prekeys WHERE inbox = ?", (inbox_id,)
        ).fetchone()
        return int(row[0])

    async def expire(self, older_than: int) -> int:
        """Delete messages received before ``older_than`` and return how many."""

        def job(connection: sqlite3.Connection) -> int:
            expired = connection.execute(
                "SELECT inbox, count(*), sum(length(envelope)) FROM messages"
                " WHERE received_at < ? GROUP BY inbox",
                (older_than,),
            ).fetchall()
            total = 0
            for inbox_id, count, size in expired:
                connection.execute(
                    "UPDATE inboxes SET queued_count = queued_count - ?,"
                    " queued_bytes = queued_bytes - ? WHERE id = ?",
                    (count, size, inbox_id),
                )
                self._message_count -= count
                self._message_bytes -= size
                total += count
            connection.execute("DELETE FROM messages WHERE received_at < ?", (older_than,))
            return total

        # Losing an expiry in a power failure only means the next sweep deletes again.
        return await self._submit(job, RELAXED_WRITE)

    async def totals(self) -> StorageTotals:
        """Return relay-wide totals from the counters kept by the worker thread."""
        return StorageTotals(self._inbox_count, self._message_count, self._message_bytes)


def _run_read(connection: sqlite3.Connection, job: Job, future: asyncio.Future[Any]) -> Outcome:
    # A read changes nothing, so it needs no savepoint to be undone.
    try:
        return future, job(connection), None
    except RelayError as error:
        return future, None, error
    except Exception as error:
        logger.error("storage read failed: %r", error)
        if not connection.in_transaction:
            # SQLite rolled the whole transaction back (disk I/O error, out of memory), so
            # the batch must fail as a whole, as a failed savepoint rollback makes it.
            raise sqlite3.OperationalError("the transaction was rolled back") from error
        return future, None, RelayError("INTERNAL", "storage failed")


def _run_write(connection: sqlite3.Connection, job: Job, future: asyncio.Future[Any]) -> Outcome:
    connection.execute("SAVEPOINT job")
    try:
        result = job(connection)
    except RelayError as error:
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")
        return future, None, error
    except Exception as error:
        # Any other failure ends only this job, so the worker thread survives and every
        # other future still gets its result.
        logger.error("storage operation failed: %r", error)
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")
        return future, None, RelayError("INTERNAL", "storage failed")
    connection.execute("RELEASE job")
    return future, result, None


def _settle_all(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
