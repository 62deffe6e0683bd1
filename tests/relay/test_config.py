"""Settings precedence (flags > environment > config file > defaults) and the CLI surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from konsel.relay import __version__
from konsel.relay.config import RelayConfig, load_config
from konsel.relay.errors import ConfigError


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(text)
    return path


def test_defaults_without_sources() -> None:
    config = load_config([], {})

    assert config == RelayConfig()
    assert config.ping_interval == 60.0
    assert config.message_ttl == 30 * 24 * 3600
    assert config.creation_token is None


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path, 'port = 1111\nmax_envelope = 2222\nwindow_count = 3333\nhost = "::1"\n'
    )
    environ = {"KONSEL_RELAY_PORT": "4444", "KONSEL_RELAY_MAX_ENVELOPE": "5555"}

    config = load_config(["--config", str(path), "--port", "6666"], environ)

    assert config.port == 6666  # flag beats environment and file
    assert config.max_envelope == 5555  # environment beats file
    assert config.window_count == 3333  # file beats default
    assert config.host == "::1"
    assert config.inbox_max_messages == RelayConfig().inbox_max_messages


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "write_timeout = 1.5\n")

    config = load_config([], {"KONSEL_RELAY_CONFIG": str(path)})

    assert config.write_timeout == 1.5


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--port", "abc"], {}, "invalid value 'abc' for port"),
        ([], {"KONSEL_RELAY_WRITE_TIMEOUT": "-1"}, "must not be negative"),
        (["--tls-cert", "/x.pem"], {}, "must be given together"),
        (["--log-level", "LOUD"], {}, "invalid log level"),
        (["--window-count", "0"], {}, "window_count must be positive"),
    ],
)
def test_invalid_values_rejected(argv: list[str], environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(argv, environ)


def test_unknown_file_option(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown option"):
        load_config(["--config", str(path)], {})


def test_bad_toml_reported(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "port = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(["--config", str(path)], {})


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "konsel.relay.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_version() -> None:
    result = run_cli("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"konsel-relay {__version__}"


def test_cli_help_lists_units() -> None:
    result = run_cli("--help")

    assert result.returncode == 0
    assert "--write-timeout" in result.stdout
    assert "seconds" in result.stdout
    # argparse wraps help lines, so compare with the white space folded.
    assert "in bytes (default 262144," in " ".join(result.stdout.split())
    assert "KONSEL_RELAY_" in result.stdout


def test_cli_config_error_exit_2() -> None:
    result = run_cli("--port", "not-a-port")

    assert result.returncode == 2
    assert "invalid value 'not-a-port' for port" in result.stderr
