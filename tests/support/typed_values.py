"""The result types typed storage covers, one cached function per case, at module level.

Module level so that every process derives the same keys (the cross-process test runs this
module as a script in a child that writes, and the parent reads). Each function counts its
runs in `RUNS`, so a test can tell a value that came from Redis from one computed here.
`python -m tests.support.typed_worker REDIS_URL NAMESPACE` calls `write_all` in a child.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple, TypedDict

import attrs
import msgspec
import pydantic

import memo

__all__ = ["ARGUMENTS", "ASYNC_CASES", "CASES", "RUNS", "expected", "write_all"]

RUNS: Counter[str] = Counter()
UTC_PLUS_2 = datetime.timezone(datetime.timedelta(hours=2))


class Color(enum.Enum):
    """A str-valued Enum."""

    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    """An IntEnum."""

    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class User:
    """A dataclass with the scalar types, an Enum, and itself nested."""

    id: int
    name: str
    joined: datetime.datetime
    key: uuid.UUID
    balance: decimal.Decimal
    color: Color
    score: float = 0.5
    friends: list[User] = dataclasses.field(default_factory=list)
    tags: dict[str, int] = dataclasses.field(default_factory=dict)


class Address(pydantic.BaseModel):
    """A nested pydantic model."""

    city: str
    zip_code: str = pydantic.Field(alias="zip")


class Profile(pydantic.BaseModel):
    """A pydantic v2 model: nested model, aliases, datetime, UUID, Decimal, Optional."""

    id: int
    address: Address
    seen: datetime.datetime
    key: uuid.UUID
    amount: decimal.Decimal
    note: str | None = None
    levels: list[Level] = []


@attrs.frozen
class Point:
    """An attrs class."""

    x: int
    y: float
    label: str = "p"


class Item(msgspec.Struct):
    """A msgspec Struct."""

    sku: str
    qty: int
    at: datetime.date


class Cat(msgspec.Struct, tag=True):
    """One member of a tagged union."""

    name: str
    lives: int = 9


class Dog(msgspec.Struct, tag=True):
    """The other member of a tagged union."""

    name: str
    good: bool = True


class Pair(NamedTuple):
    """A NamedTuple."""

    left: int
    right: str


class Row(TypedDict):
    """A TypedDict."""

    id: int
    when: datetime.time
    pair: Pair


@dataclasses.dataclass
class Box:
    """Containers of covered types, nested in a dataclass."""

    points: dict[str, list[Point]]
    pairs: tuple[Pair, ...]
    maybe: Item | None


def _user(i: int) -> User:
    friend = User(
        i + 1,
        "bob",
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123, tzinfo=datetime.timezone.utc),
        uuid.UUID(int=i + 1),
        decimal.Decimal("-0.10"),
        Color.BLUE,
    )
    return User(
        i,
        "ann",
        datetime.datetime(2024, 1, 2, 3, 4, 5, 678901),
        uuid.UUID(int=i),
        decimal.Decimal("12345.678901234567890"),
        Color.RED,
        score=-1.25,
        friends=[friend],
        tags={"a": 1, "b": 2},
    )


def _profile(i: int) -> Profile:
    return Profile(
        id=i,
        address=Address(city="Lyon", zip="69001"),
        seen=datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC_PLUS_2),
        key=uuid.UUID(int=i),
        amount=decimal.Decimal("3.14"),
        note=None if i % 2 else "odd",
        levels=[Level.HIGH, Level.LOW],
    )


def _box(i: int) -> Box:
    return Box(
        {"a": [Point(i, 1.5), Point(2, -0.0, "q")], "b": []},
        (Pair(1, "x"), Pair(i, "y")),
        None if i % 2 else Item("s", i, datetime.date(2024, 2, 29)),
    )


def _pets(i: int) -> list[Cat | Dog]:
    return [Cat("tom", i), Dog("rex"), Cat("kit")]


BUILDERS: dict[str, Callable[[int], Any]] = {
    "dataclass": _user,
    "pydantic": _profile,
    "attrs": lambda i: Point(i, 2.5),
    "struct": lambda i: Item("sku", i, datetime.date(2024, 1, 31)),
    "namedtuple": lambda i: Pair(i, "right"),
    "typeddict": lambda i: Row(id=i, when=datetime.time(1, 2, 3, 4), pair=Pair(i, "r")),
    "enum": lambda i: Color.BLUE if i % 2 else Color.RED,
    "intenum": lambda i: Level(1 + i % 2),
    "list": lambda i: [_user(i), _user(i + 10)],
    "dict": lambda i: {"p": _profile(i), "q": _profile(i + 1)},
    "tuple": lambda i: (Point(i, 0.0), Pair(i, "t"), Color.RED),
    "optional": lambda i: None if i % 2 else _user(i),
    "union": lambda i: i if i % 2 else _user(i),
    "tagged union": _pets,
    "nested": _box,
}


def expected(case: str, i: int) -> Any:
    """The value case's function returns for argument i."""
    return BUILDERS[case](i)


def _run(case: str, i: int) -> Any:
    RUNS[case] += 1
    return BUILDERS[case](i)


@memo.cached(ttl=300)
def get_dataclass(i: int) -> User:
    return _run("dataclass", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_pydantic(i: int) -> Profile:
    return _run("pydantic", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_attrs(i: int) -> Point:
    return _run("attrs", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_struct(i: int) -> Item:
    return _run("struct", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_namedtuple(i: int) -> Pair:
    return _run("namedtuple", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_typeddict(i: int) -> Row:
    return _run("typeddict", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_enum(i: int) -> Color:
    return _run("enum", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_intenum(i: int) -> Level:
    return _run("intenum", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_list(i: int) -> list[User]:
    return _run("list", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_dict(i: int) -> dict[str, Profile]:
    return _run("dict", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_tuple(i: int) -> tuple[Point, Pair, Color]:
    return _run("tuple", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300, cache_none=True)
def get_optional(i: int) -> User | None:
    return _run("optional", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_union(i: int) -> int | User:
    return _run("union", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_tagged_union(i: int) -> list[Cat | Dog]:
    return _run("tagged union", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
def get_nested(i: int) -> Box:
    return _run("nested", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_dataclass(i: int) -> User:
    return _run("dataclass", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_pydantic(i: int) -> Profile:
    return _run("pydantic", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_attrs(i: int) -> Point:
    return _run("attrs", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_struct(i: int) -> Item:
    return _run("struct", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_namedtuple(i: int) -> Pair:
    return _run("namedtuple", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_typeddict(i: int) -> Row:
    return _run("typeddict", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_enum(i: int) -> Color:
    return _run("enum", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_intenum(i: int) -> Level:
    return _run("intenum", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_list(i: int) -> list[User]:
    return _run("list", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_dict(i: int) -> dict[str, Profile]:
    return _run("dict", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_tuple(i: int) -> tuple[Point, Pair, Color]:
    return _run("tuple", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300, cache_none=True)
async def aget_optional(i: int) -> User | None:
    return _run("optional", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_union(i: int) -> int | User:
    return _run("union", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_tagged_union(i: int) -> list[Cat | Dog]:
    return _run("tagged union", i)  # type: ignore[no-any-return]


@memo.cached(ttl=300)
async def aget_nested(i: int) -> Box:
    return _run("nested", i)  # type: ignore[no-any-return]


CASES: dict[str, Any] = {
    "dataclass": get_dataclass,
    "pydantic": get_pydantic,
    "attrs": get_attrs,
    "struct": get_struct,
    "namedtuple": get_namedtuple,
    "typeddict": get_typeddict,
    "enum": get_enum,
    "intenum": get_intenum,
    "list": get_list,
    "dict": get_dict,
    "tuple": get_tuple,
    "optional": get_optional,
    "union": get_union,
    "tagged union": get_tagged_union,
    "nested": get_nested,
}
ASYNC_CASES: dict[str, Any] = {
    "dataclass": aget_dataclass,
    "pydantic": aget_pydantic,
    "attrs": aget_attrs,
    "struct": aget_struct,
    "namedtuple": aget_namedtuple,
    "typeddict": aget_typeddict,
    "enum": aget_enum,
    "intenum": aget_intenum,
    "list": aget_list,
    "dict": aget_dict,
    "tuple": aget_tuple,
    "optional": aget_optional,
    "union": aget_union,
    "tagged union": aget_tagged_union,
    "nested": aget_nested,
}
ARGUMENTS = (2, 3)  # an even and an odd argument: both arms of each case's value


async def _write_async() -> None:
    for function in ASYNC_CASES.values():
        for i in ARGUMENTS:
            await function(i)


def write_all(url: str, namespace: str) -> None:
    """Write every case's entries (sync and async functions) into Redis: each a miss."""
    memo.configure(redis_url=url, namespace=namespace)
    for function in CASES.values():
        for i in ARGUMENTS:
            function(i)
    asyncio.run(_write_async())
    assert sum(RUNS.values()) == 2 * len(ARGUMENTS) * len(CASES), RUNS
    memo.configure()
