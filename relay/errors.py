"""Exceptions raised by konsel.relay.

::

    RelayError                  a command failed; carries the wire error code
    ├── QuotaExceededError      (storage.py) an inbox is full
    └── StorageFullError        (storage.py) the relay-wide cap or the disk floor is reached
    ConfigError                 a configuration value is invalid

A handler raises :class:`RelayError`, and the connection turns it into one ``err`` reply
that echoes the request id.
"""

from __future__ import annotations


class RelayError(Exception):
    """A command that failed with a wire error code.

    Attributes:
        code: one of :class:`konsel.protocol.relay_wire.ErrorCode`.
        message: a short English sentence for the client and the log.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConfigError(Exception):
    """A configuration value from a flag, the environment or the config file is invalid."""
