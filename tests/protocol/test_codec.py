"""Tests of konsel.protocol.codec, with a corpus of hostile msgpack inputs.

Every hostile input must raise DecodeError with a message that names the field or the
cause, and decoding it must stay within a memory bound measured with tracemalloc.
"""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Callable

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konsel.protocol.codec import Fields, Limits, pack, unpack
from konsel.protocol.content import CONTENT_LIMITS, Text, decode_content
from konsel.protocol.errors import DecodeError, UnknownTypeError, UnsupportedVersionError

LIMITS = Limits()

# Peak Python allocation allowed while decoding one small hostile input.
MAX_PEAK_BYTES = 1024 * 1024

# Peak allowed for the largest input that CONTENT_LIMITS admits. The codec builds the
# whole object tree before it checks the depth, and an empty array costs about 64 bytes
# of Python objects per input byte, so about 4.4 MB is expected for 68 KiB of input.
MAX_BOMB_PEAK_BYTES = 6 * 1024 * 1024


def nested(opener: bytes, depth: int, leaf: bytes = b"\xc0") -> bytes:
    return opener * depth + leaf


# Each case: name, input, a fragment that the error message must contain.
HOSTILE = [
    ("array32 huge length", b"\xdd\xff\xff\xff\xff", "max_array_len"),
    ("array16 over limit", b"\xdc\xff\xff" + b"\xc0" * 10, "max_array_len"),
    ("map32 huge length", b"\xdf\xff\xff\xff\xff", "max_map_len"),
    ("map16 over limit", b"\xde\xff\xff", "max_map_len"),
    ("str32 huge length", b"\xdb\xff\xff\xff\xff", "malformed msgpack"),
    ("str32 huge length with data", b"\xdb\xff\xff\xff\xff" + b"a" * 100, "malformed msgpack"),
    ("str16 over limit", b"\xda\x10\x01" + b"a" * 4097, "max_str_len"),
    ("bin32 huge length", b"\xc6\xff\xff\xff\xff", "malformed msgpack"),
    ("bin32 over limit", b"\xc6\x00\x01\x00\x01" + bytes(65537), "exceeds the limit"),
    ("10000 nested arrays", nested(b"\x91", 10_000), "nesting deeper than 8"),
    ("10000 nested maps", nested(b"\x81\xa1k", 10_000), "nesting deeper than 8"),
    ("1000 nested arrays", nested(b"\x91", 1_000), "nesting deeper than 8"),
    ("9 nested arrays", nested(b"\x91", 9), "nesting deeper than 8"),
    ("9 nested maps", nested(b"\x81\xa1k", 9), "nesting deeper than 8"),
    ("fixext1", b"\xd4\x01\x00", "ext types are not allowed"),
    ("fixext16", b"\xd8\x05" + bytes(16), "ext types are not allowed"),
    ("ext8 empty", b"\xc7\x00\x05", "ext type 5 is not allowed"),
    ("ext32 huge", b"\xc9\xff\xff\xff\xff\x05", "ext types are not allowed"),
    ("ext32 small", b"\xc9\x00\x00\x00\x01\x05\x00", "ext types are not allowed"),
    ("timestamp32", b"\xd6\xff\x00\x00\x00\x00", "ext types are not allowed"),
    ("ext inside map", b"\x81\xa1t\xd4\x01\x00", "ext types are not allowed"),
    ("trailing nil", b"\xc0\xc0", "trailing bytes"),
    ("trailing garbage", pack({"a": 1}) + b"\xff", "trailing bytes"),
    ("two documents", pack({"a": 1}) * 2, "trailing bytes"),
    ("truncated str", b"\xa5abc", "incomplete input"),
    ("truncated array", b"\x93\x01\x02", "incomplete input"),
    ("truncated map", b"\x82\xa1a\x01", "incomplete input"),
    ("truncated uint64", b"\xcf\x00\x00", "incomplete input"),
    ("empty input", b"", "input is empty"),
    ("reserved byte 0xc1", b"\xc1", "malformed msgpack"),
    ("invalid utf-8", b"\xa2\xc3\x28", "not valid UTF-8"),
    ("utf-8 surrogate", b"\xa3\xed\xa0\x80", "not valid UTF-8"),
    ("overlong utf-8", b"\xa2\xc0\xaf", "not valid UTF-8"),
    ("invalid utf-8 map key", b"\x81\xa1\xff\x01", "not valid UTF-8"),
    ("int map key", b"\x81\x01\x02", "int is not allowed for map key"),
    ("nil map key", b"\x81\xc0\x02", "NoneType is not allowed for map key"),
    ("bool map key", b"\x81\xc3\x02", "bool is not allowed for map key"),
    ("float map key", b"\x81\xcb" + bytes(8) + b"\x02", "float is not allowed for map key"),
    ("array map key", b"\x81\x91\x01\x02", "malformed msgpack"),
    ("map map key", b"\x81\x80\x02", "malformed msgpack"),
    ("oversized input", bytes(LIMITS.max_input + 1), "exceeds the limit of 65536"),
]


def peak_allocation(action: Callable[[], object]) -> int:
    """Run ``action`` under tracemalloc and return the peak bytes it allocated."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with contextlib.suppress(DecodeError):
            action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# Hostile corpus -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_unpack_hostile_rejected(data: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError) as caught:
        unpack(data, LIMITS, where="probe")

    assert fragment in str(caught.value)
    assert caught.value.field == "probe"


@pytest.mark.parametrize("data", [case[1] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_unpack_hostile_memory_bounded(data: bytes) -> None:
    peak = peak_allocation(lambda: unpack(data, LIMITS))

    assert peak < MAX_PEAK_BYTES, f"peak {peak} bytes"


@pytest.mark.parametrize("data", [case[1] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_decode_content_hostile_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_content(data)

    peak = peak_allocation(lambda: decode_content(data))
    assert peak < MAX_PEAK_BYTES, f"peak {peak} bytes"


def test_unpack_array_bomb_memory_bounded() -> None:
    """The widest tree of empty arrays that fits the content limits stays in a few MB."""
    width = CONTENT_LIMITS.max_array
    leaf_arrays = (CONTENT_LIMITS.max_input - 3) // width - 3
    inner = b"\xdc" + leaf_arrays.to_bytes(2, "big") + b"\x90" * leaf_arrays
    bomb = b"\xdc" + width.to_bytes(2, "big") + inner * width
    assert len(bomb) <= CONTENT_LIMITS.max_input

    decoded = unpack(bomb, CONTENT_LIMITS)
    assert len(decoded) == width
    peak = peak_allocation(lambda: unpack(bomb, CONTENT_LIMITS))

    assert peak < MAX_BOMB_PEAK_BYTES, f"peak {peak} bytes"


def test_unpack_deep_bomb_rejected_bounded() -> None:
    """Nesting just inside msgpack's own stack limit is built, then rejected by depth."""
    bomb = nested(b"\x91", 1_000)
    peak = peak_allocation(lambda: unpack(bomb, CONTENT_LIMITS))

    with pytest.raises(DecodeError, match="nesting deeper than 4"):
        unpack(bomb, CONTENT_LIMITS)
    assert peak < MAX_PEAK_BYTES


def test_unpack_bin_map_key_rejected() -> None:
    """A map key must be a string, but msgpack's strict_map_key also lets bin keys through."""
    with pytest.raises(DecodeError, match="map key"):
        unpack(b"\x81\xc4\x01a\x02", LIMITS)


def test_unpack_duplicate_map_key_rejected() -> None:
    """Two values for one key would let two decoders read different messages."""
    with pytest.raises(DecodeError, match="duplicate"):
        unpack(b"\x82\xa1t\xa4text\xa1t\xa4read", LIMITS)


def test_unpack_every_truncation_rejected() -> None:
    encoded = Text(bytes(16), 1, 2, body="halo 🙂", reply_to=bytes(range(16))).encode()

    for end in range(len(encoded)):
        with pytest.raises(DecodeError):
            unpack(encoded[:end], CONTENT_LIMITS)
        with pytest.raises(DecodeError):
            decode_content(encoded[:end])


def test_unpack_rejects_non_bytes() -> None:
    with pytest.raises(DecodeError, match="expected bytes, got str"):
        unpack("\x90", LIMITS)  # type: ignore[arg-type]


def test_unpack_accepts_buffer_types() -> None:
    data = pack({"a": [1, b"x", "y"]})

    for buffer in (data, bytearray(data), memoryview(data)):
        assert unpack(buffer, LIMITS) == {"a": [1, b"x", "y"]}


def test_unpack_limits_at_boundary() -> None:
    limits = Limits(max_input=64, max_str=3, max_bin=2, max_array=2, max_map=1, max_depth=2)

    assert unpack(pack({"k": ["abc", b"xy"]}), limits) == {"k": ["abc", b"xy"]}
    with pytest.raises(DecodeError, match="max_str_len"):
        unpack(pack("abcd"), limits)
    with pytest.raises(DecodeError, match="max_bin_len"):
        unpack(pack(b"xyz"), limits)
    with pytest.raises(DecodeError, match="max_array_len"):
        unpack(pack([1, 2, 3]), limits)
    with pytest.raises(DecodeError, match="max_map_len"):
        unpack(pack({"a": 1, "b": 2}), limits)
    with pytest.raises(DecodeError, match="nesting deeper than 2"):
        unpack(pack([[[]]]), limits)


def test_pack_keeps_str_and_bin_apart() -> None:
    assert pack("a") == b"\xa1a"
    assert pack(b"a") == b"\xc4\x01a"


# Wrong types through decode_content -----------------------------------------------------


def text_map(**overrides: object) -> bytes:
    document: dict[str, object] = {
        "v": 1,
        "t": "text",
        "id": bytes(16),
        "seq": 1,
        "sent_at": 2,
        "body": "halo",
    }
    document.update(overrides)
    return pack(document)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (text_map(seq=True), "seq", "expected int, got bool"),
        (text_map(sent_at=False), "sent_at", "expected int, got bool"),
        (text_map(id=5), "id", "expected bin, got int"),
        (text_map(id="0" * 16), "id", "expected bin, got str"),
        (text_map(body=None), "body", "expected str, got nil"),
        (text_map(body=b"halo"), "body", "expected str, got bytes"),
        (text_map(body=["h"]), "body", "expected str, got list"),
        (text_map(seq=1.5), "seq", "expected int, got float"),
        (text_map(seq=-(2**63)), "seq", "outside"),
        (text_map(t=None), "t", "expected str, got nil"),
        (text_map(reply_to="x" * 16), "reply_to", "expected bin, got str"),
    ],
)
def test_decode_content_wrong_types(data: bytes, field: str, fragment: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_content(data)

    assert caught.value.field == field
    assert fragment in caught.value.reason


def test_decode_content_version_checked_first() -> None:
    with pytest.raises(UnsupportedVersionError):
        decode_content(text_map(v=2, t="video"))
    with pytest.raises(UnknownTypeError):
        decode_content(text_map(t="video", seq="bad"))


# Fields ---------------------------------------------------------------------------------


def test_fields_rejects_non_map() -> None:
    with pytest.raises(DecodeError, match="outer: expected a map, got list"):
        Fields([1], "outer")


def test_fields_paths_name_nested_field() -> None:
    fields = Fields({"inner": {"n": "x"}}, "outer")

    with pytest.raises(DecodeError) as caught:
        fields.nested("inner").integer("n")

    assert caught.value.field == "outer.inner.n"


def test_fields_typed_reads() -> None:
    fields = Fields(
        {"b": b"ab", "i": 5, "s": "abc", "t": True, "a": [1], "c": "x", "v": 1, "n": None}, ""
    )

    assert fields.binary("b", size=2) == b"ab"
    assert fields.binary("b", max_size=2) == b"ab"
    assert fields.integer("i", min_value=5, max_value=5) == 5
    assert fields.string("s", max_len=3, min_len=3) == "abc"
    assert fields.boolean("t") is True
    assert fields.array("a", max_len=1) == [1]
    assert fields.choice("c", frozenset({"x"})) == "x"
    assert fields.version("v", (1,)) == 1
    assert fields.type_tag("c", frozenset({"x"})) == "x"
    assert fields.has("s")
    assert not fields.has("n")
    assert not fields.has("absent")


@pytest.mark.parametrize(
    ("read", "fragment"),
    [
        (lambda f: f.binary("b", size=3), "expected 3 bytes, got 2"),
        (lambda f: f.binary("b", max_size=1), "2 bytes exceeds the limit of 1"),
        (lambda f: f.integer("t"), "expected int, got bool"),
        (lambda f: f.integer("i", max_value=4), "5 is outside 0..4"),
        (lambda f: f.string("s", max_len=2), "length 3 is outside 0..2"),
        (lambda f: f.boolean("i"), "expected bool, got int"),
        (lambda f: f.array("a", max_len=0), "1 items exceeds the limit of 0"),
        (lambda f: f.choice("s", frozenset({"x"})), "'abc' is not one of ['x']"),
        (lambda f: f.string("missing", max_len=1), "missing"),
        (lambda f: f.binary("n"), "expected bin, got nil"),
    ],
)
def test_fields_rejections(read: Callable[[Fields], object], fragment: str) -> None:
    fields = Fields({"b": b"ab", "i": 5, "s": "abc", "t": True, "a": [1], "n": None}, "")

    with pytest.raises(DecodeError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        read(fields)


def test_fields_version_and_tag_errors() -> None:
    fields = Fields({"v": True, "w": 3, "t": "zzz"}, "")

    with pytest.raises(UnsupportedVersionError):
        fields.version("v", (1,))
    with pytest.raises(UnsupportedVersionError) as caught:
        fields.version("w", (1, 2))
    assert caught.value.supported == (1, 2)
    with pytest.raises(UnknownTypeError):
        fields.type_tag("t", frozenset({"text"}))


# Random input ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_decode_content_random_bytes(data: bytes) -> None:
    """Random bytes either decode to a content message or raise DecodeError."""
    try:
        result = decode_content(data)
    except DecodeError:
        return
    assert isinstance(result.message_id, bytes)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(msgpack_values)
def test_unpack_random_documents(value: object) -> None:
    """Any well-formed document either decodes or raises DecodeError, nothing else."""
    data = msgpack.packb(value, use_bin_type=True)
    with contextlib.suppress(DecodeError):
        unpack(data, LIMITS)
    with contextlib.suppress(DecodeError):
        decode_content(data)


@given(
    st.fixed_dictionaries(
        {"v": st.just(1), "t": st.sampled_from(["text", "read", "profile", "eval_answers"])},
        optional={
            "id": st.binary(min_size=15, max_size=17),
            "seq": st.integers(-2, 2**64 - 1) | st.booleans(),
            "sent_at": st.integers(0, 5),
            "body": st.text(max_size=5) | st.none(),
            "ids": st.lists(st.binary(min_size=16, max_size=16), max_size=3),
            "display_name": st.text(max_size=3),
            "role": st.sampled_from(["konselor", "konseli", "guru"]),
            "session_id": st.binary(min_size=16, max_size=16),
            "understanding": st.text(max_size=3),
            "comfort": st.text(max_size=3),
            "action": st.text(max_size=3),
        },
    )
)
def test_decode_content_near_valid_maps(document: dict[str, object]) -> None:
    """Maps close to valid messages either decode or raise DecodeError naming a field."""
    try:
        decode_content(pack(document))
    except DecodeError as error:
        assert error.field != ""
