"""Tests of konsel.protocol.shortcode_errors: every error code has user texts in both languages."""

from __future__ import annotations

import pytest

from konsel.protocol.errors import AuthenticationError, DecodeError, WordListError
from konsel.protocol.shortcode_errors import (
    MESSAGES,
    CodeExpiredError,
    MalformedCodeError,
    NameplateRangeError,
    PairingCancelledError,
    PairingError,
    PairingProtocolError,
    PairingTamperedError,
    ShortCodeError,
    UnknownWordError,
    WrongCodeError,
)

ERRORS: list[ShortCodeError | PairingError] = [
    MalformedCodeError("code", "code is empty"),
    NameplateRangeError("nameplate", "0 is outside 1..999"),
    UnknownWordError("kancl", 0, None),
    UnknownWordError("kancl", 0, "kancil"),
    WrongCodeError(),
    PairingTamperedError(),
    CodeExpiredError(100, 200),
    PairingCancelledError(by_peer=True),
    PairingProtocolError("unexpected message"),
]


def test_messages_cover_every_code() -> None:
    codes = {error.code for error in ERRORS}
    assert codes == set(MESSAGES)


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_messages_both_languages(code: str) -> None:
    assert set(MESSAGES[code]) == {"id", "en"}

    indonesian = MESSAGES[code]["id"].format(word="kancl", suggestion="kancil")
    english = MESSAGES[code]["en"].format(word="kancl", suggestion="kancil")
    assert indonesian.strip()
    assert english.strip()
    assert indonesian != english
    assert "{" not in indonesian
    assert "{" not in english


def test_unknown_word_code_follows_suggestion() -> None:
    assert UnknownWordError("kancl", 0, None).code == "code_word"
    assert UnknownWordError("kancl", 0, "kancil").code == "code_word_suggestion"
    assert UnknownWordError.code == "code_word"


def test_error_bases() -> None:
    assert isinstance(MalformedCodeError("code", "x"), DecodeError)
    assert isinstance(MalformedCodeError("code", "x"), ValueError)
    assert isinstance(UnknownWordError("x", 0, None), WordListError)
    assert isinstance(WrongCodeError(), AuthenticationError)
    assert isinstance(PairingTamperedError(), AuthenticationError)
    for error in ERRORS:
        assert isinstance(error, ShortCodeError | PairingError)


def test_wrong_code_message() -> None:
    assert "different codes" in str(WrongCodeError())
