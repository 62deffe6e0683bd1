"""Helpers for the engine tests: a real relay subprocess, engines with a cheap KDF, pairing.

The relay runs as ``python -m konsel.relay.cli`` on a free loopback port with a data
directory under ``tmp_path``; the fixture kills it by PID at teardown.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.pwhash
import pytest

from konsel.client.core.engine import Engine
from konsel.client.core.events import Event, EventStream
from konsel.client.core.passphrase import KdfParams
from konsel.client.core.sync import SyncOptions

PASSPHRASE = "kopi susu di kantin jam tujuh"
CHEAP_KDF = KdfParams(
    opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN
)
FAST_SYNC = SyncOptions(
    first_delay=0.05,
    max_delay=0.3,
    open_timeout=5.0,
    ping_interval=None,
    close_timeout=1.0,
    retry_delay=0.1,
)
WAIT_TIMEOUT = 20.0
RELAY_FLAGS = [
    "--handshake-timeout", "2",
    "--write-timeout", "2",
    "--ping-interval", "0",
    "--create-rate", "100000",
    "--contact-rate-per-inbox", "100000",
    "--contact-rate-per-ip", "100000",
    "--command-rate", "100000",
]  # fmt: skip


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Relay:
    """A konsel-relay subprocess started by a test."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    flags: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Kill the relay with SIGKILL and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)


def start_relay(tmp_path: Path, *flags: str, port: int | None = None) -> Relay:
    """Start a relay on loopback and wait until ``/healthz`` returns 200."""
    port = port or free_port()
    data_dir = tmp_path / "relay-data"
    log_path = tmp_path / f"relay-{port}-{time.monotonic_ns()}.log"
    command = [
        sys.executable, "-m", "konsel.relay.cli", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), *RELAY_FLAGS, *flags,
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("KONSEL_")}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    relay = Relay(process, port, data_dir, log_path, flags)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"relay exited: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return relay
        except OSError:
            time.sleep(0.05)
    relay.stop()
    raise AssertionError("relay did not become healthy in 15 s")


def restart_relay(relay: Relay, tmp_path: Path) -> Relay:
    """Kill a relay and start a new one on the same port and data directory."""
    relay.stop()
    return start_relay(tmp_path, *relay.flags, port=relay.port)


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[Relay]]:
    """A list the test appends its relays to; each is killed at teardown."""
    started: list[Relay] = []
    yield started
    for relay in started:
        relay.stop()


@pytest.fixture
def relay(tmp_path: Path, relays: list[Relay]) -> Relay:
    """One relay with test limits."""
    started = start_relay(tmp_path)
    relays.append(started)
    return started


async def new_engine(
    directory: Path, name: str, role: str, relay_url: str | None, **options: object
) -> Engine:
    """Create an engine profile with the cheap KDF and fast reconnects."""
    options.setdefault("options", FAST_SYNC)
    return await Engine.create(
        directory,
        PASSPHRASE,
        name,
        role,
        relay_url,
        kdf=CHEAP_KDF,
        **options,  # type: ignore[arg-type]
    )


async def reopen(engine: Engine, **options: object) -> Engine:
    """Close an engine and open its profile again, as a restarted client would."""
    directory = engine.store.profile.directory
    await engine.close()
    options.setdefault("options", FAST_SYNC)
    return await Engine.open(directory, PASSPHRASE, **options)  # type: ignore[arg-type]


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float = WAIT_TIMEOUT,  # noqa: ASYNC109
) -> None:
    """Poll ``condition`` every 20 ms until it is true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def pair(counselor: Engine, student: Engine) -> tuple[int, int]:
    """Pair two engines by link; return (student's id at the counselor, counselor's id)."""
    link = await counselor.create_invitation()
    on_student = await student.accept_invitation(link)

    async def has_request() -> bool:
        return bool(counselor.pending_requests())

    await wait_until(has_request, "the contact request")
    request_id, _ = counselor.pending_requests()[0]
    on_counselor = await counselor.accept_request(request_id)

    async def accepted() -> bool:
        return student.state.routes[on_student].accepted

    await wait_until(accepted, "the counselor's introduction")
    return on_counselor, on_student


async def bodies(engine: Engine, contact_id: int, direction: str | None = None) -> list[str]:
    """Return the bodies of a conversation in display order, optionally of one direction."""
    window = await engine.history(contact_id, limit=100_000)
    return [m.body for m in window if direction is None or m.direction == direction]


def drain(stream: EventStream) -> list[Event]:
    """Return the events queued on a stream without waiting."""
    events: list[Event] = []
    while not stream.queue.empty():
        events.append(stream.queue.get_nowait())
    return events


class WriteGate:
    """An engine's ``before_write`` hook that keeps one store write waiting or fails it.

    The hook runs in the worker thread of the write. :meth:`hold_next` makes the next
    write wait until :attr:`release` is set, at most ``WAIT_TIMEOUT`` seconds, and
    :meth:`fail_next` makes it raise ``OSError`` before anything is written.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        """Set once the held write is waiting in its thread."""
        self.release = threading.Event()
        self._mode: str | None = None
        self._mode_lock = threading.Lock()

    def hold_next(self) -> None:
        self._mode = "hold"

    def fail_next(self) -> None:
        self._mode = "fail"

    def __call__(self) -> None:
        with self._mode_lock:
            mode, self._mode = self._mode, None
        if mode == "hold":
            self.entered.set()
            if not self.release.wait(WAIT_TIMEOUT):
                raise TimeoutError("the test never released the held store write")
        elif mode == "fail":
            raise OSError("no space left on device (raised by the test)")

    async def wait_entered(self) -> None:
        """Wait until the held write is waiting in its thread."""
        entered = await asyncio.to_thread(self.entered.wait, WAIT_TIMEOUT)
        assert entered, "no store write reached the gate"


async def settle(engine: Engine) -> None:
    """Wait until the engine has no control envelope queued and no commit running."""

    async def no_control() -> bool:
        return await engine.outbox_count() == 0 and not engine.state.control_outbox

    await wait_until(no_control, "the control outbox to drain")
    # Every commit runs under the engine lock, so taking it waits for the last one.
    async with engine.lock:
        pass


def abort_connection(engine: Engine) -> bool:
    """Cut the engine's relay socket without a close frame; return whether one was open."""
    connection = engine.sync.connection
    if connection is None:
        return False
    transport = connection.websocket.transport
    transport.abort()
    return True


class FreezingProxy:
    """A loopback TCP proxy whose open connections can be frozen: bytes stop, sockets stay.

    A frozen connection is a dead link as a phone sees it after its network changed: no
    data and no close. Connections opened after :meth:`freeze` are forwarded normally.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._frozen: set[int] = set()
        self._open: list[tuple[int, asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._next = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        """Stop forwarding on every connection open now."""
        self._frozen.update(number for number, _, _ in self._open)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for _, client, upstream in self._open:
            client.close()
            upstream.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self._next
        self._next += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._open.append((number, writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(number, reader, up_writer)),
            asyncio.create_task(self._pump(number, up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(
        self, number: int, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                if number in self._frozen:
                    continue
                sink.write(data)
                await sink.drain()
        finally:
            if number not in self._frozen:
                sink.close()


async def backup_profile(engine: Engine, backup_dir: Path, **options: object) -> Engine:
    """Close an engine, copy its profile directory to ``backup_dir``, and open it again."""
    directory = engine.store.profile.directory
    await engine.close()
    shutil.copytree(directory, backup_dir)
    options.setdefault("options", FAST_SYNC)
    return await Engine.open(directory, PASSPHRASE, **options)  # type: ignore[arg-type]


async def restore_profile(engine: Engine, backup_dir: Path, **options: object) -> Engine:
    """Close an engine, replace its profile directory with ``backup_dir``, and open it."""
    directory = engine.store.profile.directory
    await engine.close()
    shutil.rmtree(directory)
    shutil.copytree(backup_dir, directory)
    options.setdefault("options", FAST_SYNC)
    return await Engine.open(directory, PASSPHRASE, **options)  # type: ignore[arg-type]


class KeyNonceRecorder:
    """Wrap the ratchet's AEAD encryption and record every (key, nonce) it encrypts under.

    Install it with ``monkeypatch.setattr(ratchet, "aead_encrypt", recorder)``. It covers
    every header and body that any engine of the test process encrypts. A (key, nonce)
    pair used for two different plaintexts is a reuse and lands in :attr:`reused`.
    """

    def __init__(self, encrypt: Callable[[bytes, bytes, bytes, bytes], bytes]) -> None:
        self._encrypt = encrypt
        self._seen: dict[tuple[bytes, bytes], bytes] = {}
        self.reused: list[tuple[bytes, bytes]] = []
        self.count = 0

    def __call__(self, plaintext: bytes, associated_data: bytes, nonce: bytes, key: bytes) -> bytes:
        self.count += 1
        earlier = self._seen.setdefault((bytes(key), bytes(nonce)), bytes(plaintext))
        if earlier != plaintext:
            self.reused.append((bytes(key), bytes(nonce)))
        return self._encrypt(plaintext, associated_data, nonce, key)


async def delete_contact_inbox(engine: Engine) -> None:
    """Delete a counselor's contact inbox on its relay over a connection of its own."""
    from nacl.signing import SigningKey

    from konsel.client.core.relay_connection import RelayConnection

    inbox = engine.state.contact_inbox
    assert inbox is not None and engine.state.relay_url is not None
    connection = await RelayConnection.connect(engine.state.relay_url, ping_interval=None)
    try:
        await connection.delete_inbox(inbox.receive_id, SigningKey(inbox.owner_seed))
    finally:
        await connection.close()
