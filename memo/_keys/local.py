"""L1 tokens: a hashable stand-in for a value's canonical encoding, made without encoding it.

The L1 key of a call is `(token, *tokens of its values)`. Two values get equal tokens exactly
when their canonical encodings are equal (`canonical.py`), so two calls share an L1 key iff
they share a Redis key; the digest is computed only when a tier needs the Redis key.

* `int`, `str`, `bytes`, `None` and `datetime.date` are their own token: equal values of
  these exact types always encode alike, and no two of these types compare equal (a date is
  unequal to a datetime; subclasses of either, which could be equal, are tokenised).
* a tuple or a frozenset whose elements are all of those types is its own token too:
  it holds no `_Tag`, so it equals no other kind's token.
* every other value's token is a tuple headed by a `_Tag` (compared by identity), or the
  `_Tag` alone for a token that stands for one value (True, False, 0.0, -0.0, NaN), so it
  never equals a plain value or another kind's token: `True` is not `1`, `1.0` is not `1`,
  a tuple is not a list. Payloads keep what the encoding keeps and drop what it drops:
  a float's sign at zero, one NaN, a datetime's UTC offset, a Decimal's zero sign.
* containers hold their elements' tokens; dicts and sets become frozensets (order does not
  matter), counted when tokens coincide (several NaNs) so a multiset stays a multiset.
* enums, dataclasses and `__memo_key__` objects are tokenised from the content the encoding
  reads (class name, member name, field values, the hook's result) on every call, never
  from identity: a mutable dataclass changed between calls gets a new key, as in Redis.
* any other type (subclasses of builtins, `memo.register_key` types, unsupported values)
  is tokenised as its canonical bytes: slower, but by definition in agreement.

Token functions are looked up by exact type; a class seen for the first time is classified
once, in the order the encoder uses, and the decision kept (`forget()` drops them).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import math
import operator
import os
import pathlib
import threading
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from memo._keys import canonical
from memo._keys.registry import REGISTRY
from memo._keys.wire import qualname

__all__ = [
    "CLASS_TOKENS",
    "FLOAT_TAG",
    "HOOK_NAMES",
    "HOOK_TAG",
    "LIST_TAG",
    "RAW",
    "TOKEN_OF",
    "forget",
    "local_token",
    "local_tokens",
]

Token = Callable[[Any], Hashable]

# Exact types whose values are their own token (see the module docstring).
RAW = frozenset({int, str, bytes, type(None), datetime.date})
_KINDS_KEPT = 4_096  # classes remembered; cleared when full (local classes made in a loop)


class _Tag:
    """Heads a token: equal only to itself, so kinds never meet."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


_FLOAT = _Tag("float")
_COMPLEX, _BYTEARRAY, _TUPLE, _LIST = (
    _Tag("complex"),
    _Tag("bytearray"),
    _Tag("tuple"),
    _Tag("list"),
)
_DICT, _SET, _FROZENSET, _COUNTED = _Tag("dict"), _Tag("set"), _Tag("frozenset"), _Tag("counted")
_DATETIME, _TIME, _DELTA = _Tag("datetime"), _Tag("time"), _Tag("delta")
_UUID, _DECIMAL, _FRACTION = _Tag("uuid"), _Tag("decimal"), _Tag("fraction")
_HOOK, _ENUM, _FLAG = _Tag("hook"), _Tag("enum"), _Tag("flag")
_DATACLASS, _PATH, _CANONICAL = _Tag("dataclass"), _Tag("path"), _Tag("canonical")
# Values with one token each are their token's tag alone: hashed by identity, where a
# tuple would be hashed again, element by element, in every key that holds it.
_TRUE, _FALSE = _Tag("True"), _Tag("False")
_POSITIVE_ZERO, _NEGATIVE_ZERO, _NAN_TOKEN = _Tag("0.0"), _Tag("-0.0"), _Tag("nan")
FLOAT_TAG = _FLOAT  # heads a non-zero, non-NaN float's token (the hit path builds it inline)
LIST_TAG = _LIST  # heads a list's token (the hit path builds a list of plain values' inline)
HOOK_TAG = _HOOK  # heads a `__memo_key__` object's token (the hit path builds self's inline)


def local_token(value: Any) -> Hashable:
    """The token of value; canonical.Unencodable when it has no key at all."""
    kind = type(value)
    if kind in RAW:
        return value  # type: ignore[no-any-return]
    return (_TOKENS.get(kind) or _classify(kind))(value)


def local_tokens(values: Sequence[Any]) -> tuple[Hashable, ...]:
    """The tokens of values, in order; plain values are their own, checked in a loop here,
    not a call each (the key of a function of more than eight values, a list's elements).
    A loop, not `RAW.issuperset(map(type, values))`: for a few values it costs less than
    making the map. A tuple of plain values comes back as it is (`tuple()` does not copy)."""
    for value in values:
        if type(value) not in RAW:
            return tuple(map(local_token, values))
    return tuple(values)


def forget() -> None:
    """Drop every class decision (call after a change to how a class is keyed)."""
    _TOKENS.clear()
    _TOKENS.update(_BUILTIN_TOKENS)
    _HOOK_NAMES.clear()
    _CLASS_NAMES.clear()


# -- builtins --------------------------------------------------------------------------------


def _bool(value: bool) -> Hashable:
    return _TRUE if value else _FALSE


def _float(value: float) -> Hashable:
    if value and value == value:  # noqa: PLR0124 (NaN test)
        return (_FLOAT, value)
    if value != value:  # noqa: PLR0124 (every NaN encodes alike)
        return _NAN_TOKEN
    return _NEGATIVE_ZERO if math.copysign(1.0, value) < 0 else _POSITIVE_ZERO


def _complex(value: complex) -> Hashable:
    return (_COMPLEX, _float(value.real), _float(value.imag))


def _bytearray(value: bytearray) -> Hashable:
    return (_BYTEARRAY, bytes(value))


def _tuple(value: tuple[Any, ...]) -> Hashable:
    for element in value:
        if type(element) not in RAW:
            return (_TUPLE, tuple(map(local_token, value)))
    return value  # its own token: it holds no _Tag, so it equals no other kind's token


def _list(value: list[Any]) -> Hashable:
    return (_LIST, local_tokens(value))


def _bag(tokens: tuple[Hashable, ...]) -> Hashable:
    """An unordered collection of tokens; counted when two elements share a token (NaNs)."""
    elements = frozenset(tokens)
    if len(elements) == len(tokens):
        return elements
    return (_COUNTED, frozenset(Counter(tokens).items()))


def _dict(value: dict[Any, Any]) -> Hashable:
    for key, item in value.items():  # a loop: cheaper than two maps for a few items
        if type(key) not in RAW or type(item) not in RAW:
            pairs = tuple((local_token(k), local_token(v)) for k, v in value.items())
            return (_DICT, _bag(pairs))
    return (_DICT, frozenset(value.items()))  # distinct plain keys: nothing to count


def _set(value: set[Any]) -> Hashable:
    for element in value:
        if type(element) not in RAW:
            return (_SET, _bag(tuple(map(local_token, value))))
    return (_SET, frozenset(value))


def _frozenset(value: frozenset[Any]) -> Hashable:
    for element in value:
        if type(element) not in RAW:
            return (_FROZENSET, _bag(tuple(map(local_token, value))))
    return value  # its own token, as a plain tuple's; a frozenset also keeps its hash


def _datetime(value: datetime.datetime) -> Hashable:
    # Equal instants with equal offsets have equal wall clocks: what the encoding keeps.
    return (_DATETIME, value, value.utcoffset())


def _time(value: datetime.time) -> Hashable:
    return (_TIME, value, value.utcoffset())


def _timedelta(value: datetime.timedelta) -> Hashable:
    return (_DELTA, value)


def _uuid(value: uuid.UUID) -> Hashable:
    return (_UUID, value.int)


def _decimal(value: decimal.Decimal) -> Hashable:
    if value.is_nan():  # hashing a signalling NaN raises; every quiet NaN encodes alike
        return (_DECIMAL, "sNaN" if value.is_snan() else "NaN")
    if not value:
        return (_DECIMAL, "-0" if value.is_signed() else "0")
    return (_DECIMAL, value)  # exact numeric equality: what the normalised encoding keeps


def _fraction(value: fractions.Fraction) -> Hashable:
    return (_FRACTION, value.numerator, value.denominator)


def _canonical(value: Any) -> Hashable:
    """The fallback: the encoding itself (raises canonical.Unencodable when there is none)."""
    return (_CANONICAL, canonical.encode(value))


_BUILTIN_TOKENS: dict[type, Token] = {
    bool: _bool,
    float: _float,
    complex: _complex,
    bytearray: _bytearray,
    tuple: _tuple,
    list: _list,
    dict: _dict,
    set: _set,
    frozenset: _frozenset,
    datetime.datetime: _datetime,
    datetime.time: _time,
    datetime.timedelta: _timedelta,
    uuid.UUID: _uuid,
    decimal.Decimal: _decimal,
    fractions.Fraction: _fraction,
}
_TOKENS: dict[type, Token] = dict(_BUILTIN_TOKENS)
TOKEN_OF = _TOKENS  # read by the generated hit path: one call per value, not two
# The classes decided to be keyed by `__memo_key__`, and their names: read by the hit path.
_HOOK_NAMES: dict[type, str] = {}
HOOK_NAMES = _HOOK_NAMES


# -- classes seen at run time -----------------------------------------------------------------


def _classify(kind: type) -> Token:
    """The token function for a class met for the first time, decided as the encoder does."""
    token = _decide(kind)
    if len(_TOKENS) >= _KINDS_KEPT:
        forget()
    _TOKENS[kind] = token
    return token


def _decide(kind: type) -> Token:
    if callable(getattr(kind, "__memo_key__", None)):
        return _hook(kind)
    if issubclass(kind, type):
        return _class
    if _registered(kind):
        return _canonical
    if issubclass(kind, enum.Enum):
        return _flag(kind) if issubclass(kind, enum.Flag) else _enum(kind)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind)
    if issubclass(kind, pathlib.PurePath):
        return _path(kind)
    return _canonical


def _registered(kind: type) -> bool:
    """Whether a key encoder registered for kind (or a base) decides its encoding."""
    return REGISTRY.resolve(kind) is not None


def _hook(kind: type) -> Token:
    name = qualname(kind)
    _HOOK_NAMES[kind] = name  # the hit path makes this token itself for a method's self

    def token(value: Any) -> Hashable:
        key = value.__memo_key__()
        return (_HOOK, name, key if type(key) in RAW else local_token(key))

    return token


class _ClassTag(_Tag):
    """A class's token: one per qualified name while any key holds it (see _ClassNames)."""

    __slots__ = ("__weakref__",)


class _ClassNames(dict[type, Hashable]):
    """A class's token, read once per class: a classmethod's every call keys its class, and
    a lookup here is a C call where a token function would be a Python one.

    The token is a tag, hashed by identity in every key that holds it (a tuple of tag and
    name would be hashed again each time), shared by the classes of one qualified name, as
    their encodings are. A name keeps its tag while something holds it (an L1 key, this
    map), so no two tags of one name are ever alive: L1 keys agree with Redis keys."""

    def __init__(self) -> None:
        super().__init__()
        self._tags: weakref.WeakValueDictionary[str, _ClassTag] = weakref.WeakValueDictionary()
        self._lock = threading.RLock()  # re-entered by a finalizer that keys a class

    def after_fork(self) -> None:
        """In a forked child: a lock another thread held at the fork stays held there."""
        self._lock = threading.RLock()

    def __missing__(self, value: type) -> Hashable:
        name = qualname(value)
        with self._lock:
            tag = self._tags.get(name)
            if tag is None:
                tag = self._tags[name] = _ClassTag(f"class {name}")
            if len(self) >= _KINDS_KEPT:
                self.clear()
            self[value] = tag
        return tag


_CLASS_NAMES = _ClassNames()
_class: Token = _CLASS_NAMES.__getitem__
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_CLASS_NAMES.after_fork)
CLASS_TOKENS = _CLASS_NAMES  # subscripted by the generated hit path (a classmethod's class)


def _enum(kind: type) -> Token:
    name = qualname(kind)
    return lambda value: (_ENUM, name, value._name_)


def _flag(kind: type) -> Token:
    # Combined flags have no single name: the encoding keeps the member's value.
    name = qualname(kind)
    return lambda value: (_FLAG, name, local_token(value._value_))


def _dataclass(kind: type) -> Token:
    names = tuple(field.name for field in dataclasses.fields(kind))
    # The class and field names, as the encoding carries them, in one string: a string keeps
    # its hash, where a tuple of them would be hashed again at every hit. Field names are
    # identifiers, so no parenthesis or comma of theirs can make two heads equal.
    head = f"{qualname(kind)}({','.join(names)})"
    if not names:
        return lambda value: (_DATACLASS, head, ())
    read: Callable[[Any], Any] = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda value: (_DATACLASS, head, (local_token(read(value)),))

    def token(value: Any) -> Hashable:
        fields = read(value)
        for field in fields:
            if type(field) not in RAW:
                return (_DATACLASS, head, tuple(map(local_token, fields)))
        return (_DATACLASS, head, fields)

    return token


def _path(kind: type) -> Token:
    name = kind.__name__ if kind.__module__.startswith("pathlib") else qualname(kind)
    return lambda value: (_PATH, name, str(value))


REGISTRY.on_change.append(forget)  # memo.register_key may change a class's key
