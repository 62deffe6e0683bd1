"""The storage interface the relay's connection code depends on, and its records.

A backend stores inboxes, queued envelopes and prekeys. Every method that changes state
returns only after the change is durable, so the relay can confirm a SEND once the call
returns. The exceptions are :meth:`Store.acknowledge` and :meth:`Store.expire`, whose loss
in a power failure only brings messages back for another delivery. The SQLite backend in :mod:`.sqlite_store` is the default; another backend only
has to implement :class:`Store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import RelayError


class QuotaExceededError(RelayError):
    """An inbox is at its message count or byte quota, or its prekey cap."""

    def __init__(self, message: str) -> None:
        super().__init__("QUOTA_EXCEEDED", message)


class StorageFullError(RelayError):
    """The relay-wide storage cap or the disk's free-space floor is reached."""

    def __init__(self, message: str) -> None:
        super().__init__("STORAGE_FULL", message)


@dataclass(frozen=True)
class Inbox:
    """One inbox as stored: its ids, kind, keys and queue totals."""

    inbox_id: int
    """Backend-internal row id; never sent to clients."""
    receive_id: bytes
    send_id: bytes
    kind: str
    owner_key: bytes
    sender_key: bytes | None
    queued_count: int
    queued_bytes: int


@dataclass(frozen=True)
class StoredMessage:
    """One queued envelope; ``sequence`` orders the messages of an inbox, oldest first."""

    sequence: int
    message_id: bytes
    envelope: bytes
    received_at: int


@dataclass(frozen=True)
class StorageTotals:
    """Relay-wide totals, used by the metrics endpoint."""

    inboxes: int
    messages: int
    message_bytes: int


@dataclass(frozen=True)
class QueueLimits:
    """Per-inbox quotas and the relay-wide cap that every write is checked against."""

    max_messages: int
    max_bytes: int
    max_prekeys: int
    max_storage_bytes: int


class Store(Protocol):
    """Durable storage of inboxes, envelopes and prekeys."""

    async def create_inbox(self, kind: str, owner_key: bytes, now: int) -> Inbox:
        """Create an inbox with fresh random receive and send ids.

        Raises:
            StorageFullError: the relay-wide cap is reached.
        """
        ...

    async def inbox_by_receive_id(self, receive_id: bytes) -> Inbox | None:
        """Look up an inbox by its receive id."""
        ...

    async def inbox_by_send_id(self, send_id: bytes) -> Inbox | None:
        """Look up an inbox by its send id."""
        ...

    async def delete_inbox(self, inbox_id: int) -> None:
        """Delete an inbox with its messages and prekeys."""
        ...

    async def set_sender_key(self, inbox_id: int, sender_key: bytes) -> None:
        """Store the only sender key allowed to write to the inbox."""
        ...

    async def append(self, inbox_id: int, envelope: bytes, now: int) -> StoredMessage:
        """Store an envelope durably and return it as stored, with its new random message id.

        The connection pushes the returned message to a live subscriber from memory, so
        its ``sequence`` must order it among the inbox's messages as :meth:`read_queue` does.

        Calls made in one order on the event loop must be stored in that order, because
        the connection pipelines SENDs and promises per-connection ordering. The SQLite
        backend meets this by queueing the job before its first ``await``.

        Raises:
            QuotaExceededError: the inbox is full.
            StorageFullError: the relay-wide cap is reached.
        """
        ...

    async def read_queue(
        self, inbox_id: int, after_sequence: int, max_count: int, max_bytes: int
    ) -> list[StoredMessage]:
        """Read messages after ``after_sequence``, oldest first, within count and bytes.

        The first message is returned even when it alone exceeds ``max_bytes``, so a large
        message cannot stall its inbox.
        """
        ...

    async def acknowledge(self, inbox_id: int, message_ids: tuple[bytes, ...]) -> int:
        """Delete the named messages of the inbox and return how many existed.

        Unlike the other writes, a delete may be lost in a power failure after it returns,
        because a lost delete only causes a redelivery with the same message id. It must
        survive the relay process being killed.
        """
        ...

    async def put_prekeys(
        self, inbox_id: int, bundle: bytes | None, one_time_prekeys: tuple[bytes, ...]
    ) -> int:
        """Store a new bundle (when given) and append one-time prekeys; return the count.

        Raises:
            QuotaExceededError: the inbox would hold more one-time prekeys than allowed.
            StorageFullError: the relay-wide cap is reached.
        """
        ...

    async def pop_prekey(self, inbox_id: int) -> tuple[bytes, bytes | None] | None:
        """Return the bundle and remove one one-time prekey, atomically.

        Returns ``None`` when the inbox has no bundle, and ``(bundle, None)`` when no
        one-time prekey is left. No one-time prekey is ever returned twice.
        """
        ...

    async def count_prekeys(self, inbox_id: int) -> int:
        """Return the number of one-time prekeys left."""
        ...

    async def expire(self, older_than: int) -> int:
        """Delete messages received before ``older_than`` and return how many."""
        ...

    async def totals(self) -> StorageTotals:
        """Return relay-wide totals."""
        ...

    async def close(self) -> None:
        """Finish pending writes and close the backend; safe to call twice."""
        ...
