"""Command-line options of konsel-chat that set up the app before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from konsel.client.cli import build_parser, remember_lock_after
from konsel.client.tui.settings import load_settings


def test_lock_after_is_kept_in_the_profile(tmp_path: Path) -> None:
    arguments = build_parser().parse_args(["--lock-after", "3", "--profile-dir", str(tmp_path)])

    remember_lock_after(Path(arguments.profile_dir), arguments.lock_after)

    assert load_settings(tmp_path).idle_lock_minutes == 3


@pytest.mark.parametrize("value", ["-1", "1441", "lima", "2.5"])
def test_lock_after_refuses_values_outside_a_day(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["--lock-after", value])

    assert stopped.value.code == 2
    assert repr(value) in capsys.readouterr().err
