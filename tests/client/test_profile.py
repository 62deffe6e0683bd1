"""Tests for profile directories, their permissions and their lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from konsel.client.core.errors import InvalidProfileName, ProfileLocked
from konsel.client.core.profile import (
    DEFAULT_PROFILE_NAME,
    Profile,
    ProfileLock,
    create_private_file,
    resolve_profile,
)


def test_resolve_default_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    profile = resolve_profile()

    assert profile.directory == tmp_path / "data" / "konsel" / DEFAULT_PROFILE_NAME


def test_resolve_named_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    assert resolve_profile("guru-bk_2").directory == tmp_path / "data" / "konsel" / "guru-bk_2"


def test_resolve_explicit_directory(tmp_path: Path) -> None:
    profile = resolve_profile("ignored", directory=tmp_path / "mine")

    assert profile.directory == tmp_path / "mine"
    assert profile.database_path == tmp_path / "mine" / "konsel.db"
    assert profile.header_path == tmp_path / "mine" / "key.json"


@pytest.mark.parametrize("name", ["", "..", "../etc", "a/b", ".hidden", "x" * 65, "nama siswa"])
def test_resolve_rejects_unsafe_name(name: str) -> None:
    with pytest.raises(InvalidProfileName) as caught:
        resolve_profile(name)
    assert caught.value.code == "profile_name_invalid"


def test_directory_created_private(tmp_path: Path) -> None:
    profile = Profile(tmp_path / "a" / "profile")
    previous = os.umask(0)
    try:
        profile.ensure_directory()
    finally:
        os.umask(previous)

    assert profile.directory.stat().st_mode & 0o777 == 0o700
    assert profile.directory.parent.stat().st_mode & 0o777 == 0o700


def test_directory_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "profile"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)

    Profile(directory).ensure_directory()

    assert directory.stat().st_mode & 0o777 == 0o700


def test_private_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"")
    os.chmod(path, 0o644)

    create_private_file(path)

    assert path.stat().st_mode & 0o777 == 0o600


def test_lock_excludes_second_holder(tmp_path: Path) -> None:
    profile = Profile(tmp_path)
    first = ProfileLock(profile)
    second = ProfileLock(profile)
    first.acquire()

    with pytest.raises(ProfileLocked) as caught:
        second.acquire()
    assert caught.value.lock_path == profile.lock_path

    first.release()
    first.release()
    second.acquire()
    second.release()
    assert profile.lock_path.stat().st_mode & 0o777 == 0o600
