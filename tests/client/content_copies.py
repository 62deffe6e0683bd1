"""Read the packaged content files and write edited copies of them for the loader tests."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def packaged_text(name: str) -> str:
    return importlib.resources.files("konsel.client").joinpath("data", name).read_text("utf-8")


def edited_copy(tmp_path: Path, name: str, old: str, new: str, target: str | None = None) -> Path:
    """Write the packaged file ``name`` with its first ``old`` replaced by ``new``."""
    text = packaged_text(name)
    assert old in text, f"{old!r} not in {name}; update the test"
    path = tmp_path / (target or name)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
