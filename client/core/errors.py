"""Exceptions raised by the client's encrypted local store and its profiles.

Every error here derives from :class:`StoreError` and carries a stable ``code`` string.
The terminal app looks up its Indonesian and English text by that code. The English
message on the exception itself is for logs and tests, and names the value and the next
step::

    StoreError                        code
    ├── SqlcipherUnavailable          sqlcipher_unavailable   no SQLCipher build; never falls back to plaintext
    ├── ProfileNotFound               profile_not_found       no store in this profile directory yet
    ├── ProfileExists                 profile_exists          create() on a profile that already has a store
    ├── ProfileLocked                 profile_locked          another process holds the profile's lock file
    ├── InvalidProfileName            profile_name_invalid    a profile name that is not a safe folder name
    ├── InvalidPassphrase             passphrase_invalid      an empty or over-long passphrase
    ├── WrongPassphrase               passphrase_wrong        the header's verifier rejects the passphrase
    ├── PassphraseChangeInterrupted   passphrase_change_interrupted
    │                                                         a crash during change_passphrase; use the new one
    ├── DatabaseCorrupted             database_corrupted      the database file is unreadable under a correct key
    │   └── HeaderCorrupted           header_corrupted        the key header file is unreadable or invalid
    │       └── HeaderMissing         header_missing          the database exists but its key header is gone
    ├── SchemaTooNew                  schema_too_new          a database written by a newer konsel-chat
    ├── RecordNotFound                record_not_found        an id that names no row
    └── DuplicateMessage              message_duplicate       a message already stored (same envelope or content id)

A forgotten passphrase cannot be recovered: the database key is derived from it and is
stored nowhere, so the messages and records in that profile are lost for good.
"""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base class of every error raised by the client's local store.

    Attributes:
        code: stable identifier that the UI maps to its own translated text.
    """

    code = "store_error"


class SqlcipherUnavailable(StoreError):
    """The SQLCipher binding is missing or the SQLite it loaded has no encryption."""

    code = "sqlcipher_unavailable"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"SQLCipher is not available ({detail}); the store never writes an unencrypted "
            "database, so install the 'sqlcipher3' package (a build with SQLCipher 4) and retry"
        )


class ProfileNotFound(StoreError):
    """The profile directory contains no store yet."""

    code = "profile_not_found"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        super().__init__(
            f"no konsel store in profile directory {directory}; create one first, "
            "or pass the directory of an existing profile"
        )


class ProfileExists(StoreError):
    """A new store was requested in a profile that already has one."""

    code = "profile_exists"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        super().__init__(
            f"profile directory {directory} already has a konsel store; open it instead, "
            "or choose another profile"
        )


class ProfileLocked(StoreError):
    """Another process holds the profile's lock file (an exclusive flock or msvcrt lock)."""

    code = "profile_locked"

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        super().__init__(
            f"profile is in use by another konsel-chat process (lock file {lock_path}); "
            "close the other window, or use another profile"
        )


class InvalidProfileName(StoreError):
    """A profile name that cannot be used as one folder name."""

    code = "profile_name_invalid"

    def __init__(self, name: str, rule: str) -> None:
        self.name = name
        super().__init__(f"invalid profile name {name!r}: {rule}")


class InvalidPassphrase(StoreError):
    """A passphrase outside the accepted length."""

    code = "passphrase_invalid"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid passphrase: {reason}")


class WrongPassphrase(StoreError):
    """The passphrase does not match the profile's key header."""

    code = "passphrase_wrong"

    def __init__(self) -> None:
        super().__init__(
            "wrong passphrase for this profile; type it again. A forgotten passphrase "
            "cannot be recovered: the data in this profile is then lost"
        )


class PassphraseChangeInterrupted(StoreError):
    """The old passphrase matched, but an interrupted change already re-keyed the database."""

    code = "passphrase_change_interrupted"

    def __init__(self) -> None:
        super().__init__(
            "a passphrase change was interrupted after the database was re-keyed; "
            "open the profile with the new passphrase"
        )


class DatabaseCorrupted(StoreError):
    """The database (or, in subclasses, its key header) cannot be read.

    Attributes:
        path: the unreadable file.
    """

    code = "database_corrupted"

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"database {path} is damaged or unreadable ({detail}); restore it from a "
            "backup of the whole profile directory"
        )


class HeaderCorrupted(DatabaseCorrupted):
    """The key header file exists but is not a valid header."""

    code = "header_corrupted"

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        StoreError.__init__(
            self,
            f"key header {path} is invalid ({detail}); without a valid header the database "
            "cannot be unlocked, so restore the header from a backup of the profile directory",
        )


class HeaderMissing(HeaderCorrupted):
    """The database exists but the key header next to it is gone."""

    code = "header_missing"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.detail = "missing"
        StoreError.__init__(
            self,
            f"key header {path} is missing next to an existing database; it holds the "
            "salt for the key, so restore it from a backup of the profile directory",
        )


class SchemaTooNew(StoreError):
    """The database schema is newer than this program supports."""

    code = "schema_too_new"

    def __init__(self, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"database schema version {found} is newer than the supported version "
            f"{supported}; update konsel-chat to open this profile"
        )


class RecordNotFound(StoreError):
    """An id that names no row of the given kind."""

    code = "record_not_found"

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found; reload the list and try again")


class DuplicateMessage(StoreError):
    """A message whose envelope id or content id is already stored."""

    code = "message_duplicate"

    def __init__(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        super().__init__(f"message already stored in conversation {conversation_id}; drop the copy")
