"""Checks on the package layout that pyproject.toml declares."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = {"protocol": "konsel.protocol", "relay": "konsel.relay", "client": "konsel.client"}


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def test_every_source_package_is_declared() -> None:
    """A folder with __init__.py that pyproject.toml does not list would be missing from wheels."""
    declared = set(_pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]

    found = set()
    for folder, package in SOURCE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))

    # Data folders hold no code, so they have no __init__.py but are declared to be shipped.
    data_folders = {
        package for package in declared if package.endswith(".data") or ".locales." in package
    }
    for package in data_folders:
        top, *rest = package.removeprefix("konsel.").split(".")
        assert (ROOT / top / Path(*rest)).is_dir(), package

    assert found - declared == set(), "add these packages to [tool.setuptools] packages"
    assert declared - data_folders - found == set(), "these declared packages have no folder"


def test_generic_top_level_names_not_importable(tmp_path: Path) -> None:
    """Outside the checkout, no module named client, relay or protocol may be importable."""
    probe = "import importlib.util as u; print([n for n in ('client', 'relay', 'protocol') if u.find_spec(n)])"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_installed_names_import(tmp_path: Path) -> None:
    probe = "import konsel.protocol, konsel.relay, konsel.client.core; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_console_scripts_print_version() -> None:
    bin_dir = Path(sys.executable).parent
    for script in ("konsel-chat", "konsel-relay"):
        result = subprocess.run(
            [str(bin_dir / script), "--version"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "0.1.0" in result.stdout
