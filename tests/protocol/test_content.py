"""Tests of konsel.protocol.content: round trips, text rules and strict decoding."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from konsel.protocol.codec import pack
from konsel.protocol.content import (
    MAX_DISPLAY_NAME_CHARS,
    MAX_EVAL_ANSWER_CHARS,
    MAX_EVAL_QUESTIONS,
    MAX_QUESTION_PROMPT_CHARS,
    MAX_RECEIPT_IDS,
    MAX_SEQ,
    MAX_TEXT_BODY_CHARS,
    Consent,
    Content,
    Decline,
    Delivered,
    EvalAnswers,
    EvalQuestion,
    EvalRating,
    EvalRequest,
    Introduction,
    InvalidContentError,
    Profile,
    Read,
    SessionControl,
    Text,
    decode_content,
    new_message_id,
)
from konsel.protocol.errors import DecodeError, UnknownTypeError, UnsupportedVersionError

MESSAGE_ID = bytes(range(16))
SESSION_ID = bytes(range(16, 32))

# Code points that the text rule rejects: C0 except tab and line feed, DEL, and C1.
FORBIDDEN_TEXT_CODE_POINTS = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]

HARD_TEXTS = [
    "Halo, Bu Sari! Saya mau cerita 🙂",
    "👩🏽‍💻👨‍👩‍👧‍👦🏳️‍🌈",  # emoji with skin tone, zero-width joiners and variation selectors
    "e\u0301 a\u0308 n\u0303\u0323",  # combining marks, not normalized
    "مرحبا שלום abc",  # right-to-left scripts mixed with left-to-right
    "a\u200bb\u200cc\u200dd\ufeffe\u2060f",  # zero-width characters
    "\u202eterbalik\u202c",  # a bidi override is allowed in a text body
    "baris satu\nbaris dua\tkolom",
    "\U0010fffd\ue000",  # the last private-use code point and a BMP one
]

_REMOVE = object()
"""Marker for header(): remove the key instead of setting it."""


def header(**overrides: Any) -> dict[str, Any]:
    """Build the map of a valid text message, with some keys replaced or removed."""
    document: dict[str, Any] = {
        "v": 1,
        "t": "text",
        "id": MESSAGE_ID,
        "seq": 7,
        "sent_at": 1_764_871_200_000,
        "body": "halo",
    }
    for key, value in overrides.items():
        if value is _REMOVE:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def decode_error(document: dict[str, Any]) -> DecodeError:
    """Decode a hand-built map and return the DecodeError it must raise."""
    with pytest.raises(DecodeError) as caught:
        decode_content(pack(document))
    return caught.value


def encoded_map(message: Content) -> dict[str, Any]:
    """Decode an encoded message as a plain map, without the content checks."""
    document: dict[str, Any] = msgpack.unpackb(message.encode(), raw=False)
    return document


# Strategies -----------------------------------------------------------------------------

_forbidden = {chr(code) for code in FORBIDDEN_TEXT_CODE_POINTS}
text_chars = st.characters(exclude_categories=("Cs",)).filter(lambda c: c not in _forbidden)
message_ids = st.binary(min_size=16, max_size=16)
u64 = st.integers(min_value=0, max_value=MAX_SEQ)
header_fields = st.fixed_dictionaries({"message_id": message_ids, "seq": u64, "sent_at": u64})
question_keys = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)


def texts(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(text_chars, min_size=min_size, max_size=max_size)


def display_names() -> st.SearchStrategy[str]:
    name_chars = text_chars.filter(
        lambda c: c not in "\t\n\u2028\u2029" and not 0x202A <= ord(c) <= 0x202E
    ).filter(lambda c: not 0x2066 <= ord(c) <= 0x2069)
    return st.text(name_chars, min_size=1, max_size=MAX_DISPLAY_NAME_CHARS).filter(
        lambda name: not name.isspace()
    )


TAGS = [
    "text",
    "delivered",
    "read",
    "profile",
    "session",
    "consent",
    "eval_request",
    "eval_answers",
    "decline",
]


@st.composite
def contents(draw: st.DrawFn, kind: str | None = None) -> Content:
    """Draw a valid content message of type ``kind``, or of any type."""
    common = draw(header_fields)
    if kind is None:
        kind = draw(st.sampled_from(TAGS))
    if kind == "text":
        reply_to = draw(st.none() | message_ids)
        return Text(**common, body=draw(texts(200, min_size=1)), reply_to=reply_to)
    if kind in ("delivered", "read"):
        ids = tuple(draw(st.lists(message_ids, min_size=1, max_size=20)))
        receipt = Delivered if kind == "delivered" else Read
        return receipt(**common, message_ids=ids)
    if kind == "profile":
        return Profile(
            **common,
            display_name=draw(display_names()),
            role=draw(st.sampled_from(["konselor", "konseli"])),
            language=draw(st.sampled_from([None, "id", "en"])),
        )
    if kind == "session":
        action = draw(st.sampled_from(["start", "end"]))
        return SessionControl(**common, action=action, session_id=draw(message_ids))
    if kind == "consent":
        return Consent(
            **common,
            text_version=draw(st.from_regex(r"[A-Za-z0-9._-]{1,32}", fullmatch=True)),
            accepted=draw(st.booleans()),
            guardian_consent=draw(st.sampled_from(["given", "not_needed", "pending"])),
        )
    if kind == "eval_request":
        keys = draw(st.lists(question_keys, min_size=1, max_size=MAX_EVAL_QUESTIONS, unique=True))
        questions = tuple(EvalQuestion(key, draw(texts(80, min_size=1))) for key in keys)
        return EvalRequest(**common, session_id=draw(message_ids), questions=questions)
    if kind == "decline":
        return Decline(**common, reason=draw(st.sampled_from(["declined", "invitation_used"])))

    keys = draw(st.lists(question_keys, max_size=MAX_EVAL_QUESTIONS, unique=True))
    ratings = tuple(EvalRating(key, draw(st.integers(1, 5))) for key in keys)
    return EvalAnswers(
        **common,
        session_id=draw(message_ids),
        understanding=draw(texts(80)),
        comfort=draw(texts(80)),
        action=draw(texts(80)),
        comment=draw(st.none() | texts(80)),
        ratings=ratings,
    )


# Round trips ----------------------------------------------------------------------------


@given(contents())
def test_round_trip_every_type(message: Content) -> None:
    assert decode_content(message.encode()) == message


@pytest.mark.parametrize("tag", TAGS)
@given(data=st.data())
def test_round_trip_each_tag(tag: str, data: st.DataObject) -> None:
    message = data.draw(contents(tag))
    decoded = decode_content(message.encode())

    assert decoded == message
    assert type(decoded) is type(message)


@pytest.mark.parametrize("body", HARD_TEXTS)
def test_text_hard_unicode_exact(body: str) -> None:
    message = Text(MESSAGE_ID, 1, 2, body=body)
    decoded = decode_content(message.encode())

    assert isinstance(decoded, Text)
    assert decoded.body == body
    assert decoded.body.encode("utf-8") == body.encode("utf-8")


@given(texts(300, min_size=1))
def test_text_any_allowed_text(body: str) -> None:
    decoded = decode_content(Text(MESSAGE_ID, 1, 2, body=body).encode())

    assert isinstance(decoded, Text)
    assert decoded.body == body


def test_text_max_length_four_byte_chars() -> None:
    """The longest body of 4-byte characters fits the content limits."""
    body = "😀" * MAX_TEXT_BODY_CHARS
    decoded = decode_content(Text(MESSAGE_ID, MAX_SEQ, MAX_SEQ, body=body).encode())

    assert isinstance(decoded, Text)
    assert decoded.body == body


def test_receipt_max_ids() -> None:
    ids = tuple(index.to_bytes(16, "big") for index in range(MAX_RECEIPT_IDS))
    decoded = decode_content(Read(MESSAGE_ID, 1, 2, message_ids=ids).encode())

    assert isinstance(decoded, Read)
    assert decoded.message_ids == ids


def test_eval_answers_longest_fields() -> None:
    long_text = "ü" * MAX_EVAL_ANSWER_CHARS
    message = EvalAnswers(
        MESSAGE_ID,
        1,
        2,
        session_id=SESSION_ID,
        understanding=long_text,
        comfort=long_text,
        action=long_text,
        comment=long_text,
        ratings=tuple(EvalRating(f"q{i}", 5) for i in range(MAX_EVAL_QUESTIONS)),
    )

    assert decode_content(message.encode()) == message


def test_optional_fields_omitted() -> None:
    document = encoded_map(Text(MESSAGE_ID, 1, 2, body="x"))
    assert "reply_to" not in document

    profile = encoded_map(Profile(MESSAGE_ID, 1, 2, display_name="Ani", role="konseli"))
    assert "language" not in profile


def test_optional_nil_means_absent() -> None:
    decoded = decode_content(pack(header(reply_to=None)))

    assert isinstance(decoded, Text)
    assert decoded.reply_to is None


def test_unknown_keys_ignored() -> None:
    decoded = decode_content(pack(header(future_field={"nested": [1, 2]}, mood="senang")))

    assert decoded == Text(MESSAGE_ID, 7, 1_764_871_200_000, body="halo")


def test_new_message_id_uses_seam() -> None:
    requested: list[int] = []

    def fake_random(size: int) -> bytes:
        requested.append(size)
        return b"\xab" * size

    assert new_message_id(fake_random) == b"\xab" * 16
    assert requested == [16]
    assert len(new_message_id()) == 16
    assert new_message_id() != new_message_id()


# Version and type tag -------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, 255, "1", True, 1.0, None])
def test_version_unsupported(version: object) -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        decode_content(pack(header(v=version)))

    assert caught.value.field == "v"


def test_version_missing() -> None:
    error = decode_error(header(v=_REMOVE))

    assert error.field == "v"
    assert "missing" in error.reason


@pytest.mark.parametrize("tag", ["image", "TEXT", "text ", "x" * 32])
def test_type_tag_unknown(tag: str) -> None:
    with pytest.raises(UnknownTypeError) as caught:
        decode_content(pack(header(t=tag)))

    assert caught.value.field == "t"
    assert caught.value.tag == tag


@pytest.mark.parametrize("tag", [1, b"text", None, "", "x" * 33])
def test_type_tag_malformed(tag: object) -> None:
    error = decode_error(header(t=tag))

    assert error.field == "t"
    assert not isinstance(error, UnknownTypeError)


def test_top_level_not_a_map() -> None:
    with pytest.raises(DecodeError, match="expected a map"):
        decode_content(pack(["v", 1, "t", "text"]))


# Header fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("id", MESSAGE_ID[:15], "expected 16 bytes"),
        ("id", MESSAGE_ID + b"\x00", "expected 16 bytes"),
        ("id", "0123456789abcdef", "expected bin, got str"),
        ("id", 5, "expected bin, got int"),
        ("id", None, "expected bin, got nil"),
        ("id", _REMOVE, "missing"),
        ("seq", True, "expected int, got bool"),
        ("seq", -1, "outside"),
        ("seq", 1.0, "expected int, got float"),
        ("seq", "7", "expected int, got str"),
        ("seq", _REMOVE, "missing"),
        ("sent_at", False, "expected int, got bool"),
        ("sent_at", -5, "outside"),
        ("sent_at", None, "expected int, got nil"),
    ],
)
def test_header_field_invalid(field: str, value: object, reason: str) -> None:
    error = decode_error(header(**{field: value}))

    assert error.field == field
    assert reason in error.reason


def test_seq_full_u64_range() -> None:
    for seq in (0, 2**32, MAX_SEQ):
        decoded = decode_content(pack(header(seq=seq, sent_at=seq)))
        assert decoded.seq == seq
        assert decoded.sent_at == seq


# Text rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("code_point", FORBIDDEN_TEXT_CODE_POINTS)
def test_text_control_character_rejected(code_point: int) -> None:
    error = decode_error(header(body=f"ab{chr(code_point)}cd"))

    assert error.field == "body"
    assert f"U+{code_point:04X}" in error.reason
    assert "index 2" in error.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "outside 1..16000"),
        ("x" * (MAX_TEXT_BODY_CHARS + 1), "outside 0..16000"),
        (b"halo", "expected str, got bytes"),
        (None, "expected str, got nil"),
        (_REMOVE, "missing"),
    ],
)
def test_text_body_invalid(body: object, reason: str) -> None:
    error = decode_error(header(body=body))

    assert error.field == "body"
    assert reason in error.reason


def test_text_reply_to_wrong_size() -> None:
    error = decode_error(header(reply_to=b"\x01" * 8))

    assert error.field == "reply_to"


def test_text_invalid_utf8_rejected() -> None:
    valid = pack(header(body="ab"))
    broken = valid.replace(b"\xa2ab", b"\xa2\xc3\x28")

    with pytest.raises(DecodeError, match="UTF-8"):
        decode_content(broken)


def test_text_construct_invalid_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"body: control character U\+001B"):
        Text(MESSAGE_ID, 1, 2, body="\x1b[2J")
    with pytest.raises(ValueError, match="id: expected 16 bytes"):
        Text(b"short", 1, 2, body="x")
    with pytest.raises(ValueError, match="seq"):
        Text(MESSAGE_ID, -1, 2, body="x")
    with pytest.raises(ValueError, match="seq"):
        Text(MESSAGE_ID, True, 2, body="x")


def test_invalid_content_is_decode_error() -> None:
    assert issubclass(InvalidContentError, DecodeError)
    assert issubclass(InvalidContentError, ValueError)


# Receipts -------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["delivered", "read"])
@pytest.mark.parametrize(
    ("ids", "field", "reason"),
    [
        ([], "ids", "outside 1..256"),
        ([MESSAGE_ID] * (MAX_RECEIPT_IDS + 1), "ids", "exceeds the limit of 256"),
        ([MESSAGE_ID, MESSAGE_ID[:4]], "ids[1]", "expected 16 bytes"),
        ([MESSAGE_ID, "abc"], "ids[1]", "expected bin, got str"),
        ([None], "ids[0]", "expected bin, got nil"),
        ({"0": MESSAGE_ID}, "ids", "expected array, got dict"),
        (MESSAGE_ID, "ids", "expected array, got bytes"),
    ],
)
def test_receipt_ids_invalid(tag: str, ids: object, field: str, reason: str) -> None:
    error = decode_error(header(t=tag, body=_REMOVE, ids=ids))

    assert error.field == field
    assert reason in error.reason


# Profile --------------------------------------------------------------------------------


def profile_map(**overrides: Any) -> dict[str, Any]:
    base = {"t": "profile", "body": _REMOVE, "display_name": "Bu Sari", "role": "konselor"}
    base.update(overrides)
    return header(**base)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "outside 1..64"),
        ("n" * (MAX_DISPLAY_NAME_CHARS + 1), "outside 0..64"),
        ("Ani\nBudi", "U+000A"),
        ("Ani\tBudi", "U+0009"),
        ("Ani\x85", "U+0085"),
        ("\u202eilA", "U+202E"),
        ("Ani\u2066x\u2069", "U+2066"),
        ("Ani\u2028", "U+2028"),
        ("   ", "only whitespace"),
        (42, "expected str, got int"),
    ],
)
def test_profile_display_name_invalid(name: object, reason: str) -> None:
    error = decode_error(profile_map(display_name=name))

    assert error.field == "display_name"
    assert reason in error.reason


def test_profile_display_name_unicode_allowed() -> None:
    name = "Siti Nurhaliza 🌸 ज़"
    decoded = decode_content(pack(profile_map(display_name=name, language="id")))

    assert decoded == Profile(
        MESSAGE_ID, 7, 1_764_871_200_000, display_name=name, role="konselor", language="id"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"role": "Konselor"}, "role"),
        ({"role": _REMOVE}, "role"),
        ({"language": "fr"}, "language"),
        ({"language": 1}, "language"),
    ],
)
def test_profile_choice_invalid(overrides: dict[str, Any], field: str) -> None:
    error = decode_error(profile_map(**overrides))

    assert error.field == field


# Session and consent --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"action": "pause"}, "action"),
        ({"action": None}, "action"),
        ({"session_id": SESSION_ID[:15]}, "session_id"),
        ({"session_id": _REMOVE}, "session_id"),
    ],
)
def test_session_invalid(overrides: dict[str, Any], field: str) -> None:
    base = {"t": "session", "body": _REMOVE, "action": "start", "session_id": SESSION_ID}
    base.update(overrides)

    assert decode_error(header(**base)).field == field


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"accepted": 1}, "accepted", "expected bool, got int"),
        ({"accepted": "true"}, "accepted", "expected bool, got str"),
        ({"guardian_consent": "unknown"}, "guardian_consent", "is not one of"),
        ({"text_version": ""}, "text_version", "does not match"),
        ({"text_version": "v 1"}, "text_version", "does not match"),
        ({"text_version": "v" * 33}, "text_version", "outside 0..32"),
    ],
)
def test_consent_invalid(overrides: dict[str, Any], field: str, reason: str) -> None:
    base = {
        "t": "consent",
        "body": _REMOVE,
        "text_version": "2026.1",
        "accepted": True,
        "guardian_consent": "pending",
    }
    base.update(overrides)
    error = decode_error(header(**base))

    assert error.field == field
    assert reason in error.reason


# LAISEG evaluation ----------------------------------------------------------------------


def eval_request_map(questions: object) -> dict[str, Any]:
    return header(t="eval_request", body=_REMOVE, session_id=SESSION_ID, questions=questions)


@pytest.mark.parametrize(
    ("questions", "field", "reason"),
    [
        ([], "questions", "outside 1..16"),
        ([{"key": f"q{i}", "prompt": "?"} for i in range(17)], "questions", "exceeds the limit"),
        (["bukan map"], "questions[0]", "expected a map, got str"),
        (
            [{"key": "a", "prompt": "?"}, {"key": "a", "prompt": "?"}],
            "questions[1].key",
            "duplicate key",
        ),
        ([{"key": "Understanding", "prompt": "?"}], "questions[0].key", "does not match"),
        ([{"key": "1st", "prompt": "?"}], "questions[0].key", "does not match"),
        ([{"key": "a", "prompt": ""}], "questions[0].prompt", "outside 1..500"),
        ([{"key": "a", "prompt": "x\x00"}], "questions[0].prompt", "U+0000"),
        (
            [{"key": "a", "prompt": "x" * (MAX_QUESTION_PROMPT_CHARS + 1)}],
            "questions[0].prompt",
            "outside 0..500",
        ),
        ([{"key": "a"}], "questions[0].prompt", "missing"),
    ],
)
def test_eval_request_invalid(questions: object, field: str, reason: str) -> None:
    error = decode_error(eval_request_map(questions))

    assert error.field == field
    assert reason in error.reason


def eval_answers_map(**overrides: Any) -> dict[str, Any]:
    base = {
        "t": "eval_answers",
        "body": _REMOVE,
        "session_id": SESSION_ID,
        "understanding": "Saya paham cara mengatur waktu belajar.",
        "comfort": "Lega.",
        "action": "Membuat jadwal.",
    }
    base.update(overrides)
    return header(**base)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"understanding": _REMOVE}, "understanding", "missing"),
        ({"comfort": None}, "comfort", "expected str, got nil"),
        ({"action": "a\x07"}, "action", "U+0007"),
        ({"comment": "x" * (MAX_EVAL_ANSWER_CHARS + 1)}, "comment", "outside 0..2000"),
        ({"ratings": [{"key": "comfort", "score": 0}]}, "ratings[0].score", "outside 1..5"),
        ({"ratings": [{"key": "comfort", "score": 6}]}, "ratings[0].score", "outside 1..5"),
        (
            {"ratings": [{"key": "comfort", "score": True}]},
            "ratings[0].score",
            "expected int, got bool",
        ),
        (
            {"ratings": [{"key": "comfort", "score": 4.5}]},
            "ratings[0].score",
            "expected int, got float",
        ),
        (
            {"ratings": [{"key": "a", "score": 1}, {"key": "a", "score": 2}]},
            "ratings[1].key",
            "duplicate key",
        ),
        ({"ratings": [{"score": 3}]}, "ratings[0].key", "missing"),
        ({"ratings": [{"key": "q", "score": 3}] * 17}, "ratings", "exceeds the limit"),
    ],
)
def test_eval_answers_invalid(overrides: dict[str, Any], field: str, reason: str) -> None:
    error = decode_error(eval_answers_map(**overrides))

    assert error.field == field
    assert reason in error.reason


def test_eval_answers_empty_answers_allowed() -> None:
    """A konseli may leave an answer blank; the three keys must still be present."""
    decoded = decode_content(pack(eval_answers_map(understanding="", comfort="", action="")))

    assert isinstance(decoded, EvalAnswers)
    assert (decoded.understanding, decoded.comfort, decoded.action) == ("", "", "")
    assert decoded.ratings == ()


# Local construction ---------------------------------------------------------------------


def test_constructors_validate_like_decoder() -> None:
    """Every type rejects at construction what decode_content rejects."""
    valid_request = EvalRequest(
        MESSAGE_ID,
        1,
        2,
        session_id=SESSION_ID,
        questions=(EvalQuestion("understanding", "Apa yang kamu pahami?"),),
    )
    bad_cases = [
        lambda: Read(MESSAGE_ID, 1, 2, message_ids=()),
        lambda: Profile(MESSAGE_ID, 1, 2, display_name="", role="konseli"),
        lambda: Profile(MESSAGE_ID, 1, 2, display_name="Ani", role="guru"),  # type: ignore[arg-type]
        lambda: SessionControl(MESSAGE_ID, 1, 2, action="stop", session_id=SESSION_ID),  # type: ignore[arg-type]
        lambda: Consent(
            MESSAGE_ID,
            1,
            2,
            text_version="1",
            accepted=1,  # type: ignore[arg-type]
            guardian_consent="given",
        ),
        lambda: dataclasses.replace(valid_request, questions=()),
        lambda: EvalAnswers(
            MESSAGE_ID,
            1,
            2,
            session_id=SESSION_ID,
            understanding="",
            comfort="",
            action="",
            ratings=(EvalRating("a", 9),),
        ),
    ]
    for build in bad_cases:
        with pytest.raises(InvalidContentError):
            build()


# Introductions --------------------------------------------------------------------------

INBOX_ID = bytes(range(32, 48))
SENDER_KEY = bytes(range(64, 96))


@st.composite
def introductions(draw: st.DrawFn) -> Introduction:
    """Draw a valid introduction."""
    return Introduction(
        **draw(header_fields),
        display_name=draw(display_names()),
        role=draw(st.sampled_from(["konselor", "konseli"])),
        relay_url=draw(st.from_regex(r"wss?://[a-z0-9.:-]{1,200}", fullmatch=True)),
        inbox_id=draw(message_ids),
        sender_key=draw(st.binary(min_size=32, max_size=32)),
        language=draw(st.sampled_from([None, "id", "en"])),
        contact_inbox=draw(st.none() | message_ids),
    )


@given(introductions())
def test_introduction_round_trip(message: Introduction) -> None:
    decoded = decode_content(message.encode())

    assert decoded == message
    assert type(decoded) is Introduction


def intro_map(**overrides: Any) -> dict[str, Any]:
    """Build the map of a valid introduction, with some keys replaced or removed."""
    base: dict[str, Any] = {
        "t": "intro",
        "body": _REMOVE,
        "display_name": "Dimas",
        "role": "konseli",
        "relay_url": "wss://relay.sekolah.sch.id",
        "inbox_id": INBOX_ID,
        "sender_key": SENDER_KEY,
    }
    base.update(overrides)
    return header(**base)


def test_introduction_valid_map() -> None:
    decoded = decode_content(pack(intro_map()))

    assert isinstance(decoded, Introduction)
    assert decoded.inbox_id == INBOX_ID
    assert decoded.relay_url == "wss://relay.sekolah.sch.id"
    assert decoded.language is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"inbox_id": INBOX_ID[:15]}, "inbox_id"),
        ({"inbox_id": _REMOVE}, "inbox_id"),
        ({"sender_key": SENDER_KEY + b"\x00"}, "sender_key"),
        ({"sender_key": "kunci"}, "sender_key"),
        ({"relay_url": "https://relay.sekolah.sch.id"}, "relay_url"),
        ({"relay_url": "wss://relay sekolah"}, "relay_url"),
        ({"relay_url": "wss://" + "a" * 251}, "relay_url"),
        ({"relay_url": _REMOVE}, "relay_url"),
        ({"role": "guru"}, "role"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "Dimas\u202e"}, "display_name"),
        ({"language": "jv"}, "language"),
        ({"contact_inbox": INBOX_ID[:15]}, "contact_inbox"),
        ({"contact_inbox": "kotak"}, "contact_inbox"),
    ],
)
def test_introduction_invalid(overrides: dict[str, Any], field: str) -> None:
    assert decode_error(intro_map(**overrides)).field == field


def test_introduction_construct_invalid() -> None:
    with pytest.raises(InvalidContentError) as caught:
        Introduction(
            MESSAGE_ID,
            0,
            0,
            display_name="Bu Sari",
            role="konselor",
            relay_url="ws://127.0.0.1:7480",
            inbox_id=INBOX_ID,
            sender_key=SENDER_KEY[:31],
        )
    assert caught.value.field == "sender_key"


def test_introduction_contact_inbox_optional() -> None:
    """An introduction without ``contact_inbox`` decodes to None; with one, to its bytes."""
    without = decode_content(pack(intro_map()))
    with_inbox = decode_content(pack(intro_map(contact_inbox=SENDER_KEY[:16])))

    assert isinstance(without, Introduction)
    assert without.contact_inbox is None
    assert "contact_inbox" not in encoded_map(without)
    assert isinstance(with_inbox, Introduction)
    assert with_inbox.contact_inbox == SENDER_KEY[:16]


def decline_map(**overrides: Any) -> dict[str, Any]:
    """Build the map of a valid decline, with some keys replaced or removed."""
    base: dict[str, Any] = {"t": "decline", "body": _REMOVE, "reason": "declined"}
    base.update(overrides)
    return header(**base)


@pytest.mark.parametrize("reason", ["declined", "invitation_used"])
def test_decline_valid_map(reason: str) -> None:
    decoded = decode_content(pack(decline_map(reason=reason)))

    assert isinstance(decoded, Decline)
    assert decoded.reason == reason
    assert encoded_map(decoded) == decline_map(reason=reason)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ditolak", "is not one of"),
        ("", "is not one of"),
        (_REMOVE, "missing"),
        (1, "expected str"),
    ],
)
def test_decline_reason_invalid(reason: object, message: str) -> None:
    error = decode_error(decline_map(reason=reason))

    assert error.field == "reason"
    assert message in str(error)


def test_decline_construct_invalid() -> None:
    with pytest.raises(InvalidContentError) as caught:
        Decline(MESSAGE_ID, 1, 0, reason="busy")  # type: ignore[arg-type]
    assert caught.value.field == "reason"
