"""The relay's settings: one table of options, merged from four sources.

Precedence, highest first: command-line flags, ``KONSEL_RELAY_*`` environment variables,
the TOML file named by ``--config``, then the built-in defaults below. Every option has
one name in all three spellings: ``--max-envelope``, ``KONSEL_RELAY_MAX_ENVELOPE`` and
``max_envelope = ...`` in the TOML file.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from konsel.protocol.envelope import MAX_ENVELOPE_SIZE
from konsel.protocol.relay_wire import MAX_PAIR_BODY_SIZE

from . import __version__
from .errors import ConfigError

ENV_PREFIX = "KONSEL_RELAY_"

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
DAY = 24 * 3600


@dataclass(frozen=True)
class RelayConfig:
    """Every setting of one relay process; see :data:`HELP` for units and meanings."""

    host: str = "127.0.0.1"
    port: int = 7480
    data_dir: Path = Path(platformdirs.user_data_dir("konsel-relay"))
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "INFO"

    max_envelope: int = MAX_ENVELOPE_SIZE
    inbox_max_messages: int = 1000
    inbox_max_bytes: int = 16 * MIB
    max_prekeys: int = 200
    max_storage: int = 4 * GIB
    min_free_disk: int = 256 * MIB
    message_ttl: float = 30 * DAY
    expiry_interval: float = 3600.0

    window_count: int = 32
    window_bytes: int = 1 * MIB

    creation_token: str | None = None
    create_rate: float = 60.0
    contact_rate_per_inbox: float = 60.0
    contact_rate_per_ip: float = 240.0
    command_rate: float = 200.0
    max_connections_per_ip: int = 512
    pair_join_rate: float = 6.0
    pair_join_rate_per_ip: float = 30.0
    pair_max_per_connection: int = 4
    pair_max_open_per_ip: int = 32
    forwarded_header: str | None = None

    handshake_timeout: float = 10.0
    write_timeout: float = 30.0
    write_buffer: int = 64 * KIB
    ping_interval: float = 60.0
    ping_timeout: float = 60.0


HELP: dict[str, str] = {
    "host": "address to listen on (default %(default)s; use 0.0.0.0 or :: to listen on all)",
    "port": "TCP port to listen on (default %(default)s)",
    "data_dir": "directory for the SQLite database (default: the platform's user data dir)",
    "tls_cert": "PEM certificate chain; with --tls-key the relay serves wss:// "
    "(default: plain ws:// for use behind a TLS reverse proxy)",
    "tls_key": "PEM private key for --tls-cert",
    "log_level": "DEBUG, INFO, WARNING or ERROR (default %(default)s)",
    "max_envelope": "maximum size of one envelope, in bytes (default %(default)s, the "
    "largest envelope konsel clients produce)",
    "inbox_max_messages": "messages an inbox may hold before SENDs get QUOTA_EXCEEDED "
    "(default %(default)s)",
    "inbox_max_bytes": "envelope bytes an inbox may hold (default %(default)s)",
    "max_prekeys": "one-time prekeys a contact inbox may hold (default %(default)s)",
    "max_storage": "relay-wide cap on stored bytes; above it writes get STORAGE_FULL "
    "(default %(default)s)",
    "min_free_disk": "free bytes to keep on the data disk; below it writes get STORAGE_FULL "
    "(default %(default)s; 0 turns the check off)",
    "message_ttl": "seconds an unacknowledged message is kept (default %(default)s, 30 days)",
    "expiry_interval": "seconds between sweeps for expired messages (default %(default)s)",
    "window_count": "unacknowledged deliveries in flight per subscription (default %(default)s)",
    "window_bytes": "unacknowledged envelope bytes in flight per subscription "
    "(default %(default)s)",
    "creation_token": "if set, creating an inbox requires this token (default: none needed; "
    "prefer the environment variable, because flags are visible in the process list)",
    "create_rate": "inbox creations per minute per IP address (default %(default)s)",
    "contact_rate_per_inbox": "SENDs and prekey fetches per minute to one contact inbox; "
    "SENDs to private inboxes are not counted (default %(default)s)",
    "contact_rate_per_ip": "SENDs and prekey fetches per minute from one IP address to "
    "contact inboxes; SENDs to private inboxes are not counted (default %(default)s)",
    "command_rate": "commands per second per connection (default %(default)s)",
    "max_connections_per_ip": "open connections per IP address (default %(default)s)",
    "pair_join_rate": "pairing rendezvous joins (pair_join) per minute per connection "
    "(default %(default)s; each join of a live nameplate is one guess at a short code)",
    "pair_join_rate_per_ip": "pairing rendezvous joins per minute per IP address "
    "(default %(default)s)",
    "pair_max_per_connection": "pairing rendezvous one connection may take part in at once, "
    "opened or joined (default %(default)s)",
    "pair_max_open_per_ip": "pairing rendezvous open at once from one IP address "
    "(default %(default)s)",
    "forwarded_header": "HTTP header that carries the client address set by a reverse proxy, "
    "for example X-Forwarded-For; the last entry is used (default: none, the TCP peer "
    "address is used; set it only when clients cannot reach the relay around the proxy)",
    "handshake_timeout": "seconds a client has to finish the WebSocket handshake and its "
    "hello (default %(default)s)",
    "write_timeout": "seconds a send to a client may wait for buffer space before the "
    "connection is closed (default %(default)s)",
    "write_buffer": "bytes buffered per connection before sends wait (default %(default)s)",
    "ping_interval": "seconds between keepalive pings on each connection "
    "(default %(default)s; 0 turns pings off)",
    "ping_timeout": "seconds to wait for a pong before closing the connection "
    "(default %(default)s; 0 waits forever)",
}


def _field_types() -> dict[str, type]:
    types: dict[str, type] = {}
    for field in dataclasses.fields(RelayConfig):
        default = field.default
        if field.name in ("tls_cert", "tls_key", "data_dir"):
            types[field.name] = Path
        elif field.name in ("creation_token", "forwarded_header"):
            types[field.name] = str
        else:
            types[field.name] = type(default)
    return types


FIELD_TYPES = _field_types()


def _convert(name: str, raw: object, source: str) -> object:
    expected = FIELD_TYPES[name]
    try:
        if expected is Path:
            return Path(str(raw)).expanduser()
        if expected is str:
            return str(raw)
        if expected is int:
            if isinstance(raw, bool):
                raise ValueError("a boolean is not a number")
            value: int | float = int(raw)  # type: ignore[call-overload]
        else:
            value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: invalid value {raw!r} for {name}: {error}") from None
    if value < 0:
        raise ConfigError(f"{source}: {name} must not be negative, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the ``konsel-relay`` argument parser; every option defaults to "not given"."""
    parser = argparse.ArgumentParser(
        prog="konsel-relay",
        description="Store-and-forward WebSocket relay for konsel's end-to-end encrypted "
        "envelopes. Settings come from flags, then KONSEL_RELAY_* environment variables, "
        "then the --config TOML file, then the defaults shown here.",
    )
    parser.add_argument("--version", action="version", version=f"konsel-relay {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML file with option names as keys; also read from KONSEL_RELAY_CONFIG "
        "(default: none)",
    )
    defaults = RelayConfig()
    for field in dataclasses.fields(RelayConfig):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        help_text = HELP[field.name].replace("%(default)s", str(default))
        parser.add_argument(flag, dest=field.name, default=None, help=help_text)
    return parser


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(FIELD_TYPES))
    if unknown:
        raise ConfigError(f"config file {path}: unknown option(s) {', '.join(unknown)}")
    return data


def load_config(argv: Sequence[str] | None, environ: Mapping[str, str]) -> RelayConfig:
    """Merge flags, environment, config file and defaults into one :class:`RelayConfig`.

    Raises:
        ConfigError: a value cannot be converted, or the config file is unreadable.
        SystemExit: ``--help``, ``--version`` or an unknown flag (from argparse).
    """
    arguments = build_parser().parse_args(argv)
    values: dict[str, object] = {}

    config_path = arguments.config or environ.get(ENV_PREFIX + "CONFIG")
    if config_path:
        for name, raw in _read_toml(Path(config_path)).items():
            values[name] = _convert(name, raw, f"config file {config_path}")

    for name in FIELD_TYPES:
        raw_env = environ.get(ENV_PREFIX + name.upper())
        if raw_env is not None:
            values[name] = _convert(name, raw_env, f"environment {ENV_PREFIX}{name.upper()}")

    for name in FIELD_TYPES:
        raw_flag = getattr(arguments, name)
        if raw_flag is not None:
            values[name] = _convert(name, raw_flag, "--" + name.replace("_", "-"))

    config = RelayConfig(**values)  # type: ignore[arg-type]
    _validate(config)
    return config


def _validate(config: RelayConfig) -> None:
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key must be given together")
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"invalid log level {config.log_level!r}")
    for name in (
        "max_envelope",
        "window_count",
        "window_bytes",
        "handshake_timeout",
        "pair_max_per_connection",
        "pair_max_open_per_ip",
    ):
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if config.max_envelope > 16 * MIB:
        raise ConfigError("max_envelope must be at most 16 MiB")
    # A pair_send frame must fit the frame limit of max_envelope + 1024 bytes.
    if config.max_envelope < MAX_PAIR_BODY_SIZE:
        raise ConfigError(
            f"max_envelope must be at least {MAX_PAIR_BODY_SIZE} bytes, the largest pairing message"
        )
