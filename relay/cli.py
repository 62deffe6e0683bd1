"""The ``konsel-relay`` command: read the settings, log, serve, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from . import __version__
from .config import RelayConfig, load_config
from .errors import ConfigError, RelayError
from .server import open_relay

logger = logging.getLogger("konsel.relay")


def configure_logging(level: str) -> None:
    """Log to stderr with a timestamp, the level and the logger name on each line."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # websockets logs every failed handshake at INFO with the peer's request; keep it quieter.
    logging.getLogger("websockets").setLevel(logging.WARNING)


async def serve(config: RelayConfig) -> None:
    """Serve until SIGTERM or SIGINT, then shut down in order."""
    relay = await open_relay(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _request_stop, relay.stopping, signum)
    await relay.serve_until_stopped()


def _request_stop(stopping: asyncio.Event, signum: int) -> None:
    if not stopping.is_set():
        logger.info("received %s", signal.Signals(signum).name)
    stopping.set()


def main(argv: Sequence[str] | None = None) -> int:
    """Run konsel-relay and return its exit status."""
    # Files the relay creates (database, WAL, shared memory) must be private to it.
    os.umask(0o077)
    try:
        config = load_config(argv, os.environ)
    except ConfigError as error:
        print(f"konsel-relay: {error}", file=sys.stderr)
        return 2

    configure_logging(config.log_level)
    logger.info("konsel-relay %s starting with data directory %s", __version__, config.data_dir)
    try:
        asyncio.run(serve(config))
    except (OSError, RelayError) as error:
        logger.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
