"""Check that a relay address replies as a konsel relay, for the first-run screen.

The check opens one WebSocket with the relay's subprotocol, exchanges the hellos and
closes it again, so "reachable" means a konsel relay that speaks this client's protocol
version, not only an open port. Each failure maps to a catalog key that says what to do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass

from websockets.exceptions import InvalidHandshake, InvalidURI

from konsel.client.core.relay_connection import (
    RelayCommandError,
    RelayConnection,
    RelayConnectionClosed,
)
from konsel.protocol.errors import DecodeError
from konsel.protocol.relay_wire import ErrorCode

logger = logging.getLogger("konsel.client.tui.relay_check")

CHECK_TIMEOUT = 10.0
"""Seconds the whole check may take: connecting, the TLS and WebSocket handshakes and
the hello. A slower relay is reported as timed out."""


@dataclass(frozen=True)
class RelayCheckResult:
    """The outcome of one check: the catalog key of the message and whether it passed."""

    reachable: bool
    key: str
    seconds: float = CHECK_TIMEOUT
    """The time limit used, for the timeout message."""


async def check_relay(url: str, timeout: float = CHECK_TIMEOUT) -> RelayCheckResult:  # noqa: ASYNC109
    """Connect to ``url``, exchange hellos, close, and report the outcome.

    Every ``Exception`` (network, TLS, handshake or protocol failure) becomes a result
    with the reason's catalog key. Cancellation still propagates.
    """
    try:
        async with asyncio.timeout(timeout):
            connection = await RelayConnection.connect(
                url, open_timeout=timeout, ping_interval=None, request_timeout=timeout
            )
            await connection.close()
    except Exception as error:
        key = _reason_key(error)
        logger.info("relay check failed: %s (%s)", key, type(error).__name__)
        return RelayCheckResult(reachable=False, key=key, seconds=timeout)
    logger.info("relay check passed")
    return RelayCheckResult(reachable=True, key="start.relay_check.reachable", seconds=timeout)


def _reason_key(error: Exception) -> str:
    """Map a connection failure to the catalog key of its reason.

    The order matters: ``ssl.SSLError`` and ``socket.gaierror`` are both ``OSError``, and
    ``RelayRequestTimeout`` is a ``TimeoutError``.
    """
    if isinstance(error, TimeoutError):
        return "start.relay_check.timeout"
    if isinstance(error, InvalidURI):
        return "start.relay_check.invalid"
    if isinstance(error, ssl.SSLError):
        return "start.relay_check.tls"
    if isinstance(error, socket.gaierror):
        return "start.relay_check.unknown_host"
    if isinstance(error, ConnectionRefusedError):
        return "start.relay_check.refused"
    if isinstance(error, RelayCommandError) and error.code == ErrorCode.UNSUPPORTED_VERSION:
        return "start.relay_check.version"
    if isinstance(error, InvalidHandshake | RelayCommandError | RelayConnectionClosed):
        return "start.relay_check.not_relay"
    if isinstance(error, DecodeError):
        return "start.relay_check.not_relay"
    return "start.relay_check.network"
