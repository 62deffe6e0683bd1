"""Start, watch and stop the server processes that bench/relay.py measures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_forwarder(port: int) -> subprocess.Popen[bytes]:
    """Start bench/_forwarder.py on ``port`` and wait until it prints that it listens."""
    process = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_forwarder.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if line != f"listening {port}":
        stop_process(process)
        raise RuntimeError(f"the forwarder did not start: first line was {line!r}")
    return process


def start_relay(
    port: int, data_dir: Path, extra_args: list[str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``konsel-relay`` on ``port`` with ``data_dir`` and wait for ``GET /healthz``."""
    command = [
        str(VENV_BIN / "konsel-relay"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)

    try:
        wait_for_health(port, process, timeout_s=20.0)
    except RuntimeError as error:
        stop_process(process)
        log_tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{error}; the end of its log:\n{log_tail}") from None
    except BaseException:
        stop_process(process)
        raise
    return process


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``GET /healthz`` on 127.0.0.1 until it answers 200, the process exits or time ends."""
    url = f"http://127.0.0.1:{port}/healthz"
    # No proxy handler, so the request goes straight to loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    for _attempt in range(int(timeout_s / 0.1) + 1):
        if process.poll() is not None:
            raise RuntimeError(f"konsel-relay exited with code {process.returncode} at start")
        with contextlib.suppress(OSError), opener.open(url, timeout=1.0) as response:
            if response.status == 200:
                return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    raise RuntimeError(
        f"konsel-relay did not respond on {url} within {timeout_s} s; check its log for a startup error"
    )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Stop ``process`` by its PID with SIGTERM, then SIGKILL if it is still running."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


def start_profiler(pid: int, output: Path, duration_s: float) -> subprocess.Popen[bytes]:
    """Start py-spy sampling all threads of ``pid`` for at most ``duration_s`` seconds."""
    command = [
        str(VENV_BIN / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(duration_s))),
        "--rate",
        "250",
        "--threads",
        "--idle",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    """Stop py-spy with SIGINT, which makes it write its output, then wait for it."""
    if profiler.poll() is None:
        os.kill(profiler.pid, signal.SIGINT)
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_process(profiler)


def read_memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak RSS) of ``pid`` in KiB from /proc/PID/status."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def read_cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time of ``pid`` (all its threads) in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name in field 2 may contain spaces, so split after its closing ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakRssSampler:
    """Poll a process's VmRSS in the background and keep the maximum seen."""

    def __init__(self, pid: int, interval_s: float = 0.05, max_duration_s: float = 900.0) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.max_samples = int(max_duration_s / interval_s)
        self.peak_kib = 0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        # Normally cancelled by stop(); the sample count bounds it if stop() is never called.
        for _sample in range(self.max_samples):
            self._sample()
            await asyncio.sleep(self.interval_s)

    def _sample(self) -> None:
        # A process that has exited has no /proc entry; its last sample stays the peak.
        with contextlib.suppress(OSError):
            self.peak_kib = max(self.peak_kib, read_memory_kib(self.pid)["VmRSS"])

    def start(self) -> None:
        """Start polling."""
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> int:
        """Stop polling and return the peak VmRSS in KiB."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        return self.peak_kib
