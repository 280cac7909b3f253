"""The argument kinds of the L1 hit suite: one call shape each, the same for every peer.

A kind is a function signature, a call written as source (`f(True)`, `obj.m(1)`), the
objects the call reads, and, for kinds the peers cannot hash (lists, dicts, ignored
arguments), the key function a user of that peer would have to write. Loops are compiled
from the call's source, so each peer runs the very same bytecode and only its decorator
differs.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ASYNC_KINDS", "KINDS", "Kind"]


class Color(enum.Enum):
    """An Enum argument."""

    RED = 1
    GREEN = 2


@dataclasses.dataclass(frozen=True)
class Point:
    """A frozen dataclass argument (keyed by its fields)."""

    x: int
    y: str


@dataclasses.dataclass(frozen=True)
class Account:
    """A frozen dataclass with `__memo_key__` (keyed by its id only)."""

    id: int
    name: str

    def __memo_key__(self) -> int:
        return self.id


class Connection:
    """An argument no peer can key: left out with `ignore=` (or a key function)."""


@dataclass(frozen=True)
class Kind:
    """One row: `def f(<params>)` called as `<call>`; `owner` makes a class around it."""

    name: str
    params: str
    call: str
    owner: str = ""  # "method", "method-ignore" or "classmethod": f becomes a method of K
    peer_key: Callable[..., Any] | None = None  # what cachetools/cachebox users must write
    objects: dict[str, Any] = field(default_factory=dict)


def _hashable_key(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """A peer's key for lists and dicts: tuple() and frozenset() of them."""
    return tuple(_hashable(a) for a in args) + tuple(sorted(kwargs.items()))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return frozenset(value.items())
    return value


def _without_connection(a: Any, conn: Any = None) -> tuple[Any, ...]:
    return (a,)


_FOUR = "a, b='x', c=1.0, d=False"
_TEN = "a, b=1, c=2.5, d=True, e='x', g=None, h=(1, 2), i=b'z', j=0, k=-0.0"
KINDS = (
    Kind("int, str", "a, b", "f(1, 'x')"),
    Kind("bool", "a", "f(True)"),
    Kind("float", "a", "f(1.5)"),
    Kind("tuple (1, 'a')", "a", "f(T)", objects={"T": (1, "a")}),
    Kind("list [1, 'a', 2]", "a", "f(L)", peer_key=_hashable_key, objects={"L": [1, "a", 2]}),
    Kind("dict of 2", "a", "f(D)", peer_key=_hashable_key, objects={"D": {"a": 1, "b": 2}}),
    Kind("frozenset of 3", "a", "f(S)", objects={"S": frozenset({1, 2, 3})}),
    Kind("Enum member", "a", "f(Color.RED)", objects={"Color": Color}),
    Kind("datetime", "a", "f(W)", objects={"W": datetime.datetime(2026, 1, 2, 3, 4, 5)}),
    Kind("date", "a", "f(A)", objects={"A": datetime.date(2026, 1, 2)}),
    Kind("UUID", "a", "f(U)", objects={"U": uuid.UUID(int=0x1234_5678)}),
    Kind("Decimal", "a", "f(C)", objects={"C": decimal.Decimal("12.50")}),
    Kind("frozen dataclass", "a", "f(P)", objects={"P": Point(1, "a")}),
    Kind("dataclass + __memo_key__", "a", "f(N)", objects={"N": Account(7, "ann")}),
    Kind("method, self.__memo_key__", "self, a", "obj.f(1)", owner="method"),
    Kind("method, ignore=self", "self, a", "obj.f(1)", owner="method-ignore"),
    Kind("classmethod", "cls, a", "K.f(1)", owner="classmethod"),
    Kind("defaults omitted: f(1)", _FOUR, "f(1)"),
    # Beyond the kinds, the slowest shapes of omitted defaults: a list default is
    # checked item by item at each call; past eight values the key is not unrolled.
    Kind("defaults omitted, a list default", "a, b=[1], c=2", "f(1)"),
    Kind("defaults omitted, 10 parameters", _TEN, "f(1)"),
    Kind("keywords: f(a=1, b='y', d=True)", _FOUR, "f(a=1, b='y', d=True)"),
    Kind("keywords reordered", _FOUR, "f(d=True, b='y', a=1)"),
    Kind(
        "ignore=('conn',)",
        "a, conn=None",
        "f(1, X)",
        peer_key=_without_connection,
        objects={"X": Connection()},
    ),
)
ASYNC_KINDS = (
    Kind("int, str", "a, b", "await f(1, 'x')"),
    Kind("float", "a", "await f(1.5)"),
    Kind("tuple (1, 'a')", "a", "await f(T)", objects={"T": (1, "a")}),
    Kind("keywords", _FOUR, "await f(a=1, b='y', d=True)"),
)
