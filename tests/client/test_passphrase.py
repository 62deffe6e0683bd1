"""Tests for key derivation and the key header file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from konsel.client.core.errors import HeaderCorrupted, HeaderMissing, InvalidPassphrase
from konsel.client.core.passphrase import (
    MAX_MEMLIMIT,
    MAX_PASSPHRASE_BYTES,
    KdfParams,
    compute_verifier,
    derive_key,
    new_header,
    read_header,
    verify_key,
    write_header,
)


def test_derive_key_nfc(cheap_kdf: KdfParams) -> None:
    salt = os.urandom(16)
    composed = derive_key("kafe\u0301 ceria", salt, cheap_kdf)
    precomposed = derive_key("kaf\u00e9 ceria", salt, cheap_kdf)

    assert composed == precomposed
    assert len(composed) == 32
    assert derive_key("kafe ceria", salt, cheap_kdf) != composed


def test_derive_key_depends_on_salt(cheap_kdf: KdfParams) -> None:
    assert derive_key("sama", os.urandom(16), cheap_kdf) != derive_key(
        "sama", os.urandom(16), cheap_kdf
    )


@pytest.mark.parametrize("passphrase", ["", "x" * (MAX_PASSPHRASE_BYTES + 1)])
def test_derive_key_rejects_length(passphrase: str, cheap_kdf: KdfParams) -> None:
    with pytest.raises(InvalidPassphrase) as caught:
        derive_key(passphrase, os.urandom(16), cheap_kdf)
    assert caught.value.code == "passphrase_invalid"


def test_verifier_is_keyed(cheap_kdf: KdfParams) -> None:
    header, key = new_header("sandi", cheap_kdf)

    assert verify_key(header, key)
    assert not verify_key(header, os.urandom(32))
    assert header.verifier == compute_verifier(key)
    assert header.verifier != key


def test_header_roundtrip(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    header, _ = new_header("sandi", cheap_kdf)
    path = tmp_path / "key.json"

    write_header(path, header)

    assert read_header(path) == header
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


def test_header_has_no_key(tmp_path: Path, cheap_kdf: KdfParams) -> None:
    header, key = new_header("sandi rahasia", cheap_kdf)
    path = tmp_path / "key.json"
    write_header(path, header)

    content = path.read_bytes()

    assert key.hex().encode() not in content
    assert b"sandi rahasia" not in content


def test_header_missing(tmp_path: Path) -> None:
    with pytest.raises(HeaderMissing):
        read_header(tmp_path / "key.json")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": 2}, "format"),
        ({"kdf": "scrypt"}, "kdf"),
        ({"salt": "00" * 8}, "salt"),
        ({"salt": "zz" * 16}, "salt"),
        ({"verifier": 5}, "verifier"),
        ({"opslimit": "3"}, "integers"),
        ({"memlimit": MAX_MEMLIMIT * 2}, "memlimit"),
        ({"opslimit": 1000}, "opslimit"),
    ],
)
def test_header_rejects_field(
    tmp_path: Path, cheap_kdf: KdfParams, change: dict[str, object], reason: str
) -> None:
    header, _ = new_header("sandi", cheap_kdf)
    document = json.loads(header.to_json())
    document.update(change)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(document))

    with pytest.raises(HeaderCorrupted, match=reason):
        read_header(path)


@pytest.mark.parametrize("content", [b"[]", b"{", b"\xff\xfe", b" " * 5000])
def test_header_rejects_document(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(content)

    with pytest.raises(HeaderCorrupted):
        read_header(path)
