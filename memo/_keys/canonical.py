"""Canonical bytes for Python values: the stable, collision-free input of every cache key.

Each value encodes as a one-byte type tag and a payload; every variable-size part carries a
length (unsigned LEB128 varint) first, so encodings are self-delimiting and a concatenation of
them can be read back one way only. The format never uses ``hash()``, ``id()`` or a default
``repr``, so the same value gives the same bytes in every process and interpreter run.

==========  ===============================================================================
tag         payload
==========  ===============================================================================
``N F T``   ``None``, ``False``, ``True``: no payload
``i``       int: length, two's-complement big-endian bytes
``f`` ``j`` float, complex: IEEE 754 big-endian doubles (one canonical NaN; -0.0 kept)
``s``       str: length, UTF-8 (``surrogatepass``)
``b`` ``y`` bytes, bytearray: length, raw bytes
``t`` ``l`` tuple, list: count, elements in order
``d``       dict: count, (key, value) encodings sorted by their bytes
``u`` ``z`` set, frozenset: count, element encodings sorted by their bytes
``E`` ``G`` enum member: class name, member name (``G``: Flag, member value instead)
``D``       dataclass instance: class name, count, (field name, value) in field order
``K``       class: ``module.qualname``
``H``       ``__memo_key__()`` hook: class name, encoding of the hook's result
``X``       subclass of a builtin: class name, encoding as the builtin base
``W`` ``A`` datetime naive / aware: wall-clock fields (+ UTC offset when aware)
``a``       date; ``m`` ``M`` time naive / aware; ``r`` timedelta
``U``       UUID: 16 bytes
``C``       Decimal: kind, sign, (finite: digits without trailing zeros, exponent)
``Q``       Fraction: numerator, denominator; ``P`` PurePath: class name, ``str(path)``
``R``       ``register_key`` type: registered and own class names, the encoder's result
==========  ===============================================================================

"Class name" is ``module.qualname``. A class defined inside a function (qualname containing
``<locals>``) is named the same way, so two such classes with one qualname share their name.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import reprlib
import struct
import uuid
from collections.abc import Callable
from typing import Any, cast

import xxhash

from memo._keys.libraries import REGISTRY
from memo._keys.registry import Entry
from memo._keys.unencodable import MAX_DEPTH, TOO_DEEP, Failure, Unencodable
from memo._keys.wire import (
    BYTEARRAY_HEADS,
    BYTES_HEADS,
    DICT_HEADS,
    FROZENSET_HEADS,
    LIST_HEADS,
    SET_HEADS,
    SMALL_INTS,
    STR_HEADS,
    TUPLE_HEADS,
    double,
    head,
    int_encoding,
    qualname,
    utf8,
    varint,
)

__all__ = ["Unencodable", "digest", "encode", "encode_arguments"]

# Bump when any encoding changes: it invalidates every cache entry ever written.
_FORMAT_VERSION = 1
_MAX_DEPTH, _NO_ENCODING = MAX_DEPTH, "no canonical encoding for this type"

_Put = Callable[[bytes], None]
_Handler = Callable[[Any, _Put, int], None]


def encode(value: object) -> bytes:
    """Return the canonical bytes of ``value``; raise :class:`Unencodable` if it has none."""
    parts: list[bytes] = []
    try:
        (_DISPATCH.get(type(value)) or _other)(value, parts.append, 0)
    except Failure as exc:
        raise exc.public() from None
    return b"".join(parts)


def encode_arguments(values: tuple[object, ...]) -> bytes:
    """Return the canonical bytes of a call's arguments: the same bytes as ``encode(values)``."""
    parts = [head(TUPLE_HEADS, len(values))]
    put, get = parts.append, _DISPATCH.get
    for position, value in enumerate(values):
        try:
            (get(type(value)) or _other)(value, put, 1)
        except Failure as exc:
            raise exc.public(position) from None
    return b"".join(parts)


def digest(data: bytes) -> str:
    """Return the xxh3-128 hex digest (32 lowercase hex characters) of ``data``."""
    result: str = xxhash.xxh3_128_hexdigest(data)
    return result


def _constant(value: bool | None, put: _Put, depth: int) -> None:
    put(b"N" if value is None else b"T" if value else b"F")


def _int(value: int, put: _Put, depth: int) -> None:
    put(SMALL_INTS.get(value) or int_encoding(value))


def _float(value: float, put: _Put, depth: int) -> None:
    put(b"f" + double(value))


def _complex(value: complex, put: _Put, depth: int) -> None:
    put(b"j" + double(value.real) + double(value.imag))


def _str(value: str, put: _Put, depth: int) -> None:
    data = value.encode("utf-8", "surrogatepass")
    n = len(data)
    put(STR_HEADS[n] if n < 0x80 else head(STR_HEADS, n))
    put(data)


def _binary(value: bytes | bytearray, put: _Put, depth: int) -> None:
    heads = BYTEARRAY_HEADS if isinstance(value, bytearray) else BYTES_HEADS
    n = len(value)
    put(heads[n] if n < 0x80 else head(heads, n))
    put(value if type(value) is bytes else bytes(value))  # a copy: a hook may mutate it later


def _sequence(value: tuple[object, ...] | list[object], put: _Put, depth: int) -> None:
    n = len(value)
    heads = TUPLE_HEADS if isinstance(value, tuple) else LIST_HEADS
    put(heads[n] if n < 0x80 else head(heads, n))
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    depth += 1
    get = _DISPATCH.get
    item: object = None
    try:
        for item in value:
            (get(type(item)) or _other)(item, put, depth)
    except Failure as exc:
        # The first occurrence of the failing object is where it failed: encoding is pure.
        index = next((i for i, x in enumerate(value) if x is item), "?")
        exc.add(f"[{index}]", value)
        raise


def _dict(value: dict[object, object], put: _Put, depth: int) -> None:
    put(head(DICT_HEADS, len(value)))
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    if len(value) < 2:  # nothing to sort: skip the buffers
        for key, item in value.items():
            _entry(value, key, item, put, depth + 1)
        return
    entries = []
    for key, item in value.items():
        parts: list[bytes] = []
        _entry(value, key, item, parts.append, depth + 1)
        entries.append(b"".join(parts))
    # Keys are self-delimiting, so whole entries sort by key (and stay ordered if keys tie: NaN).
    entries.sort()
    put(b"".join(entries))


def _entry(mapping: object, key: object, item: object, put: _Put, depth: int) -> None:
    get = _DISPATCH.get
    try:
        (get(type(key)) or _other)(key, put, depth)
    except Failure as exc:
        exc.add("{key}", mapping)
        raise
    try:
        (get(type(item)) or _other)(item, put, depth)
    except Failure as exc:
        exc.add(f"[{reprlib.repr(key)}]", mapping)
        raise


def _unordered(value: set[object] | frozenset[object], put: _Put, depth: int) -> None:
    put(head(FROZENSET_HEADS if isinstance(value, frozenset) else SET_HEADS, len(value)))
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    elements = []
    parts: list[bytes] = []
    try:
        for element in value:
            _encode_into(element, parts.append, depth + 1)
            elements.append(b"".join(parts))
            parts.clear()
    except Failure as exc:
        exc.add("{...}", value)
        raise
    elements.sort()
    put(b"".join(elements))


# --- standard-library value types -------------------------------------------------------------

_pack_date = struct.Struct(">HBB").pack
_pack_clock = struct.Struct(">BBBI").pack
_pack_delta = struct.Struct(">iii").pack


def _offset(value: datetime.datetime | datetime.time) -> bytes | None:
    """The UTC offset of an aware value, None for a naive one (never the tzinfo object)."""
    offset = value.utcoffset()
    return None if offset is None else _delta(offset)


def _delta(value: datetime.timedelta) -> bytes:
    return _pack_delta(value.days, value.seconds, value.microseconds)


def _clock(value: datetime.datetime | datetime.time) -> bytes:
    return _pack_clock(value.hour, value.minute, value.second, value.microsecond)


def _datetime(value: datetime.datetime, put: _Put, depth: int) -> None:
    # Wall clock plus offset: fold matters only through the offset it selects.
    offset = _offset(value)
    put(b"W" if offset is None else b"A" + offset)
    put(_pack_date(value.year, value.month, value.day) + _clock(value))


def _date(value: datetime.date, put: _Put, depth: int) -> None:
    put(b"a" + _pack_date(value.year, value.month, value.day))


def _time(value: datetime.time, put: _Put, depth: int) -> None:
    offset = _offset(value)
    put(b"m" if offset is None else b"M" + offset)
    put(_clock(value))


def _timedelta(value: datetime.timedelta, put: _Put, depth: int) -> None:
    put(b"r" + _delta(value))


def _uuid(value: uuid.UUID, put: _Put, depth: int) -> None:
    put(b"U" + value.bytes)


def _decimal(value: decimal.Decimal, put: _Put, depth: int) -> None:
    # Normalised by hand: Decimal.normalize() rounds to the context's precision.
    sign, digits, exponent = value.as_tuple()
    if value.is_nan():
        put(b"Cs" if value.is_snan() else b"Cn")  # every NaN alike, as for floats
    elif value.is_infinite():
        put(b"C-" if sign else b"C+")
    else:
        assert isinstance(exponent, int)
        # Digits as text: int() refuses digit strings beyond sys.int_info's conversion limit.
        text = "".join(map(str, digits))
        coefficient = text.rstrip("0")
        exponent = exponent + len(text) - len(coefficient) if coefficient else 0
        put(b"Cf" + bytes((sign,)) + utf8(coefficient or "0") + int_encoding(exponent))


def _fraction(value: fractions.Fraction, put: _Put, depth: int) -> None:
    put(b"Q" + int_encoding(value.numerator) + int_encoding(value.denominator))


_DISPATCH: dict[type, _Handler] = {
    type(None): _constant,
    bool: _constant,
    int: _int,
    float: _float,
    complex: _complex,
    str: _str,
    bytes: _binary,
    bytearray: _binary,
    tuple: _sequence,
    list: _sequence,
    dict: _dict,
    set: _unordered,
    frozenset: _unordered,
    datetime.datetime: _datetime,
    datetime.date: _date,
    datetime.time: _time,
    datetime.timedelta: _timedelta,
    uuid.UUID: _uuid,
    decimal.Decimal: _decimal,
    fractions.Fraction: _fraction,
}

# Builtin bases a subclass encodes as (after its class name).
_BUILTIN_BASES: dict[type, _Handler] = {
    base: _DISPATCH[base]
    for base in (int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset)
}

# Subclasses of these may carry state their base's encoding would drop (e.g. nanoseconds).
_VALUE_BASES = (
    *(datetime.date, datetime.time, datetime.timedelta),
    *(uuid.UUID, decimal.Decimal, fractions.Fraction),
)


# --- everything that is not an exact supported type ---------------------------------------------


def _encode_into(value: object, put: _Put, depth: int) -> None:
    (_DISPATCH.get(type(value)) or _other)(value, put, depth)


def _other(value: object, put: _Put, depth: int) -> None:
    cls = type(value)
    if callable(getattr(cls, "__memo_key__", None)):
        _hook(value, put, depth)
    elif issubclass(cls, type):
        put(b"K" + utf8(qualname(cast(type, value))))
    elif (entry := REGISTRY.resolve(cls)) is not None:
        _registered(value, entry, put, depth)
    elif isinstance(value, enum.Enum):
        _enum(value, put, depth)
    elif dataclasses.is_dataclass(value):
        _dataclass(value, put, depth)
    elif isinstance(value, pathlib.PurePath):
        name = cls.__name__ if cls.__module__.startswith("pathlib") else qualname(cls)
        put(b"P" + utf8(name) + utf8(str(value)))
    else:
        _subclass(value, put, depth)


def _hook(value: object, put: _Put, depth: int) -> None:
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    put(b"H" + utf8(qualname(type(value))))
    key = value.__memo_key__()  # type: ignore[attr-defined]
    try:
        _encode_into(key, put, depth + 1)
    except Failure as exc:
        exc.add(".__memo_key__()", value)
        raise


def _registered(value: object, entry: Entry, put: _Put, depth: int) -> None:
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    try:
        key = entry.encoder(value)
    except Exception as exc:
        raise Failure(value, f"{entry.describe()} raised {type(exc).__name__}: {exc}") from None
    put(entry.prefix)
    try:
        _encode_into(key, put, depth + 1)
    except Failure as exc:
        exc.add("<key>", value)
        raise


def _enum(value: enum.Enum, put: _Put, depth: int) -> None:
    name = utf8(qualname(type(value)))
    if isinstance(value, enum.Flag):
        # Combined flags have no single name (and their names vary across versions).
        put(b"G" + name)
        _encode_into(value.value, put, depth + 1)
    else:
        put(b"E" + name + utf8(value.name))


def _dataclass(value: Any, put: _Put, depth: int) -> None:
    if depth >= _MAX_DEPTH:
        raise Failure(value, TOO_DEEP)
    fields = dataclasses.fields(value)
    put(b"D" + utf8(qualname(type(value))) + varint(len(fields)))
    for field in fields:
        put(utf8(field.name))
        try:
            _encode_into(getattr(value, field.name), put, depth + 1)
        except Failure as exc:
            exc.add(f".{field.name}", value)
            raise


def _subclass(value: object, put: _Put, depth: int) -> None:
    cls = type(value)
    for base in cls.__mro__:
        handler = _BUILTIN_BASES.get(base)
        if handler is not None:
            put(b"X" + utf8(qualname(cls)))
            handler(value, put, depth)
            return
    if isinstance(value, _VALUE_BASES):
        raise Failure(value, "subclass of a standard-library value type; define __memo_key__()")
    raise Failure(value, _NO_ENCODING)
