"""The primitives of the canonical encoding: varints, tagged length heads, names, numbers."""

from __future__ import annotations

import struct

__all__ = [
    "BYTEARRAY_HEADS",
    "BYTES_HEADS",
    "DICT_HEADS",
    "FROZENSET_HEADS",
    "INT_HEADS",
    "LIST_HEADS",
    "NAN_BYTES",
    "SET_HEADS",
    "SMALL_INTS",
    "STR_HEADS",
    "TUPLE_HEADS",
    "double",
    "head",
    "heads",
    "int_encoding",
    "pack_double",
    "qualname",
    "utf8",
    "varint",
]


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def heads(tag: bytes) -> tuple[bytes, ...]:
    """Tag + one-byte length for every length below 128: a short value's head is one lookup."""
    return tuple(tag + bytes((n,)) for n in range(0x80))


INT_HEADS, STR_HEADS, BYTES_HEADS, BYTEARRAY_HEADS = map(heads, [b"i", b"s", b"b", b"y"])
TUPLE_HEADS, LIST_HEADS, DICT_HEADS = map(heads, [b"t", b"l", b"d"])
SET_HEADS, FROZENSET_HEADS = map(heads, [b"u", b"z"])


def head(heads: tuple[bytes, ...], n: int) -> bytes:
    return heads[n] if n < 0x80 else heads[0][:1] + varint(n)


def utf8(text: str) -> bytes:
    """Untagged length-prefixed UTF-8, for names inside a tagged value."""
    data = text.encode("utf-8", "surrogatepass")
    return varint(len(data)) + data


def qualname(cls: type) -> str:
    return f"{getattr(cls, '__module__', None)}.{cls.__qualname__}"


def int_encoding(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) >> 3, "big", signed=True)
    return head(INT_HEADS, len(data)) + data


SMALL_INTS = {n: int_encoding(n) for n in range(-256, 1024)}
pack_double = struct.Struct(">d").pack
NAN_BYTES = b"\x7f\xf8\x00\x00\x00\x00\x00\x00"


def double(value: float) -> bytes:
    return NAN_BYTES if value != value else pack_double(value)  # noqa: PLR0124 (NaN test, no call)
