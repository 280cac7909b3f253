"""Serializers: a cached value to bytes and back, chosen once per store.

``pickle`` represents nearly anything but runs code on load, so the codec only lets it read
entries whose HMAC tag it verified. ``json`` (the default without a secret) and ``msgpack`` are
safe on untrusted bytes; both round-trip the same types *exactly* (a tuple comes back a tuple,
``-0.0`` and NaN payloads keep their bits) and refuse anything else with a
`memo._errors.SerializationError` naming the type and where it sits in the value.

Supported by json and msgpack: ``None``, ``bool``, ``int`` (any size), ``float``, ``str``
(lone surrogates too), ``bytes``, ``list``, ``tuple``, ``dict`` (any supported hashable keys),
``set``, ``frozenset``, ``datetime``/``date``/``time``/``timedelta`` (tzinfo ``None`` or a fixed
``datetime.timezone``; zoneinfo rules are refused, their offsets are not fixed), ``UUID``,
``Decimal``. Exact types only: a subclass (``OrderedDict``, ``IntEnum``, a namedtuple) would come
back as its base, so it is refused. One exception: msgpack's C packer writes ``bytearray`` and
``memoryview`` as bytes before any hook sees them, so with msgpack they come back ``bytes``
(json refuses them).

JSON layout: values JSON has natively are written as is. Everything else is a one-member object
whose key starts with ``~`` (``{"~t": [...]}`` for a tuple). A user dict is written as a plain
object only when every key is a str not starting with ``~``; any other dict is
``{"~d": [[key, value], ...]}``. So a plain object never holds a ``~`` key and a tag is never a
user dict: the encoding is injective.
"""

from __future__ import annotations

import base64
import functools
import importlib
import json
import math
import pickle
from collections.abc import Callable
from typing import Any, Protocol

from memo._codec.forms import BIG_INT, F64, FORMS, Unsupported, refusal
from memo._errors import ConfigurationError, SerializationError

__all__ = ["JSON", "MSGPACK", "PICKLE", "Serializer", "resolve", "serializer_id"]

USER_SERIALIZER_ID = 200


class Serializer(Protocol):
    """What a store needs from a serializer; pass your own object with these three members.

    ``dumps`` raises `memo.SerializationError` for a value it cannot represent. ``loads``
    reads bytes written by ``dumps`` under the same ``name``; without a secret it also gets bytes
    that anyone able to write to Redis chose, so it must be safe on hostile input.
    """

    name: str

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class _Pickle:
    """Any picklable value; the codec feeds `loads` only entries whose tag it verified."""

    __slots__ = ()
    name = "pickle"

    def dumps(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # PicklingError, TypeError, AttributeError, RecursionError...
            raise SerializationError(
                f"serializer='pickle' cannot represent {type(value).__qualname__}: {exc}"
            ) from exc

    def loads(self, data: bytes | memoryview) -> Any:
        return pickle.loads(data)


# --- json ------------------------------------------------------------------------------------


def _json_tree(v: Any) -> Any:
    t = type(v)
    if t is str or t is bool or v is None:
        return v
    if t is int:
        return v if -BIG_INT < v < BIG_INT else {"~i": format(v, "x")}
    if t is float:
        # Tagged by bits so NaN payloads survive and the text stays standard JSON.
        return v if math.isfinite(v) else {"~f": F64.pack(v).hex()}
    if t is dict:
        if all(type(k) is str and k[:1] != "~" for k in v):
            return {k: _json_tree(x) for k, x in v.items()}
        return {"~d": [[_json_tree(k), _json_tree(x)] for k, x in v.items()]}
    if t is list:
        return [_json_tree(x) for x in v]
    out = _JSON_OUT.get(t)
    if out is None:
        raise Unsupported
    return out(v)


def _json_items(v: Any) -> list[Any]:
    return [_json_tree(x) for x in v]


def _json_form(tag: str, to: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: {tag: to(v)}


_JSON_OUT: dict[type, Callable[[Any], Any]] = {
    tuple: lambda v: {"~t": _json_items(v)},
    set: lambda v: {"~s": _json_items(v)},
    frozenset: lambda v: {"~fs": _json_items(v)},
    bytes: lambda v: {"~b": base64.b64encode(v).decode("ascii")},
    **{t: _json_form(tag, to) for t, (tag, _, to, _) in FORMS.items()},
}
_JSON_IN: dict[str, Callable[[Any], Any]] = {
    "~t": tuple,
    "~s": set,
    "~fs": frozenset,
    "~d": dict,  # from [[key, value], ...]
    "~b": lambda s: base64.b64decode(s, validate=True),
    "~i": lambda s: int(s, 16),
    "~f": lambda s: F64.unpack(bytes.fromhex(s))[0],
    **{tag: build for tag, _, _, build in FORMS.values()},
}


def _json_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        for tag, data in obj.items():
            if tag[:1] == "~":
                return _JSON_IN[tag](data)  # an unknown tag raises: the bytes are not ours
    return obj


# Built once: json.dumps/loads with options construct a new encoder/decoder on every call.
_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)
_JSON_DECODER = json.JSONDecoder(object_hook=_json_hook)


class _Json:
    """Type-tagged JSON (UTF-8): safe on untrusted bytes, exact for the supported types."""

    __slots__ = ()
    name = "json"

    def dumps(self, value: Any) -> bytes:
        try:
            text = _JSON_ENCODER.encode(_json_tree(value))
        except (Unsupported, RecursionError) as exc:
            raise refusal(value, self.name, exc) from None
        return text.encode("utf-8", "surrogatepass")

    def loads(self, data: bytes | memoryview) -> Any:
        try:
            return _JSON_DECODER.decode(str(data, "utf-8", "surrogatepass"))
        except Exception as exc:  # hostile bytes can fail in many ways; all mean "not ours"
            raise SerializationError(f"not a memo json payload: {exc!r}") from exc


# --- msgpack ---------------------------------------------------------------------------------

# ExtType codes: 1 tuple, 2 set, 3 frozenset, 4 int beyond 64 bits, 5-10 the FORMS types.
_MP_INT = 4
_MP_OUT: dict[type, int] = {tuple: 1, set: 2, frozenset: 3}
_MP_IN: dict[int, Callable[[Any], Any]] = {
    **{code: t for t, code in _MP_OUT.items()},
    **{code: build for _, code, _, build in FORMS.values()},
}

_PACK_OPTIONS = {"use_bin_type": True, "strict_types": True, "unicode_errors": "surrogatepass"}
_UNPACK_OPTIONS = {"raw": False, "strict_map_key": False, "unicode_errors": "surrogatepass"}


def _import_msgpack() -> Any:
    try:
        return importlib.import_module("msgpack")
    except ImportError as exc:
        raise ConfigurationError(
            "serializer='msgpack' needs the msgpack package: pip install 'memo-cache[msgpack]'"
        ) from exc


class _Msgpack:
    """msgpack with ExtType codes for the types it lacks; msgpack is imported on first use."""

    __slots__ = ("_ext", "_packb", "_unpackb")
    name = "msgpack"

    def __init__(self) -> None:
        # Both start as loaders that import msgpack and replace themselves.
        self._packb: Callable[[Any], bytes] = self._load_then_pack
        self._unpackb: Callable[[Any], Any] = self._load_then_unpack
        self._ext: Any = None

    def _load(self) -> tuple[Callable[[Any], bytes], Callable[[Any], Any]]:
        mp = _import_msgpack()
        self._ext = mp.ExtType
        # strict_types: tuples and subclasses reach _default instead of passing as list/base.
        self._packb = functools.partial(mp.packb, default=self._default, **_PACK_OPTIONS)
        self._unpackb = functools.partial(mp.unpackb, ext_hook=self._ext_hook, **_UNPACK_OPTIONS)
        return self._packb, self._unpackb

    def _load_then_pack(self, value: Any) -> bytes:
        return self._load()[0](value)

    def _load_then_unpack(self, data: Any) -> Any:
        return self._load()[1](data)

    def _default(self, v: Any) -> Any:
        t = type(v)
        if t is int:  # reached only when v does not fit 64 bits
            return self._ext(_MP_INT, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))
        code = _MP_OUT.get(t)
        if code is not None:
            return self._ext(code, self._packb(list(v)))
        form = FORMS.get(t)
        if form is None:
            raise Unsupported
        return self._ext(form[1], self._packb(form[2](v)))

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _MP_INT:
            return int.from_bytes(data, "big", signed=True)
        return _MP_IN[code](self._unpackb(data))  # an unknown code raises: not ours

    def dumps(self, value: Any) -> bytes:
        try:
            return self._packb(value)
        except ConfigurationError:
            raise
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # Unsupported too
            raise refusal(value, self.name, exc) from None

    def loads(self, data: bytes | memoryview) -> Any:
        try:
            return self._unpackb(data)
        except ConfigurationError:
            raise
        except Exception as exc:  # hostile bytes can fail in many ways; all mean "not ours"
            raise SerializationError(f"not a memo msgpack payload: {exc!r}") from exc


PICKLE = _Pickle()
JSON = _Json()
MSGPACK = _Msgpack()
_BUILTINS: dict[str, Serializer] = {"pickle": PICKLE, "json": JSON, "msgpack": MSGPACK}
_IDS: dict[str, int] = {"pickle": 1, "json": 2, "msgpack": 3}
_UNSIGNED_PICKLE = (
    "serializer='pickle' needs signed entries: unpickling bytes read from Redis runs whatever "
    "code their writer chose. Pass secret=... (or set MEMO_SECRET) so entries are signed, "
    "or choose serializer='json' / 'msgpack'."
)


def resolve(serializer: str | Serializer | None, *, signed: bool) -> Serializer:
    """The serializer a store will use: validated now, so a bad choice fails at configuration.

    ``None`` picks pickle when entries are signed, else type-tagged JSON. Pickle without signing
    is refused. A user object needs ``name`` (a str other than the built-in names),
    ``dumps`` and ``loads``.
    """
    if serializer is None:
        return PICKLE if signed else JSON
    if isinstance(serializer, str):
        chosen = _BUILTINS.get(serializer)
        if chosen is None:
            raise ConfigurationError(
                f"unknown serializer {serializer!r}: choose 'pickle', 'json' or 'msgpack', "
                "or pass an object with name, dumps() and loads()"
            )
    else:
        chosen = _check_custom(serializer)
    if chosen is PICKLE and not signed:
        raise ConfigurationError(_UNSIGNED_PICKLE)
    if chosen is MSGPACK:
        _import_msgpack()
    return chosen


def _check_custom(obj: Serializer) -> Serializer:
    if any(obj is s for s in _BUILTINS.values()):
        return obj
    problem = _custom_problem(obj)
    if problem:
        raise ConfigurationError(
            f"serializer={obj!r} {problem}: a serializer object needs name (a unique str), "
            "dumps(value) -> bytes and loads(bytes) -> value"
        )
    return obj


def _custom_problem(obj: object) -> str | None:
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        return "has no `name` str attribute"
    if name in _BUILTINS:
        return f"uses the built-in name {name!r}"
    if not (callable(getattr(obj, "dumps", None)) and callable(getattr(obj, "loads", None))):
        return "lacks a callable dumps() or loads()"
    return None


def serializer_id(s: Serializer) -> int:
    """The header's serializer byte: 1 pickle, 2 json, 3 msgpack, 200 any user serializer."""
    builtin = _BUILTINS.get(s.name)
    return _IDS[s.name] if builtin is s else USER_SERIALIZER_ID
