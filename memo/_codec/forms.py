"""The value forms json and msgpack share: which types are supported, how each non-native
type becomes plain data and back, and the error that points at an unsupported part."""

from __future__ import annotations

import datetime
import decimal
import reprlib
import struct
import uuid
from collections.abc import Callable
from typing import Any

from memo._errors import SerializationError

__all__ = [
    "ANNOTATE_HINT",
    "BIG_INT",
    "CONTAINERS",
    "F64",
    "FORMS",
    "SUPPORTED",
    "SUPPORTED_TEXT",
    "Form",
    "Unsupported",
    "locate",
    "refusal",
]

F64 = struct.Struct(">d")
# Ints beyond this go hex-tagged: their decimal form could hit sys.int_max_str_digits (>= 640).
BIG_INT = 1 << 2000
SUPPORTED_TEXT = (
    "None, bool, int, float, str, bytes, list, tuple, dict, set, frozenset, datetime, date, "
    "time, timedelta (tzinfo None or datetime.timezone), UUID and Decimal (exact types only)"
)


ANNOTATE_HINT = (
    "Annotate the function's return type (e.g. -> User, for a dataclass, pydantic model, attrs "
    "class, msgspec Struct, NamedTuple, TypedDict or Enum) so memo stores it typed "
    "(pip install 'memo-cache[typed]')."
)


class Unsupported(TypeError):
    """Internal: a part of the value has no json/msgpack encoding (located afterwards)."""


# --- exact, plain-data forms of the richer types (shared by json and msgpack) --------------------


def _tz_fields(tz: datetime.tzinfo | None) -> list[Any] | None:
    if tz is None:
        return None
    if type(tz) is not datetime.timezone:
        raise Unsupported
    # __getinitargs__ tells an explicit name from the default "UTC+01:00" one.
    args = tz.__getinitargs__()  # type: ignore[attr-defined]
    off = args[0]
    return [off.days, off.seconds, off.microseconds, args[1] if len(args) > 1 else None]


def _tz_from(f: list[Any] | None) -> datetime.timezone | None:
    if f is None:
        return None
    offset = datetime.timedelta(f[0], f[1], f[2])
    return datetime.timezone(offset) if f[3] is None else datetime.timezone(offset, f[3])


def _datetime_fields(v: datetime.datetime) -> list[Any]:
    tz = _tz_fields(v.tzinfo)
    return [v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.fold, tz]


def _datetime_from(f: list[Any]) -> datetime.datetime:
    y, mo, d, h, mi, s, us, fold, tz = f
    return datetime.datetime(y, mo, d, h, mi, s, us, _tz_from(tz), fold=fold)


def _time_fields(v: datetime.time) -> list[Any]:
    return [v.hour, v.minute, v.second, v.microsecond, v.fold, _tz_fields(v.tzinfo)]


def _time_from(f: list[Any]) -> datetime.time:
    h, mi, s, us, fold, tz = f
    return datetime.time(h, mi, s, us, _tz_from(tz), fold=fold)


# type -> (json tag, msgpack ext code, to plain data, from plain data)
Form = tuple[str, int, Callable[[Any], Any], Callable[[Any], Any]]
FORMS: dict[type, Form] = {
    datetime.datetime: ("~dt", 5, _datetime_fields, _datetime_from),
    datetime.date: ("~da", 6, lambda v: [v.year, v.month, v.day], lambda f: datetime.date(*f)),
    datetime.time: ("~tm", 7, _time_fields, _time_from),
    datetime.timedelta: (
        "~td",
        8,
        lambda v: [v.days, v.seconds, v.microseconds],
        lambda f: datetime.timedelta(*f),
    ),
    uuid.UUID: ("~u", 9, str, uuid.UUID),
    decimal.Decimal: ("~dc", 10, str, decimal.Decimal),
}
CONTAINERS = (list, tuple, set, frozenset)
SUPPORTED = {type(None), bool, int, float, str, bytes, dict, *CONTAINERS, *FORMS}


def locate(v: Any, path: str) -> tuple[str, type] | None:
    """Where the first unsupported part of `v` is, walking in the encoders' order."""
    t = type(v)
    if t in CONTAINERS:
        sub = "[{}]" if t in (list, tuple) else "{{element}}"
        parts = (locate(x, path + sub.format(i)) for i, x in enumerate(v))
        return next((p for p in parts if p), None)
    if t is dict:
        for k, x in v.items():
            found = locate(k, f"{path} key {reprlib.repr(k)}")
            found = found or locate(x, f"{path}[{reprlib.repr(k)}]")
            if found:
                return found
        return None
    if t in (datetime.datetime, datetime.time) and v.tzinfo is not None:
        return None if type(v.tzinfo) is datetime.timezone else (f"{path}.tzinfo", type(v.tzinfo))
    return None if t in SUPPORTED else (path, t)


def refusal(value: Any, name: str, exc: BaseException) -> SerializationError:
    if isinstance(exc, Unsupported):
        try:
            path, t = locate(value, "value") or ("value", type(value))
        except RecursionError:
            path, t = "value", type(value)
        what = f"{t.__module__}.{t.__qualname__} at {path}"
    elif isinstance(exc, RecursionError) or "recursion" in str(exc):
        what = f"{type(value).__qualname__} nested too deeply (or containing itself)"
    else:
        what = f"{type(value).__qualname__} ({exc})"
    return SerializationError(
        f"serializer={name!r} cannot represent {what}; it round-trips {SUPPORTED_TEXT}. "
        f"{ANNOTATE_HINT} Or return data of those types, or use "
        "serializer='pickle' with secret=... (or MEMO_SECRET) so entries are signed."
    )


# --- pickle ----------------------------------------------------------------------------------
