"""Fixtures for the client core tests: profiles in tmp_path and stores with a cheap KDF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nacl.pwhash
import pytest

from konsel.client.core.passphrase import KdfParams
from konsel.client.core.profile import Profile, resolve_profile
from konsel.client.core.store import Store


@pytest.fixture
def passphrase() -> str:
    """The passphrase of the ``store`` fixture."""
    return "kopi susu di kantin jam tujuh"


@pytest.fixture
def cheap_kdf() -> KdfParams:
    """The smallest Argon2id cost libsodium accepts, so a test unlocks in milliseconds."""
    return KdfParams(
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN
    )


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    """A profile directory that does not exist yet."""
    return resolve_profile(directory=tmp_path / "profile")


@pytest.fixture
def store(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> Iterator[Store]:
    """A new store with the cheap KDF, closed after the test."""
    opened = Store.create(profile, passphrase, kdf=cheap_kdf)
    yield opened
    opened.close()
