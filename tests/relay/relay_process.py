"""Run konsel-relay as a real subprocess on a free loopback port, for the relay tests.

:class:`RelayLauncher` starts relays with a temporary data directory and waits for
``GET /healthz``; every process it started is killed at teardown. Clients are real
:class:`RelayConnection` objects.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from konsel.client.core.relay_connection import RelayConnection
from konsel.protocol.relay_wire import (
    SUBPROTOCOL,
    Command,
    Created,
    Delivery,
    End,
    Hello,
    Ok,
    ServerHello,
    ServerMessage,
    decode_server_message,
    encode_command,
    frame_limits,
)

RELAY_COMMAND = [sys.executable, "-m", "konsel.relay.cli"]
START_TIMEOUT = 15.0
EVENT_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

# Short timeouts and small limits keep the suite fast; tests that need other values pass
# their own flags.
TEST_FLAGS = [
    "--handshake-timeout", "2",
    "--write-timeout", "2",
    "--ping-interval", "0",
    "--log-level", "DEBUG",
]  # fmt: skip


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RelayProcess:
    """One running konsel-relay subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    flags: list[str] = field(default_factory=list)
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """Return what the relay logged so far."""
        return self.log_path.read_text(errors="replace")

    def rss_kib(self) -> int:
        """Return the relay's resident set size in KiB, from /proc/PID/status."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("VmRSS missing from /proc status")

    def http_get(self, path: str) -> tuple[int, str]:
        """Fetch an HTTP path from the relay and return the status and body."""
        try:
            # The TLS tests use a throwaway self-signed certificate on loopback.
            context = ssl._create_unverified_context() if self.tls else None
            with urllib.request.urlopen(
                self.http_url + path, timeout=5, context=context
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def kill(self) -> None:
        """Kill the relay with SIGKILL and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def terminate(self) -> int:
        """Stop the relay with SIGTERM and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    async def client(self, **options: object) -> RelayConnection:
        """Open a client connection that has finished the hello."""
        return await RelayConnection.connect(self.url, **options)  # type: ignore[arg-type]

    async def new_inbox(
        self, connection: RelayConnection, kind: str = "private"
    ) -> tuple[SigningKey, Created]:
        """Create an inbox owned by a fresh Ed25519 key and return the key and the ids."""
        owner = SigningKey.generate()
        created = await connection.create_inbox(kind, bytes(owner.verify_key))
        return owner, created


class RelayLauncher:
    """Start relay subprocesses for one test and kill them all at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[RelayProcess] = []

    def start(
        self,
        *flags: str,
        data_dir: Path | None = None,
        port: int | None = None,
        use_test_flags: bool = True,
        tls: bool = False,
    ) -> RelayProcess:
        """Start a relay and wait until ``GET /healthz`` returns 200."""
        data_dir = data_dir or self.tmp_path / "relay-data"
        port = port or free_port()
        log_path = self.tmp_path / f"relay-{len(self.processes)}.log"
        all_flags = [
            "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
            *(TEST_FLAGS if use_test_flags else []), *flags,
        ]  # fmt: skip
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("KONSEL_RELAY_")
        }
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [*RELAY_COMMAND, *all_flags], stdout=log_file, stderr=subprocess.STDOUT, env=env
            )
        relay = RelayProcess(process, port, data_dir, log_path, all_flags, tls)
        self.processes.append(relay)
        _wait_healthy(relay)
        return relay

    def kill_all(self) -> None:
        for relay in self.processes:
            if relay.process.poll() is None:
                relay.kill()


def _wait_healthy(relay: RelayProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if relay.process.poll() is not None:
            raise AssertionError(f"relay exited with {relay.process.returncode}:\n{relay.log()}")
        try:
            status, _ = relay.http_get("/healthz")
        except OSError:
            status = 0
        if status == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"relay not healthy after {START_TIMEOUT} s:\n{relay.log()}")


async def next_event(connection: RelayConnection) -> Delivery | End:
    """Return the next delivery or end notice, failing the test after ``EVENT_TIMEOUT``."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        return await anext(connection.deliveries())


async def receive(connection: RelayConnection, count: int) -> list[Delivery]:
    """Return the next ``count`` deliveries, failing on an end notice or a timeout."""
    deliveries: list[Delivery] = []
    while len(deliveries) < count:
        event = await next_event(connection)
        assert isinstance(event, Delivery), f"expected a delivery, got {event}"
        deliveries.append(event)
    return deliveries


class RawClient:
    """A bare WebSocket client that sends hand-built frames, for malformed-input tests."""

    def __init__(self, websocket: ClientConnection, hello: ServerHello) -> None:
        self.websocket = websocket
        self.hello = hello

    @classmethod
    async def connect(cls, relay: RelayProcess, *, send_hello: bool = True) -> RawClient:
        """Connect, read the server hello and, if ``send_hello`` is true, send the client hello."""
        websocket = await connect(
            relay.url, subprotocols=[Subprotocol(SUBPROTOCOL)], compression=None, proxy=None
        )
        hello = decode_server_message(_binary(await websocket.recv()), frame_limits(1 << 20))
        assert isinstance(hello, ServerHello)
        client = cls(websocket, hello)
        if send_hello:
            reply = await client.command(Hello(0))
            assert reply == Ok(0)
        return client

    async def send_raw(self, frame: bytes | str) -> None:
        await self.websocket.send(frame)

    async def next_message(self) -> ServerMessage:
        """Return the next frame from the relay, decoded."""
        async with asyncio.timeout(EVENT_TIMEOUT):
            frame = await self.websocket.recv()
        return decode_server_message(_binary(frame), frame_limits(1 << 20))

    async def command(self, command: Command) -> ServerMessage:
        """Send a command and return the reply that echoes its request id."""
        await self.websocket.send(encode_command(command))
        while True:
            message = await self.next_message()
            if getattr(message, "request_id", None) == command.request_id:
                return message

    async def close(self) -> None:
        await self.websocket.close()


def _binary(frame: bytes | str) -> bytes:
    assert isinstance(frame, bytes), "the relay sent a text frame"
    return frame
