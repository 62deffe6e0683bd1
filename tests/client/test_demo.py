"""The ``konsel-chat demo`` command, run as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

KONSEL_CHAT = Path(sys.executable).parent / "konsel-chat"


@pytest.mark.parametrize(
    ("language", "clean_line", "received"),
    [
        ("id", "relai hanya menyimpan teks sandi", "[Bu Sari] menerima: Iya, Bu, betul."),
        ("en", "the relay stored only ciphertext", "[Bu Sari] received: Yes, that's right."),
    ],
)
def test_demo_runs_conversation(language: str, clean_line: str, received: str) -> None:
    result = subprocess.run(
        [str(KONSEL_CHAT), "--lang", language, "demo", "--pause", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert clean_line in result.stdout
    assert received in result.stdout

    # Both sides computed the same safety code, shown as six groups of five digits.
    assert re.search(r"^  (\d{5} ){5}\d{5}$", result.stdout, re.MULTILINE)
    assert "PERINGATAN" not in result.stdout
    assert "WARNING" not in result.stdout

    folder = re.search(r"(/\S*konsel-demo-\w+)", result.stdout)
    assert folder is not None
    assert not Path(folder.group(1).rstrip(").")).exists()
