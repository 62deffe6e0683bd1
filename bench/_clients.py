"""Connect benchmark clients to the bare forwarder or to konsel-relay.

Both client classes fit the ``BenchClient`` interface of bench/_load.py, so the load
generator runs the same code against both servers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import partial

from _forwarder import ADDRESS_SIZE, SUBPROTOCOL
from _load import Delivery
from nacl.signing import SigningKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from konsel.client.core.relay_connection import Delivery as RelayDelivery
from konsel.client.core.relay_connection import RelayConnection
from konsel.protocol.relay_wire import KIND_PRIVATE


async def _no_acknowledgement() -> None:
    return None


class BareClient:
    """A client of the bare forwarder: a random address and one WebSocket connection."""

    def __init__(self, connection: ClientConnection, address: bytes) -> None:
        self.address = address
        self._connection = connection

    @classmethod
    async def connect(cls, url: str) -> BareClient:
        """Open a connection to the forwarder at ``url`` and register a random address."""
        # proxy=None keeps the connection on loopback even if a proxy is set in the environment.
        connection = await connect(
            url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
            proxy=None,
            ping_interval=60,
            ping_timeout=60,
            max_size=1024 * 1024,
        )
        address = os.urandom(ADDRESS_SIZE)
        await connection.send(address)
        return cls(connection, address)

    async def send(self, recipient: bytes, payload: bytes) -> None:
        """Send ``payload`` to ``recipient``; the forwarder sends no confirmation."""
        await self._connection.send(recipient + payload)

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Yield every frame the forwarder passes to this client."""
        try:
            async for frame in self._connection:
                if isinstance(frame, bytes):
                    yield Delivery(frame, _no_acknowledgement)
        except ConnectionClosed:
            return

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()


class RelayClient:
    """A client of konsel-relay that owns one private inbox and is subscribed to it."""

    def __init__(self, relay: RelayConnection, receive_id: bytes, send_id: bytes) -> None:
        self.address = send_id
        self._relay = relay
        self._receive_id = receive_id

    @classmethod
    async def connect(cls, url: str) -> RelayClient:
        """Connect to the relay at ``url``, create an inbox and subscribe to it."""
        relay = await RelayConnection.connect(url)
        try:
            owner = SigningKey.generate()
            inbox = await relay.create_inbox(KIND_PRIVATE, bytes(owner.verify_key))
            await relay.subscribe(inbox.receive_id, owner)
        except BaseException:
            await relay.close()
            raise
        return cls(relay, inbox.receive_id, inbox.send_id)

    async def send(self, recipient: bytes, payload: bytes) -> None:
        """Send ``payload`` to the inbox behind ``recipient`` and wait until it is durable."""
        await self._relay.send(recipient, payload)

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Yield each delivered envelope with an acknowledgement of its message id."""
        async for event in self._relay.deliveries():
            if isinstance(event, RelayDelivery):
                yield Delivery(event.envelope, partial(self._acknowledge, event.message_id))

    async def _acknowledge(self, message_id: bytes) -> None:
        await self._relay.ack(self._receive_id, [message_id])

    async def close(self) -> None:
        """Close the connection."""
        await self._relay.close()
