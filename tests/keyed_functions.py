"""Module-level functions whose keys are pinned by tests/keys/golden/cache_keys.json.

This module stays at tests/keyed_functions.py: its path is part of every pinned key (the
functions' names) and of two pinned digests (the Color and Point argument classes), so
moving it would change the golden file.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any

import memo


class Color(enum.Enum):
    RED = 1
    GREEN = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


@memo.cached
def plain(a: Any, b: Any = "x") -> Any:
    return a


@memo.cached(version=3)
def versioned(a: Any) -> Any:
    return a


@memo.cached(ignore=("conn",))
def ignoring(user_id: int, conn: object = None) -> int:
    return user_id


@memo.cached(key="{user_id}:{region}")
def templated(user_id: int, region: str, verbose: bool = False) -> int:
    return user_id


@memo.cached
def variadic(*args: Any, **kwargs: Any) -> int:
    return 0


# (function name, args, kwargs) → the key must never change silently.
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("plain", (1,), {}),
    ("plain", (1, "x"), {}),
    ("plain", (1.0,), {}),
    ("plain", (True,), {}),
    ("plain", ("1",), {}),
    ("plain", (b"1",), {}),
    ("plain", (None,), {}),
    ("plain", (-0.0,), {}),
    ("plain", ((1, 2),), {}),
    ("plain", ([1, 2],), {}),
    ("plain", ({"b": 2, "a": 1},), {}),
    ("plain", ({3, 1, 2},), {}),
    ("plain", (Color.RED,), {}),
    ("plain", (Point(1, 2),), {}),
    ("plain", (datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),), {}),
    ("plain", (datetime.date(2024, 1, 2),), {}),
    ("plain", (uuid.UUID("12345678-1234-5678-1234-567812345678"),), {}),
    ("plain", (decimal.Decimal("1.50"),), {}),
    ("plain", (10**40,), {}),
    ("plain", ("ünïcødé",), {}),
    ("versioned", (1,), {}),
    ("ignoring", (7,), {}),
    ("templated", (7, "eu"), {}),
    ("variadic", (1, 2), {"z": 1, "a": 2}),
]
