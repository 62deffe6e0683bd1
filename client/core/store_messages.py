"""Messages, the outbox of unsent envelopes, history windows and full-text search.

Messages are shown in ``local_order``: a number the store assigns on arrival or creation
that only grows. The sender's clock (``sent_at``) is kept for display but never orders.
A message, its outbox row and the ratchet state after it are written in one transaction,
so they are either all stored or none is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import DuplicateMessage, RecordNotFound
from .store_base import inserted_id
from .store_connection import serialized
from .store_contacts import ContactBook

CONTENT_ID_SIZE = 16
DEFAULT_WINDOW = 50

# Status moves only forward along this rank, so a late "sent" cannot undo a "read".
_STATUS_RANK = {"waiting": 0, "sent": 1, "delivered": 2, "read": 3}


@dataclass(frozen=True)
class MessageFields:
    """The fields of one message that the sync engine passes in to store it.

    ``content_id`` (16 bytes) identifies the message end to end and is unique per
    conversation. ``envelope_id`` is the relay's or the envelope's message id and is unique
    in the whole store, so a copy is recognized before decryption. ``sent_at`` is the sender's
    clock in Unix milliseconds.
    """

    content_id: bytes
    envelope_id: bytes
    body: str
    sender_seq: int | None = None
    sent_at: int | None = None

    def __post_init__(self) -> None:
        if len(self.content_id) != CONTENT_ID_SIZE:
            raise ValueError(
                f"content_id is {len(self.content_id)} bytes, expected {CONTENT_ID_SIZE}"
            )
        if not self.envelope_id:
            raise ValueError("envelope_id is empty")


@dataclass(frozen=True)
class StoredMessage:
    """A message row as the UI shows it."""

    order: int
    conversation_id: int
    direction: str
    content_id: bytes
    envelope_id: bytes
    sender_seq: int | None
    body: str
    status: str
    sent_at: int | None
    received_at: int | None


@dataclass(frozen=True)
class OutboxItem:
    """An encrypted envelope waiting to be sent to the relay."""

    id: int
    message_order: int
    destination: bytes
    envelope: bytes
    attempts: int
    created_at: int
    sender_seq: int | None = None
    """The message's ``seq``, so the sender can order texts and control messages."""


_MESSAGE_COLUMNS = (
    "m.local_order, m.conversation_id, m.direction, m.content_id, m.envelope_id, "
    "m.sender_seq, m.body, m.status, m.sent_at, m.received_at"
)

# The queries below splice in only the fixed column list above, never caller input.
_SELECT_MESSAGE = f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m WHERE m.local_order = ?"  # noqa: S608
_SELECT_BY_CONTENT_ID = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m "  # noqa: S608
    "WHERE m.conversation_id = ? AND m.content_id = ?"
)
_SELECT_WINDOW = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m "  # noqa: S608
    "WHERE m.conversation_id = ? AND m.local_order < ? ORDER BY m.local_order DESC LIMIT ?"
)
# The full-text table drives the loop, newest match first, so LIMIT stops the scan early
# instead of ranking every match.
_SELECT_SEARCH = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages_fts AS f "  # noqa: S608
    "JOIN messages AS m ON m.local_order = f.rowid "
    "WHERE messages_fts MATCH ? AND (? IS NULL OR m.conversation_id = ?) "
    "ORDER BY f.rowid DESC LIMIT ?"
)


def _message(row: Iterable[Any]) -> StoredMessage:
    return StoredMessage(*row)


class MessageLog(ContactBook):
    """Message, outbox, window and search operations of the store."""

    @serialized
    def is_duplicate(self, envelope_id: bytes) -> bool:
        """Return whether a message with this envelope id is already stored."""
        row = self.db.execute(
            "SELECT 1 FROM messages WHERE envelope_id = ?", [bytes(envelope_id)]
        ).fetchone()
        return row is not None

    @serialized
    def record_incoming(
        self, conversation_id: int, fields: MessageFields, session_state: bytes
    ) -> StoredMessage:
        """Store a decrypted message and the ratchet state after it in one transaction.

        Raises:
            DuplicateMessage: the envelope id or the content id is already stored; the
                session state is left as it was.
            RecordNotFound: the conversation does not exist.
        """
        contact_id = self._conversation_contact(conversation_id)
        with self._write(), self._duplicates_as(conversation_id):
            self._put_session(contact_id, session_state)
            order = self._insert_message(conversation_id, "in", fields, "delivered")
        return self._message_by_order(order)

    @serialized
    def record_outgoing(
        self,
        conversation_id: int,
        fields: MessageFields,
        envelope: bytes,
        session_state: bytes,
        *,
        destination: bytes,
    ) -> StoredMessage:
        """Store a new outgoing message, its outbox envelope and the ratchet state at once.

        ``destination`` is the recipient's inbox id that the envelope is addressed to.

        Raises:
            DuplicateMessage: the envelope id or the content id is already stored.
            RecordNotFound: the conversation does not exist.
        """
        contact_id = self._conversation_contact(conversation_id)
        with self._write(), self._duplicates_as(conversation_id):
            self._put_session(contact_id, session_state)
            order = self._insert_message(conversation_id, "out", fields, "waiting")
            self.db.execute(
                "INSERT INTO outbox (message_order, destination, envelope, created_at) "
                "VALUES (?, ?, ?, ?)",
                [order, bytes(destination), bytes(envelope), self._clock()],
            )
        return self._message_by_order(order)

    def _insert_message(
        self, conversation_id: int, direction: str, fields: MessageFields, status: str
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO messages (conversation_id, direction, content_id, envelope_id, "
            "sender_seq, body, status, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                conversation_id,
                direction,
                bytes(fields.content_id),
                bytes(fields.envelope_id),
                fields.sender_seq,
                fields.body,
                status,
                fields.sent_at,
                self._clock() if direction == "in" else None,
            ],
        )
        return inserted_id(cursor)

    @serialized
    def pending_outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Return up to ``limit`` unsent envelopes, oldest first."""
        rows = self.db.execute(
            "SELECT o.id, o.message_order, o.destination, o.envelope, o.attempts, o.created_at, "
            "m.sender_seq FROM outbox AS o JOIN messages AS m ON m.local_order = o.message_order "
            "ORDER BY o.id LIMIT ?",
            [limit],
        ).fetchall()
        return [
            OutboxItem(row[0], row[1], bytes(row[2]), bytes(row[3]), row[4], row[5], row[6])
            for row in rows
        ]

    @serialized
    def outbox_count(self) -> int:
        """Return the number of envelopes waiting in the outbox."""
        row = self.db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    @serialized
    def record_send_attempt(self, outbox_id: int) -> None:
        """Count one failed or unanswered send of an outbox envelope."""
        with self._write():
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?",
                [self._clock(), outbox_id],
            )

    @serialized
    def mark_sent(self, order: int) -> None:
        """Mark a message as accepted by the relay and drop its outbox envelope."""
        with self._write():
            self._advance_status(order, "sent")
            self.db.execute("DELETE FROM outbox WHERE message_order = ?", [order])

    @serialized
    def mark_outbox_sent(self, outbox_id: int) -> bool:
        """Mark the message of one outbox envelope as sent and drop that envelope.

        Returns False and changes nothing when the envelope is gone, for example because
        :meth:`requeue_outgoing` replaced it while its send was in flight.
        """
        with self._write():
            row = self.db.execute(
                "SELECT message_order FROM outbox WHERE id = ?", [outbox_id]
            ).fetchone()
            if row is None:
                return False
            self._advance_status(row[0], "sent")
            self.db.execute("DELETE FROM outbox WHERE id = ?", [outbox_id])
        return True

    @serialized
    def undelivered_outgoing(self, conversation_id: int) -> list[StoredMessage]:
        """Return this user's messages that are waiting or sent, in display order."""
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m "  # noqa: S608
            "WHERE m.conversation_id = ? AND m.direction = 'out' "
            "AND m.status IN ('waiting', 'sent') ORDER BY m.local_order",
            [conversation_id],
        ).fetchall()
        return [_message(row) for row in rows]

    @serialized
    def requeue_outgoing(
        self,
        conversation_id: int,
        envelopes: list[tuple[int, bytes, bytes]],
        session_state: bytes,
        *,
        destination: bytes,
    ) -> None:
        """Replace the envelopes of own messages and queue them again, with the session.

        ``envelopes`` holds (message order, new envelope id, new envelope) in the order
        to send. Each message goes back to ``waiting``, its old outbox envelope is
        dropped, and the ratchet state after the new envelopes is stored in the same
        transaction.

        Raises:
            DuplicateMessage: a new envelope id is already stored.
            RecordNotFound: the conversation does not exist.
        """
        contact_id = self._conversation_contact(conversation_id)
        with self._write(), self._duplicates_as(conversation_id):
            self._put_session(contact_id, session_state)
            for order, envelope_id, envelope in envelopes:
                self.db.execute(
                    "UPDATE messages SET envelope_id = ?, status = 'waiting' "
                    "WHERE local_order = ? AND conversation_id = ? AND direction = 'out'",
                    [bytes(envelope_id), order, conversation_id],
                )
                self.db.execute("DELETE FROM outbox WHERE message_order = ?", [order])
                self.db.execute(
                    "INSERT INTO outbox (message_order, destination, envelope, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [order, bytes(destination), bytes(envelope), self._clock()],
                )

    @serialized
    def mark_delivered(self, order: int) -> None:
        """Mark a message as delivered to the recipient's device."""
        with self._write():
            self._advance_status(order, "delivered")

    @serialized
    def mark_read(self, order: int) -> None:
        """Mark a message as read."""
        with self._write():
            self._advance_status(order, "read")

    @serialized
    def unread_counts(self) -> dict[int, int]:
        """Return the number of received, unread messages per contact id."""
        rows = self.db.execute(
            "SELECT c.contact_id, COUNT(*) FROM messages AS m "
            "JOIN conversations AS c ON c.id = m.conversation_id "
            "WHERE m.direction = 'in' AND m.status != 'read' GROUP BY c.contact_id"
        ).fetchall()
        return {int(contact_id): int(count) for contact_id, count in rows}

    @serialized
    def mark_failed(self, order: int) -> None:
        """Give up on an unsent message: status failed, outbox envelope dropped."""
        with self._write():
            self.db.execute(
                "UPDATE messages SET status = 'failed' WHERE local_order = ? AND status = 'waiting'",
                [order],
            )
            self.db.execute("DELETE FROM outbox WHERE message_order = ?", [order])

    def _advance_status(self, order: int, status: str) -> None:
        row = self.db.execute(
            "SELECT status FROM messages WHERE local_order = ?", [order]
        ).fetchone()
        if row is None:
            raise RecordNotFound("message", order)
        if _STATUS_RANK.get(row[0], len(_STATUS_RANK)) < _STATUS_RANK[status]:
            self.db.execute("UPDATE messages SET status = ? WHERE local_order = ?", [status, order])

    @serialized
    def get_message(self, order: int) -> StoredMessage:
        """Return one message by its local order number.

        Raises:
            RecordNotFound: no message has this number.
        """
        return self._message_by_order(order)

    def _message_by_order(self, order: int) -> StoredMessage:
        row = self.db.execute(_SELECT_MESSAGE, [order]).fetchone()
        if row is None:
            raise RecordNotFound("message", order)
        return _message(row)

    @serialized
    def find_message(self, conversation_id: int, content_id: bytes) -> StoredMessage | None:
        """Return the message with this content id in a conversation, or None."""
        row = self.db.execute(
            _SELECT_BY_CONTENT_ID, [conversation_id, bytes(content_id)]
        ).fetchone()
        return None if row is None else _message(row)

    @serialized
    def max_outgoing_seq(self, conversation_id: int) -> int:
        """Return the highest ``sender_seq`` of this user's messages in a conversation, or 0."""
        row = self.db.execute(
            "SELECT max(sender_seq) FROM messages WHERE conversation_id = ? AND direction = 'out'",
            [conversation_id],
        ).fetchone()
        return int(row[0] or 0)

    @serialized
    def max_incoming_seq(self, conversation_id: int) -> int:
        """Return the highest ``sender_seq`` of the contact's messages in a conversation, or 0."""
        row = self.db.execute(
            "SELECT max(sender_seq) FROM messages WHERE conversation_id = ? AND direction = 'in'",
            [conversation_id],
        ).fetchone()
        return int(row[0] or 0)

    @serialized
    def load_window(
        self, conversation_id: int, before_order: int | None = None, limit: int = DEFAULT_WINDOW
    ) -> list[StoredMessage]:
        """Return up to ``limit`` messages in display order, oldest first.

        Without ``before_order`` the window is the newest messages; with it, the messages
        just before that order number, for paging back through history.
        """
        upper = before_order if before_order is not None else 2**63 - 1
        rows = self.db.execute(_SELECT_WINDOW, [conversation_id, upper, limit]).fetchall()
        return [_message(row) for row in reversed(rows)]

    @serialized
    def search(
        self, text: str, limit: int = DEFAULT_WINDOW, conversation_id: int | None = None
    ) -> list[StoredMessage]:
        """Return messages that contain every word of ``text``, newest first.

        Words are matched whole, ignoring case and diacritics; FTS5 query syntax in
        ``text`` is treated as plain words.
        """
        query = fts_query(text)
        if not query:
            return []

        parameters = [query, conversation_id, conversation_id, limit]
        rows = self.db.execute(_SELECT_SEARCH, parameters).fetchall()
        return [_message(row) for row in rows]

    def _duplicates_as(self, conversation_id: int) -> Any:
        return _DuplicateGuard(self._integrity_error, conversation_id)


def fts_query(text: str) -> str:
    """Build an FTS5 query that matches every word of ``text``, each quoted as a string."""
    words = re.findall(r"\w+", text)
    return " ".join(f'"{word}"' for word in words)


class _DuplicateGuard:
    """Turn a UNIQUE violation on a message into :class:`DuplicateMessage`."""

    def __init__(self, integrity_error: type[BaseException], conversation_id: int) -> None:
        self._integrity_error = integrity_error
        self._conversation_id = conversation_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc is not None and isinstance(exc, self._integrity_error):
            message = str(exc)
            if "messages.envelope_id" in message or "messages.content_id" in message:
                raise DuplicateMessage(self._conversation_id) from exc
