"""Benchmark konsel-relay against a bare WebSocket forwarder on 127.0.0.1.

Run by hand, never from the test suite::

    .venv/bin/python bench/relay.py                  # 50 clients for 20 s, then 1,000 idle connections
    .venv/bin/python bench/relay.py --clients 20 --duration 10 --idle-connections 200

Both servers run as child processes of this script and get the same load from
bench/_load.py: throughput, p50 and p99 end-to-end latency and peak server RSS. Then each
server gets a fresh process and ``--idle-connections`` idle connections (subscribed, for
the relay), and the script reports the RSS growth per connection. Every phase is bounded
in count and time, and every child process is stopped by its PID at the end, also on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from _clients import BareClient, RelayClient
from _load import BenchClient, LoadResult, run_load
from _processes import (
    PeakRssSampler,
    free_loopback_port,
    read_cpu_seconds,
    read_memory_kib,
    start_forwarder,
    start_profiler,
    start_relay,
    stop_process,
    stop_profiler,
)

Connector = Callable[[], Awaitable[BenchClient]]

# Per-IP limits are meant for the internet, but every bench client connects from 127.0.0.1.
# The per-connection command rate (200/s by default) is raised too, because with few clients
# each connection sends more SENDs and ACKs per second than a person ever would.
RELAY_BENCH_ARGS = [
    "--command-rate=1000000",
    "--create-rate=1000000",
    "--contact-rate-per-inbox=1000000",
    "--contact-rate-per-ip=1000000",
    "--max-connections-per-ip=100000",
]

# Targets on a 2-core machine, as ratios of the relay's figure to the bare forwarder's.
MIN_THROUGHPUT_RATIO = 0.5
MAX_P99_RATIO = 2.0
MAX_IDLE_MEMORY_RATIO = 1.5


@dataclass
class ServerFigures:
    """Figures of one server in the load phase and the idle phase."""

    load: LoadResult
    peak_rss_kib: int
    server_cpu_s: float
    generator_cpu_s: float
    idle_opened: int = 0
    idle_growth_kib: int = 0

    @property
    def idle_kib_per_connection(self) -> float:
        """RSS growth per idle connection in KiB."""
        return self.idle_growth_kib / self.idle_opened if self.idle_opened else float("nan")


def print_header(args: argparse.Namespace) -> None:
    """Print the command line, the machine and the date, so a result can be reproduced."""
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model}), Python {platform.python_version()}")
    print("date:   ", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    print(
        f"load:    {args.clients} clients, up to {args.messages} envelopes of "
        f"{args.payload_size} bytes each, window {args.window}, at most {args.duration} s"
    )
    print()


def raise_file_limit(needed: int) -> None:
    """Raise the soft limit of open files to at least ``needed`` (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        print(f"warning: open-file limit is {target}, below the {needed} this run needs")


async def open_clients(
    connector: Connector, count: int, concurrency: int = 50
) -> tuple[list[BenchClient], list[BaseException]]:
    """Open ``count`` clients, at most ``concurrency`` handshakes at a time.

    Returns the clients that connected and the errors of those that did not.
    """
    gate = asyncio.Semaphore(concurrency)

    async def open_one() -> BenchClient:
        async with gate, asyncio.timeout(30):
            return await connector()

    outcomes = await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    clients = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    return clients, errors


async def connect_clients(connector: Connector, count: int) -> list[BenchClient]:
    """Open ``count`` clients, or close those that connected and raise if any failed."""
    clients, errors = await open_clients(connector, count)
    if errors:
        await close_clients(clients)
        raise RuntimeError(f"{len(errors)} of {count} clients failed to connect: {errors[0]!r}")
    return clients


async def close_clients(clients: list[BenchClient]) -> None:
    """Close every client, ignoring connections that are already gone."""
    async with asyncio.timeout(60):
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


async def measure_load(
    process: subprocess.Popen[bytes],
    connector: Connector,
    args: argparse.Namespace,
    profile_path: Path | None = None,
) -> ServerFigures:
    """Run the warm-up and the measured load against one server process.

    With ``profile_path``, py-spy samples the server during the measured load and writes
    its stacks there (collapsed-stack text, one stack and its sample count per line).
    """
    clients = await connect_clients(connector, args.clients)
    profiler: subprocess.Popen[bytes] | None = None
    sampler = PeakRssSampler(process.pid)
    try:
        # A short warm-up, so imports, caches and the database file exist before measuring.
        await run_load(clients, messages_per_client=5, duration_s=10, window=args.window)

        if profile_path is not None:
            profiler = start_profiler(process.pid, profile_path, args.duration)
        sampler.start()
        server_cpu_before = read_cpu_seconds(process.pid)
        generator_cpu_before = time.process_time()
        load = await run_load(
            clients,
            messages_per_client=args.messages,
            duration_s=args.duration,
            window=args.window,
            payload_size=args.payload_size,
        )
        server_cpu = read_cpu_seconds(process.pid) - server_cpu_before
        generator_cpu = time.process_time() - generator_cpu_before
    finally:
        peak = await sampler.stop()
        if profiler is not None:
            stop_profiler(profiler)
        await close_clients(clients)
    return ServerFigures(load, peak, server_cpu, generator_cpu)


async def measure_idle(
    process: subprocess.Popen[bytes], connector: Connector, count: int
) -> tuple[int, int]:
    """Open ``count`` idle connections; return how many opened and the RSS growth in KiB."""
    # One connection first, so lazily created server state is not billed to the idle ones.
    warm = await connect_clients(connector, 1)
    await close_clients(warm)
    await asyncio.sleep(0.5)
    before = read_memory_kib(process.pid)["VmRSS"]

    clients, errors = await open_clients(connector, count)
    try:
        if errors:
            print(f"  {len(errors)} of {count} idle connections failed, the first: {errors[0]!r}")
        await asyncio.sleep(2.0)
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {process.returncode} under {count} connections"
            )
        after = read_memory_kib(process.pid)["VmRSS"]
    finally:
        await close_clients(clients)
    return len(clients), after - before


async def bench_bare(args: argparse.Namespace) -> ServerFigures:
    """Measure the bare forwarder: load on one process, idle connections on a fresh one."""
    port = free_loopback_port()
    url = f"ws://127.0.0.1:{port}"
    process = start_forwarder(port)
    try:
        figures = await measure_load(process, lambda: BareClient.connect(url), args)
    finally:
        stop_process(process)

    if args.idle_connections:
        port = free_loopback_port()
        url = f"ws://127.0.0.1:{port}"
        process = start_forwarder(port)
        try:
            opened, growth = await measure_idle(
                process, lambda: BareClient.connect(url), args.idle_connections
            )
        finally:
            stop_process(process)
        figures.idle_opened, figures.idle_growth_kib = opened, growth
    return figures


def relay_args(args: argparse.Namespace) -> list[str]:
    """Return the relay's options: the bench's raised limits, then the user's own."""
    return [*RELAY_BENCH_ARGS, *args.relay_arg]


async def bench_relay(args: argparse.Namespace, work_dir: Path) -> ServerFigures:
    """Measure konsel-relay with durable storage, as :func:`bench_bare` does the forwarder."""
    port = free_loopback_port()
    url = f"ws://127.0.0.1:{port}"
    process = start_relay(port, work_dir / "load-data", relay_args(args), work_dir / "load.log")
    try:
        figures = await measure_load(
            process, lambda: RelayClient.connect(url), args, args.profile_relay
        )
    finally:
        stop_process(process)

    if args.idle_connections:
        port = free_loopback_port()
        url = f"ws://127.0.0.1:{port}"
        process = start_relay(port, work_dir / "idle-data", relay_args(args), work_dir / "idle.log")
        try:
            opened, growth = await measure_idle(
                process, lambda: RelayClient.connect(url), args.idle_connections
            )
        finally:
            stop_process(process)
        figures.idle_opened, figures.idle_growth_kib = opened, growth
    return figures


def describe(name: str, figures: ServerFigures) -> None:
    """Print one server's figures."""
    load = figures.load
    print(f"{name}:")
    print(
        f"  {load.delivered} delivered of {load.sent} sent in {load.elapsed_s:.1f} s "
        f"= {load.messages_per_second:.0f} msg/s; duplicates {load.duplicates}, "
        f"timeouts {load.timeouts}, errors {len(load.errors)}"
    )
    print(
        f"  latency p50 {load.percentile_ms(0.50):.1f} ms, p99 {load.percentile_ms(0.99):.1f} ms; "
        f"peak RSS {figures.peak_rss_kib / 1024:.1f} MiB"
    )
    print(
        f"  CPU during the load: server {figures.server_cpu_s:.1f} s, "
        f"load generator {figures.generator_cpu_s:.1f} s, of {load.elapsed_s:.1f} s wall time"
    )
    if figures.idle_opened:
        print(
            f"  {figures.idle_opened} idle connections: +{figures.idle_growth_kib / 1024:.1f} MiB "
            f"= {figures.idle_kib_per_connection:.1f} KiB per connection"
        )
    for error in load.errors[:5]:
        print("  error:", error)


def judge(bare: ServerFigures, relay: ServerFigures, idle_target: int) -> None:
    """Print the relay/bare ratios and whether each target is met."""
    throughput = relay.load.messages_per_second / bare.load.messages_per_second
    p99 = relay.load.percentile_ms(0.99) / bare.load.percentile_ms(0.99)

    def report(what: str, value: float, target: str, met: bool) -> None:
        print(f"  {what} {value:.2f} (target {target}): {'met' if met else 'MISSED'}")

    print("relay / bare:")
    report(
        "throughput", throughput, f">= {MIN_THROUGHPUT_RATIO}", throughput >= MIN_THROUGHPUT_RATIO
    )
    report("p99 latency", p99, f"<= {MAX_P99_RATIO}", p99 <= MAX_P99_RATIO)
    if idle_target == 0:
        print("  idle connections: not measured (--idle-connections 0)")
        return

    memory = relay.idle_kib_per_connection / bare.idle_kib_per_connection
    all_held = relay.idle_opened >= idle_target
    print(
        f"  idle connections held {relay.idle_opened} (target {idle_target}): "
        f"{'met' if all_held else 'MISSED'}"
    )
    report(
        "memory per idle connection",
        memory,
        f"<= {MAX_IDLE_MEMORY_RATIO}",
        memory <= MAX_IDLE_MEMORY_RATIO,
    )


async def run(args: argparse.Namespace) -> None:
    """Measure both servers and print the comparison."""
    with tempfile.TemporaryDirectory(prefix="konsel-bench-") as work:
        bare = await bench_bare(args)
        describe("bare forwarder", bare)
        relay = await bench_relay(args, Path(work))
        describe("konsel-relay", relay)
    print()
    judge(bare, relay, args.idle_connections)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, default=50, help="connected clients in the load phase (default: 50)"
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=100_000,
        help="envelopes each client sends at most (default: 100000, so --duration ends the run)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="maximum seconds of the load phase (default: 20)",
    )
    parser.add_argument(
        "--window", type=int, default=1, help="envelopes each client keeps in flight (default: 1)"
    )
    parser.add_argument(
        "--payload-size", type=int, default=200, help="envelope size in bytes (default: 200)"
    )
    parser.add_argument(
        "--idle-connections",
        type=int,
        default=1000,
        help="idle connections in the memory phase; 0 skips it (default: 1000)",
    )
    parser.add_argument(
        "--relay-arg",
        action="append",
        default=[],
        help="extra argument for konsel-relay, after the bench's own; repeat for several",
    )
    parser.add_argument(
        "--profile-relay",
        type=Path,
        metavar="FILE",
        help="sample the relay with py-spy during its load phase and write the stacks to FILE",
    )
    args = parser.parse_args()
    if args.clients < 2:
        parser.error("--clients must be at least 2")
    return args


def main() -> None:
    """Run the benchmark."""
    args = parse_args()
    raise_file_limit(2 * max(args.idle_connections, args.clients) + 256)
    print_header(args)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        # The finally blocks above have already stopped the child processes by PID.
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
