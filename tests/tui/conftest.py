"""Fixtures for the terminal app tests: a real relay, fast profiles and the app itself.

The relay helpers of the engine tests (tests/client/engine_helpers.py) are shared: this
folder puts tests/client on the import path so ``from engine_helpers import ...`` works
here too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))

from engine_helpers import (
    CHEAP_KDF,
    FAST_SYNC,
    Relay,
    start_relay,
)

from konsel.client.core.passphrase import KdfParams
from konsel.client.tui import catalog, clock_zone


@pytest.fixture
def cheap_kdf() -> KdfParams:
    """The smallest Argon2id cost libsodium accepts, so a profile unlocks in milliseconds."""
    return CHEAP_KDF


@pytest.fixture
def tui_relay(tmp_path: Path) -> Iterator[Relay]:
    """A konsel-relay subprocess on a free loopback port, killed at teardown."""
    started = start_relay(tmp_path)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def indonesian_catalog() -> Iterator[None]:
    """Start every test in Indonesian and WIB, and leave both set that way afterwards."""
    catalog.use("id")
    clock_zone.use(clock_zone.DEFAULT_TIME_ZONE)
    yield
    catalog.use("id")
    clock_zone.use(clock_zone.DEFAULT_TIME_ZONE)


__all__ = ["CHEAP_KDF", "FAST_SYNC", "Relay"]
