"""Tests of content file reading: missing, oversized, non-UTF-8 and closed-line files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from content_copies import edited_copy, packaged_text

from konsel.client.core.content_files import load_kopasta_guide
from konsel.client.core.content_reader import MAX_FILE_BYTES, ContentFileError
from konsel.client.core.crisis_file import load_crisis_guide
from konsel.client.core.risk_cues import load_risk_cues

DATA_FILES = [
    "kopasta.toml",
    "laiseg.toml",
    "consent-v1.toml",
    "crisis-contacts.toml",
    "risk-cues.toml",
]


@pytest.mark.parametrize("name", [*DATA_FILES, "README.md"])
def test_closed_line_absent(name: str) -> None:
    """The suicide line 500-454 closed in 2014 and appears in no data file."""
    text = packaged_text(name)

    assert not re.search(r"500\D{0,3}454", text)
    assert "500454" not in re.sub(r"\D", "", text)


def test_closed_line_rejected(tmp_path: Path) -> None:
    path = edited_copy(tmp_path, "crisis-contacts.toml", 'phone = "110"', 'phone = "500-454"')

    with pytest.raises(ContentFileError, match="closed in 2014") as caught:
        load_crisis_guide(path)
    assert caught.value.file == str(path)


def test_override_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    with pytest.raises(ContentFileError, match="not found") as caught:
        load_kopasta_guide(path)
    assert caught.value.file == str(path)


def test_override_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "kopasta.toml"
    path.write_bytes(packaged_text("kopasta.toml").replace("Halo", "H\u00e9lo").encode("latin-1"))

    with pytest.raises(ContentFileError, match="not valid UTF-8"):
        load_kopasta_guide(path)


def test_override_too_large(tmp_path: Path) -> None:
    path = tmp_path / "risk-cues.toml"
    path.write_text("#" * (MAX_FILE_BYTES + 1), encoding="utf-8")

    with pytest.raises(ContentFileError, match="larger than"):
        load_risk_cues(path)


def test_override_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "risk-cues.toml"
    path.write_text("format = " + "[" * 20000 + "]" * 20000, encoding="utf-8")

    with pytest.raises(ContentFileError, match="nested too deeply"):
        load_risk_cues(path)
