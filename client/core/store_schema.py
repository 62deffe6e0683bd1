"""The store's schema as an ordered list of migrations, and the code that applies them.

``PRAGMA user_version`` is the number of migrations applied. Opening a store applies the
missing ones in order, each in its own transaction together with the new version number,
so a crash leaves the database at the last whole version. A database whose version is
above :data:`SCHEMA_VERSION` was written by a newer program and is not touched.

Times are integer milliseconds since the Unix epoch. Tables are STRICT, so a wrong type
from a caller fails at insert instead of being stored as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import SchemaTooNew

MESSAGE_STATUSES = ("waiting", "sent", "delivered", "read", "failed")
KOPASTA_STAGES = ("pengantaran", "penjajagan", "penafsiran", "pembinaan", "penilaian")
EVALUATION_KINDS = ("laiseg", "laijapen", "laijapang")
FOLLOW_UP_KINDS = ("laijapen", "laijapang")


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


@dataclass(frozen=True)
class Migration:
    """The statements that move the schema from ``version - 1`` to ``version``."""

    version: int
    statements: tuple[str, ...]


_VERSION_1 = Migration(
    1,
    (
        # Own identity and prekey state, as opaque bytes from the protocol package.
        """CREATE TABLE own_state (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('counselor', 'student')),
            identity_key BLOB NOT NULL UNIQUE CHECK (length(identity_key) = 32),
            verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
            created_at INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE contact_inboxes (
            inbox_id BLOB PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE
        ) STRICT""",
        "CREATE INDEX contact_inboxes_contact ON contact_inboxes (contact_id)",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL UNIQUE REFERENCES contacts (id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE ratchet_sessions (
            contact_id INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
            state BLOB NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT""",
        # local_order is the rowid: AUTOINCREMENT never reuses a number, so it only grows
        # and is the display order, whatever time the sender's clock gave.
        f"""CREATE TABLE messages (
            local_order INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            content_id BLOB NOT NULL CHECK (length(content_id) = 16),
            envelope_id BLOB NOT NULL UNIQUE,
            sender_seq INTEGER,
            body TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ({_choices(MESSAGE_STATUSES)})),
            sent_at INTEGER,
            received_at INTEGER,
            UNIQUE (conversation_id, content_id)
        ) STRICT""",
        "CREATE INDEX messages_window ON messages (conversation_id, local_order)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_order INTEGER NOT NULL UNIQUE
                REFERENCES messages (local_order) ON DELETE CASCADE,
            destination BLOB NOT NULL,
            envelope BLOB NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            last_attempt_at INTEGER
        ) STRICT""",
        # Full-text index over message bodies, kept in step with messages by triggers.
        """CREATE VIRTUAL TABLE messages_fts USING fts5 (
            body,
            content = 'messages',
            content_rowid = 'local_order',
            tokenize = 'unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, body) VALUES (new.local_order, new.body);
        END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, body)
                VALUES ('delete', old.local_order, old.body);
        END""",
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, body)
                VALUES ('delete', old.local_order, old.body);
            INSERT INTO messages_fts (rowid, body) VALUES (new.local_order, new.body);
        END""",
        # Counseling records (KOPASTA stages, LAISEG / LAIJAPEN / LAIJAPANG).
        f"""CREATE TABLE counseling_sessions (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            stage TEXT NOT NULL CHECK (stage IN ({_choices(KOPASTA_STAGES)}))
        ) STRICT""",
        f"""CREATE TABLE stage_changes (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            stage TEXT NOT NULL CHECK (stage IN ({_choices(KOPASTA_STAGES)})),
            changed_at INTEGER NOT NULL
        ) STRICT""",
        f"""CREATE TABLE session_notes (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            stage TEXT NOT NULL CHECK (stage IN ({_choices(KOPASTA_STAGES)})),
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT""",
        f"""CREATE TABLE session_fields (
            session_id INTEGER NOT NULL REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            stage TEXT NOT NULL CHECK (stage IN ({_choices(KOPASTA_STAGES)})),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (session_id, stage, key)
        ) STRICT""",
        """CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            session_id INTEGER REFERENCES counseling_sessions (id) ON DELETE SET NULL,
            kind TEXT NOT NULL,
            consent_text TEXT NOT NULL,
            granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
            recorded_at INTEGER NOT NULL
        ) STRICT""",
        f"""CREATE TABLE evaluations (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ({_choices(EVALUATION_KINDS)})),
            answers TEXT NOT NULL CHECK (json_valid(answers)),
            recorded_at INTEGER NOT NULL
        ) STRICT""",
        f"""CREATE TABLE follow_ups (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ({_choices(FOLLOW_UP_KINDS)})),
            due_at INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            done_at INTEGER
        ) STRICT""",
        "CREATE INDEX follow_ups_due ON follow_ups (done_at, due_at)",
    ),
)

_VERSION_2 = Migration(
    2,
    (
        # The consent text version the konseli accepted, as the protocol's Consent message
        # carries it. Rows recorded at version 1 keep NULL because their version is unknown.
        "ALTER TABLE consents ADD COLUMN text_version TEXT",
        # Reports list the sessions that started in a time range.
        "CREATE INDEX counseling_sessions_started ON counseling_sessions (started_at, id)",
    ),
)

_VERSION_3 = Migration(
    3,
    (
        # The 16-byte id that the protocol's session start and end messages carry, for
        # each counseling session a counselor started through the engine. A konseli's
        # evaluation names its session by this id.
        """CREATE TABLE session_content_ids (
            session_id INTEGER PRIMARY KEY
                REFERENCES counseling_sessions (id) ON DELETE CASCADE,
            content_session_id BLOB NOT NULL UNIQUE CHECK (length(content_session_id) = 16)
        ) STRICT""",
    ),
)

_VERSION_4 = Migration(
    4,
    (
        # A contact whose identity key changed, with the new key, until the user confirms
        # it. The contact's verified mark is cleared in the same transaction.
        """CREATE TABLE key_changes (
            contact_id INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
            identity_key BLOB NOT NULL CHECK (length(identity_key) = 32),
            detected_at INTEGER NOT NULL
        ) STRICT""",
        # Deliveries from that contact held unacknowledged on the relay, in arrival order
        # (the rowid), so they can be processed after a restart even before the relay
        # pushes them again.
        """CREATE TABLE held_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            contact_id INTEGER NOT NULL REFERENCES key_changes (contact_id) ON DELETE CASCADE,
            receive_id BLOB NOT NULL CHECK (length(receive_id) = 16),
            message_id BLOB NOT NULL CHECK (length(message_id) = 16),
            envelope BLOB NOT NULL,
            received_at INTEGER NOT NULL,
            UNIQUE (contact_id, message_id)
        ) STRICT""",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_VERSION_1, _VERSION_2, _VERSION_3, _VERSION_4)
SCHEMA_VERSION = MIGRATIONS[-1].version


def read_schema_version(connection: Any) -> int:
    """Return the database's ``PRAGMA user_version``."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def apply_migrations(connection: Any, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply every migration above the database's version, one transaction each.

    ``connection`` is a DB-API connection in autocommit mode (``isolation_level=None``),
    so the explicit BEGIN and COMMIT here are the only transaction boundaries.

    Returns:
        The schema version after the run.

    Raises:
        SchemaTooNew: the database's version is above the newest migration.
    """
    newest = migrations[-1].version if migrations else 0
    current = read_schema_version(connection)
    if current > newest:
        raise SchemaTooNew(current, newest)

    for migration in migrations:
        if migration.version <= current:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                connection.execute(statement)
            # PRAGMA takes no bound parameters; the version is an int from this module.
            connection.execute(f"PRAGMA user_version = {int(migration.version)}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        current = migration.version
    return current
