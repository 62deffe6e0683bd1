"""Locate, create and lock a user's profile directory.

A profile is one directory per person, so that two people can share one computer. By
default it is ``<user data dir>/konsel/<name>`` (platformdirs), and the CLI's
``--profile DIR`` names a directory directly. The directory is mode 0700 and each file in
it 0600:

    konsel.db        the SQLCipher database (plus konsel.db-wal and konsel.db-shm while open)
    key.json         the plaintext key header: Argon2id salt, cost and key verifier
    key.json.next    only during a passphrase change: the header for the new passphrase
    konsel.lock      an empty file that an open store holds an exclusive lock on

The lock is an advisory whole-file lock: ``fcntl.flock`` on POSIX and ``msvcrt.locking``
on Windows. The OS drops it when the process exits, even after a crash.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import platformdirs

from .errors import InvalidProfileName, ProfileLocked

DEFAULT_PROFILE_NAME = "default"
PROFILE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Profile:
    """One user's profile directory and the paths of the files in it."""

    directory: Path

    @property
    def database_path(self) -> Path:
        """The SQLCipher database file."""
        return self.directory / "konsel.db"

    @property
    def header_path(self) -> Path:
        """The plaintext key header (salt, Argon2id cost, verifier)."""
        return self.directory / "key.json"

    @property
    def next_header_path(self) -> Path:
        """The header of a passphrase change that has not finished yet."""
        return self.directory / "key.json.next"

    @property
    def lock_path(self) -> Path:
        """The file whose exclusive lock marks the profile as open."""
        return self.directory / "konsel.lock"

    def has_store(self) -> bool:
        """Return whether a database or a key header exists in the profile."""
        return self.database_path.exists() or self.header_path.exists()

    def ensure_directory(self) -> None:
        """Create the directory with mode 0700, or tighten an existing one to 0700.

        A missing parent (such as ``konsel`` under the user data directory, whose listing
        shows the profile names) is created 0700 as well. An existing parent keeps its mode.
        """
        self.directory.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        self.directory.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
        # mkdir's mode is filtered by the umask, and an existing directory keeps its mode.
        os.chmod(self.directory, DIRECTORY_MODE)


def default_profiles_root() -> Path:
    """Return the folder that contains named profiles, from platformdirs."""
    return Path(platformdirs.user_data_dir("konsel", appauthor=False))


def resolve_profile(name: str | None = None, directory: Path | str | None = None) -> Profile:
    """Return the profile for an explicit directory, or else for a name under the default root.

    Raises:
        InvalidProfileName: ``name`` is not one plain folder name of 1 to 64 characters.
    """
    if directory is not None:
        return Profile(Path(directory).expanduser().absolute())

    chosen = DEFAULT_PROFILE_NAME if name is None else name
    if not PROFILE_NAME_PATTERN.fullmatch(chosen):
        raise InvalidProfileName(
            chosen,
            "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return Profile(default_profiles_root() / chosen)


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist, and set 0600 on it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(descriptor)
    os.chmod(path, FILE_MODE)


class ProfileLock:
    """An exclusive, non-blocking lock on a profile's lock file, held until ``release``."""

    def __init__(self, profile: Profile) -> None:
        self._path = profile.lock_path
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ProfileLocked: another open file description (another process, or another
                store in this process) holds it.
        """
        create_private_file(self._path)
        file = self._path.open("r+b")
        try:
            _lock_file(file)
        except OSError:
            file.close()
            raise ProfileLocked(self._path) from None
        self._file = file

    def release(self) -> None:
        """Drop the lock; safe to call twice."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            _unlock_file(file)
        finally:
            file.close()


if sys.platform == "win32":
    import msvcrt

    # NOTE: the Windows branch has not been run; it locks the first byte of the file.
    def _lock_file(file: IO[bytes]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(file: IO[bytes]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(file: IO[bytes]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(file: IO[bytes]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
