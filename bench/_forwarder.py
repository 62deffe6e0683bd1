"""Run a bare WebSocket forwarder: the baseline that bench/relay.py compares the relay with.

It has no storage, no authentication and no acknowledgements. A client's first binary
frame registers its 16-byte address. Every later frame starts with the 16-byte address of
the recipient, and the server forwards the rest of the frame to that recipient if it is
connected (a frame for an unknown address is dropped and counted).

Usage: ``python bench/_forwarder.py --port 0``. The server prints ``listening PORT`` on
stdout once it accepts connections, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

ADDRESS_SIZE = 16
SUBPROTOCOL = "konsel.bench.v1"

logger = logging.getLogger("bench.forwarder")


class Forwarder:
    """Registry of connected clients by address, and the per-connection handler."""

    def __init__(self) -> None:
        self.connections: dict[bytes, ServerConnection] = {}
        self.forwarded = 0
        self.dropped = 0

    async def handle(self, connection: ServerConnection) -> None:
        """Register the client's address, then forward each frame it sends."""
        try:
            first = await connection.recv()
        except ConnectionClosed:
            return
        if not isinstance(first, bytes) or len(first) != ADDRESS_SIZE:
            await connection.close(1008, "first frame must be a 16-byte address")
            return

        address = first
        self.connections[address] = connection
        try:
            async for frame in connection:
                await self._forward(frame)
        except ConnectionClosed:
            pass
        finally:
            # A newer connection may have registered the same address meanwhile.
            if self.connections.get(address) is connection:
                del self.connections[address]

    async def _forward(self, frame: str | bytes) -> None:
        if not isinstance(frame, bytes) or len(frame) <= ADDRESS_SIZE:
            self.dropped += 1
            return

        recipient = self.connections.get(frame[:ADDRESS_SIZE])
        if recipient is None:
            self.dropped += 1
            return

        try:
            await recipient.send(frame[ADDRESS_SIZE:])
        except ConnectionClosed:
            self.dropped += 1
            return
        self.forwarded += 1


async def serve_until_signalled(host: str, port: int, ping_interval: float | None) -> None:
    """Serve on ``host:port`` until SIGTERM or SIGINT, then close every connection."""
    forwarder = Forwarder()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async with serve(
        forwarder.handle,
        host,
        port,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        compression=None,
        ping_interval=ping_interval,
        ping_timeout=ping_interval,
        max_size=1024 * 1024,
    ) as server:
        bound_port = server.sockets[0].getsockname()[1]
        print(f"listening {bound_port}", flush=True)
        await stop.wait()

    logger.info("stopped: %d forwarded, %d dropped", forwarder.forwarded, forwarder.dropped)


def main() -> None:
    """Parse the command line and run the forwarder."""
    parser = argparse.ArgumentParser(description="Bare WebSocket forwarder for benchmarks.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=60.0,
        help="seconds between keepalive pings, as the relay's default (default: 60)",
    )
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    asyncio.run(serve_until_signalled(args.host, args.port, args.ping_interval))


if __name__ == "__main__":
    main()
