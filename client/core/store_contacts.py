"""Contacts, their conversations, the ratchet session state and key changes per contact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from konsel.protocol.relay_wire import Delivery

from .errors import RecordNotFound
from .store_base import StoreBase, inserted_id
from .store_connection import serialized


@dataclass(frozen=True)
class Contact:
    """A person this user talks to, with the inbox ids their messages come from."""

    id: int
    display_name: str
    role: str
    identity_key: bytes
    verified: bool
    inbox_ids: tuple[bytes, ...]


class ContactBook(StoreBase):
    """Contact, conversation and ratchet-session operations of the store."""

    @serialized
    def add_contact(
        self,
        display_name: str,
        role: str,
        identity_key: bytes,
        inbox_ids: Iterable[bytes] = (),
        *,
        verified: bool = False,
    ) -> Contact:
        """Add a contact with its identity key (32 bytes) and inbox ids."""
        with self._write():
            cursor = self.db.execute(
                "INSERT INTO contacts (display_name, role, identity_key, verified, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [display_name, role, bytes(identity_key), int(verified), self._clock()],
            )
            contact_id = inserted_id(cursor)
            self._replace_inboxes(contact_id, inbox_ids)
        return self._contact(contact_id)

    @serialized
    def get_contact(self, contact_id: int) -> Contact:
        """Return one contact.

        Raises:
            RecordNotFound: no contact has this id.
        """
        return self._contact(contact_id)

    @serialized
    def list_contacts(self) -> list[Contact]:
        """Return every contact, ordered by display name."""
        rows = self.db.execute("SELECT id FROM contacts ORDER BY display_name, id").fetchall()
        return [self._contact(row[0]) for row in rows]

    @serialized
    def find_contact_by_inbox(self, inbox_id: bytes) -> Contact | None:
        """Return the contact that owns an inbox id, or None."""
        row = self.db.execute(
            "SELECT contact_id FROM contact_inboxes WHERE inbox_id = ?", [bytes(inbox_id)]
        ).fetchone()
        return None if row is None else self._contact(row[0])

    @serialized
    def update_contact(
        self,
        contact_id: int,
        *,
        display_name: str | None = None,
        verified: bool | None = None,
        inbox_ids: Iterable[bytes] | None = None,
    ) -> Contact:
        """Change a contact's name, verified flag or inbox ids; None leaves a field as is."""
        self._contact(contact_id)
        with self._write():
            if display_name is not None:
                self.db.execute(
                    "UPDATE contacts SET display_name = ? WHERE id = ?", [display_name, contact_id]
                )
            if verified is not None:
                self.db.execute(
                    "UPDATE contacts SET verified = ? WHERE id = ?", [int(verified), contact_id]
                )
            if inbox_ids is not None:
                self._replace_inboxes(contact_id, inbox_ids)
        return self._contact(contact_id)

    @serialized
    def replace_identity_key(self, contact_id: int, identity_key: bytes) -> Contact:
        """Store a contact's new identity key (32 bytes) and clear its verified mark.

        The old safety code no longer applies, so both change in one transaction.
        """
        if len(identity_key) != 32:
            raise ValueError(f"identity_key must be 32 bytes, got {len(identity_key)}")
        self._contact(contact_id)
        with self._write():
            self.db.execute(
                "UPDATE contacts SET identity_key = ?, verified = 0 WHERE id = ?",
                [bytes(identity_key), contact_id],
            )
        return self._contact(contact_id)

    @serialized
    def delete_contact(self, contact_id: int) -> None:
        """Delete a contact with its conversation, messages, session and records."""
        self._contact(contact_id)
        with self._write():
            self.db.execute("DELETE FROM contacts WHERE id = ?", [contact_id])

    @serialized
    def conversation_for_contact(self, contact_id: int) -> int:
        """Return the id of the contact's conversation, creating it on first use."""
        self._contact(contact_id)
        with self._write():
            self.db.execute(
                "INSERT OR IGNORE INTO conversations (contact_id, created_at) VALUES (?, ?)",
                [contact_id, self._clock()],
            )
        row = self.db.execute(
            "SELECT id FROM conversations WHERE contact_id = ?", [contact_id]
        ).fetchone()
        return int(row[0])

    @serialized
    def get_session_state(self, contact_id: int) -> bytes | None:
        """Return the serialized ratchet session with a contact, or None."""
        row = self.db.execute(
            "SELECT state FROM ratchet_sessions WHERE contact_id = ?", [contact_id]
        ).fetchone()
        return None if row is None else bytes(row[0])

    @serialized
    def put_session_state(self, contact_id: int, state: bytes) -> None:
        """Store a ratchet session with no message, as after a handshake."""
        self._contact(contact_id)
        with self._write():
            self._put_session(contact_id, state)

    @serialized
    def hold_delivery(
        self, contact_id: int, delivery: Delivery, identity_key: bytes | None = None
    ) -> bool:
        """Hold a delivery of a contact whose identity key changed; return whether the hold is new.

        The first call for a contact needs the new ``identity_key`` (32 bytes). It
        records the key change and clears the contact's verified mark in the same
        transaction as the delivery. A delivery already held (same message id) is kept
        once.

        Raises:
            RecordNotFound: no contact has this id.
            ValueError: no key change is recorded yet and ``identity_key`` is missing.
        """
        self._contact(contact_id)
        with self._write():
            new = self._held_key(contact_id) is None
            if new:
                if identity_key is None or len(identity_key) != 32:
                    raise ValueError("a new key change needs the 32-byte identity key")
                self.db.execute(
                    "INSERT INTO key_changes (contact_id, identity_key, detected_at) "
                    "VALUES (?, ?, ?)",
                    [contact_id, bytes(identity_key), self._clock()],
                )
                self.db.execute("UPDATE contacts SET verified = 0 WHERE id = ?", [contact_id])
            self.db.execute(
                "INSERT OR IGNORE INTO held_deliveries "
                "(contact_id, receive_id, message_id, envelope, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    contact_id,
                    bytes(delivery.receive_id),
                    bytes(delivery.message_id),
                    bytes(delivery.envelope),
                    delivery.received_at,
                ],
            )
        return new

    @serialized
    def held_deliveries(self) -> dict[int, list[Delivery]]:
        """Return the held deliveries of every contact with a key change, in arrival order."""
        held: dict[int, list[Delivery]] = {}
        for (contact_id,) in self.db.execute("SELECT contact_id FROM key_changes ORDER BY 1"):
            held[contact_id] = []
        rows = self.db.execute(
            "SELECT contact_id, receive_id, message_id, envelope, received_at "
            "FROM held_deliveries ORDER BY id"
        ).fetchall()
        for contact_id, receive_id, message_id, envelope, received_at in rows:
            held[contact_id].append(
                Delivery(bytes(receive_id), bytes(message_id), bytes(envelope), received_at)
            )
        return held

    @serialized
    def confirm_key_change(self, contact_id: int) -> Contact:
        """Store the held new identity key of a contact and end the hold, in one transaction.

        The contact stays unverified, and its held deliveries are deleted from the store:
        the caller processes them, and the relay still has every one it did not process.

        Raises:
            RecordNotFound: the contact has no key change.
        """
        identity_key = self._held_key(contact_id)
        if identity_key is None:
            raise RecordNotFound("key change", contact_id)
        with self._write():
            self.db.execute(
                "UPDATE contacts SET identity_key = ?, verified = 0 WHERE id = ?",
                [identity_key, contact_id],
            )
            self.db.execute("DELETE FROM key_changes WHERE contact_id = ?", [contact_id])
        return self._contact(contact_id)

    @serialized
    def held_identity_key(self, contact_id: int) -> bytes | None:
        """Return the new identity key of a contact's held key change, or None."""
        return self._held_key(contact_id)

    def _held_key(self, contact_id: int) -> bytes | None:
        row = self.db.execute(
            "SELECT identity_key FROM key_changes WHERE contact_id = ?", [contact_id]
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _contact(self, contact_id: int) -> Contact:
        row = self.db.execute(
            "SELECT id, display_name, role, identity_key, verified FROM contacts WHERE id = ?",
            [contact_id],
        ).fetchone()
        if row is None:
            raise RecordNotFound("contact", contact_id)
        inboxes = self.db.execute(
            "SELECT inbox_id FROM contact_inboxes WHERE contact_id = ? ORDER BY inbox_id",
            [contact_id],
        ).fetchall()
        return Contact(
            id=row[0],
            display_name=row[1],
            role=row[2],
            identity_key=bytes(row[3]),
            verified=bool(row[4]),
            inbox_ids=tuple(bytes(inbox[0]) for inbox in inboxes),
        )

    def _replace_inboxes(self, contact_id: int, inbox_ids: Iterable[bytes]) -> None:
        self.db.execute("DELETE FROM contact_inboxes WHERE contact_id = ?", [contact_id])
        for inbox_id in inbox_ids:
            self.db.execute(
                "INSERT INTO contact_inboxes (inbox_id, contact_id) VALUES (?, ?)",
                [bytes(inbox_id), contact_id],
            )

    def _put_session(self, contact_id: int, state: bytes) -> None:
        self.db.execute(
            "INSERT INTO ratchet_sessions (contact_id, state, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            [contact_id, bytes(state), self._clock()],
        )

    def _conversation_contact(self, conversation_id: int) -> int:
        row = self.db.execute(
            "SELECT contact_id FROM conversations WHERE id = ?", [conversation_id]
        ).fetchone()
        if row is None:
            raise RecordNotFound("conversation", conversation_id)
        return int(row[0])
