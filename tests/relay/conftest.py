"""Fixtures for the relay tests: relay subprocesses on loopback and connected clients.

``relay`` is one relay started with test-sized timeouts. ``relay_launcher`` starts more
(for example a restart on the same data directory) and kills them all at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from relay_process import RelayLauncher, RelayProcess

from konsel.client.core.relay_connection import RelayConnection


@pytest.fixture
def relay_launcher(tmp_path: Path) -> Iterator[RelayLauncher]:
    launcher = RelayLauncher(tmp_path)
    yield launcher
    launcher.kill_all()


@pytest.fixture
def relay(relay_launcher: RelayLauncher) -> RelayProcess:
    return relay_launcher.start()


@pytest.fixture
async def two_clients(
    relay: RelayProcess,
) -> AsyncIterator[tuple[RelayConnection, RelayConnection]]:
    first = await relay.client()
    second = await relay.client()
    yield first, second
    await first.close()
    await second.close()
