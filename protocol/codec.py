"""Strict, bounded msgpack encoding and decoding for untrusted bytes.

Every decoder in konsel goes through :func:`unpack` with explicit limits, and then reads
fields through :class:`Fields`, which checks exact types. Rules enforced here:

* the input is at most ``limits.max_input`` bytes;
* strings, binaries, arrays and maps are bounded by the limits before memory is allocated
  (msgpack checks a declared length against the limit, so a huge declared length is
  rejected without allocating it);
* nesting is at most ``limits.max_depth`` levels;
* ext types, non-string map keys, invalid UTF-8 and trailing bytes are rejected;
* booleans are never accepted where an integer is expected, and the other way round.

Unknown map keys are ignored by :class:`Fields`, so a newer peer may add fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import msgpack

from .errors import DecodeError, UnknownTypeError, UnsupportedVersionError


@dataclass(frozen=True)
class Limits:
    """Bounds applied while decoding one msgpack document."""

    max_input: int = 64 * 1024
    max_str: int = 4096
    max_bin: int = 64 * 1024
    max_array: int = 256
    max_map: int = 64
    max_depth: int = 8


def pack(obj: object) -> bytes:
    """Encode ``obj`` as msgpack with binary and string types kept apart."""
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def _reject_ext(code: int, data: bytes) -> NoReturn:
    raise DecodeError("", f"ext type {code} is not allowed")


def _build_map(pairs: list[tuple[object, object]]) -> dict[str, object]:
    # msgpack's strict_map_key still admits bin keys, and a plain dict would let the last
    # of two equal keys win, so two decoders could read one input as different messages.
    result: dict[str, object] = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise DecodeError("", f"map key of type {_type_name(key)} is not allowed")
        if key in result:
            raise DecodeError("", f"duplicate map key {key!r}")
        result[key] = value
    return result


def unpack(data: bytes, limits: Limits, *, where: str = "") -> Any:
    """Decode exactly one msgpack object from ``data`` within ``limits``.

    Raises:
        DecodeError: the input is too large, malformed, too deep, uses ext types or
            non-string map keys, or has trailing bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(where, f"expected bytes, got {type(data).__name__}")
    if len(data) > limits.max_input:
        raise DecodeError(
            where, f"input of {len(data)} bytes exceeds the limit of {limits.max_input}"
        )
    if len(data) == 0:
        raise DecodeError(where, "input is empty")

    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_reject_ext,
            object_pairs_hook=_build_map,
            max_str_len=limits.max_str,
            max_bin_len=limits.max_bin,
            max_array_len=limits.max_array,
            max_map_len=limits.max_map,
            max_ext_len=0,
        )
    except DecodeError as error:
        raise DecodeError(where, error.reason) from None
    except msgpack.ExtraData:
        raise DecodeError(where, "trailing bytes after the msgpack object") from None
    except UnicodeDecodeError:
        raise DecodeError(where, "string is not valid UTF-8") from None
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        # msgpack reports limits, truncation, stack overflow and bad map keys this way.
        detail = str(error) or type(error).__name__
        if "max_ext_len" in detail:
            detail = "ext types are not allowed"
        if isinstance(error, msgpack.StackError):
            raise DecodeError(where, f"nesting deeper than {limits.max_depth} levels") from None
        raise DecodeError(where, f"malformed msgpack ({detail})") from None

    _check_depth(obj, limits.max_depth, where)
    return obj


def _check_depth(root: object, max_depth: int, where: str) -> None:
    # Iterative walk, so a hostile document cannot exhaust the Python stack here.
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list | dict):
            if depth > max_depth:
                raise DecodeError(where, f"nesting deeper than {max_depth} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def _type_name(value: object) -> str:
    return "nil" if value is None else type(value).__name__


class Fields:
    """Typed, bounded access to the fields of one decoded msgpack map.

    Args:
        obj: the decoded object, which must be a map with string keys.
        where: dotted path of this map, used in error messages.
    """

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            raise DecodeError(where, f"expected a map, got {_type_name(obj)}")
        self._map: Mapping[str, object] = obj
        self.where = where

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        """Return whether ``key`` is present and not nil."""
        return self._map.get(key) is not None

    def _get(self, key: str) -> object:
        if key not in self._map:
            raise DecodeError(self._path(key), "missing")
        return self._map[key]

    def binary(self, key: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
        """Read a binary field of exactly ``size`` or at most ``max_size`` bytes."""
        value = self._get(key)
        if not isinstance(value, bytes):
            raise DecodeError(self._path(key), f"expected bin, got {_type_name(value)}")
        if size is not None and len(value) != size:
            raise DecodeError(self._path(key), f"expected {size} bytes, got {len(value)}")
        if max_size is not None and len(value) > max_size:
            raise DecodeError(
                self._path(key), f"{len(value)} bytes exceeds the limit of {max_size}"
            )
        return value

    def integer(self, key: str, *, min_value: int = 0, max_value: int = 2**32 - 1) -> int:
        """Read an integer field within ``[min_value, max_value]``."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(self._path(key), f"expected int, got {_type_name(value)}")
        if not min_value <= value <= max_value:
            raise DecodeError(self._path(key), f"{value} is outside {min_value}..{max_value}")
        return value

    def string(self, key: str, *, max_len: int, min_len: int = 0) -> str:
        """Read a string field of ``min_len`` to ``max_len`` characters."""
        value = self._get(key)
        if not isinstance(value, str):
            raise DecodeError(self._path(key), f"expected str, got {_type_name(value)}")
        if not min_len <= len(value) <= max_len:
            raise DecodeError(
                self._path(key), f"length {len(value)} is outside {min_len}..{max_len}"
            )
        return value

    def boolean(self, key: str) -> bool:
        """Read a boolean field."""
        value = self._get(key)
        if not isinstance(value, bool):
            raise DecodeError(self._path(key), f"expected bool, got {_type_name(value)}")
        return value

    def array(self, key: str, *, max_len: int) -> list[object]:
        """Read an array field of at most ``max_len`` items."""
        value = self._get(key)
        if not isinstance(value, list):
            raise DecodeError(self._path(key), f"expected array, got {_type_name(value)}")
        if len(value) > max_len:
            raise DecodeError(self._path(key), f"{len(value)} items exceeds the limit of {max_len}")
        return value

    def nested(self, key: str) -> Fields:
        """Read a nested map field."""
        return Fields(self._get(key), self._path(key))

    def choice(self, key: str, allowed: frozenset[str]) -> str:
        """Read a string field whose value must be one of ``allowed``."""
        value = self.string(key, max_len=64)
        if value not in allowed:
            raise DecodeError(self._path(key), f"{value!r} is not one of {sorted(allowed)}")
        return value

    def version(self, key: str, supported: tuple[int, ...]) -> int:
        """Read a protocol version and reject one this code does not speak."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value not in supported:
            raise UnsupportedVersionError(self._path(key), value, supported)
        return value

    def type_tag(self, key: str, known: frozenset[str]) -> str:
        """Read a type tag and reject one this version does not define."""
        value = self.string(key, max_len=32, min_len=1)
        if value not in known:
            raise UnknownTypeError(self._path(key), value)
        return value
