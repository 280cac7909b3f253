"""The canonical encoding behind cache keys: typed, length-prefixed, order-free, stable."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import json
import os
import pathlib
import pickle
import random
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from memo._keys import canonical as _canonical
from memo._keys.canonical import Unencodable, digest, encode, encode_arguments

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = pathlib.Path(__file__).resolve().parent / "golden" / "canonical.json"
D = decimal.Decimal


# --- small classes, relocated to a fixed module so their names (and the golden file) stay put ---


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    LOW = 1


class Perm(enum.Flag):
    R = 4
    W = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: object
    y: object


@dataclasses.dataclass(frozen=True)
class Other:
    x: object
    y: object


class UserId(int):
    pass


class OrderId(int):
    pass


class Name(str):
    pass


class Pair(NamedTuple):
    a: object
    b: object


class Keyed:
    def __init__(self, n: object) -> None:
        self.n = n

    def __memo_key__(self) -> object:
        return ("k", self.n)


class AlsoKeyed(Keyed):
    pass


@dataclasses.dataclass
class KeyedPoint:
    x: int

    def __memo_key__(self) -> object:
        return self.x


class KeyedColor(enum.Enum):
    RED = 1

    def __memo_key__(self) -> object:
        return "red"


class KeyedStr(str):
    def __memo_key__(self) -> object:
        return "fixed"


class Plain:
    pass


class MyDate(datetime.date):
    pass


class KeyedDate(datetime.date):
    def __memo_key__(self) -> object:
        return self.isoformat()


class FixedOffset(datetime.tzinfo):
    """A tzinfo unknown to the encoder: only its offset may count."""

    def __init__(self, hours: int) -> None:
        self.hours = hours

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(hours=self.hours)

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)

    def tzname(self, dt: datetime.datetime | None) -> str:
        return f"fixed{self.hours}"


CLASSES: tuple[type, ...] = (Color, Shade, Level, Perm, Point, Other, UserId, OrderId, Name)
CLASSES += (Pair, Keyed, AlsoKeyed, KeyedPoint, KeyedColor, KeyedStr, Plain, MyDate, KeyedDate)
for _cls in CLASSES:
    _cls.__module__ = "memo_golden"


def golden_namespace() -> dict[str, object]:
    """Names the golden file's value sources may use."""
    modules = (collections, datetime, decimal, enum, fractions, pathlib, uuid)
    names: dict[str, object] = {m.__name__: m for m in modules}
    names.update((cls.__name__, cls) for cls in CLASSES)
    names["Decimal"] = D
    return names


def golden_entries() -> list[dict[str, str]]:
    """The golden file's entries: value source text and expected digest."""
    entries: list[dict[str, str]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return entries


def golden_digests() -> list[str]:
    """Digest of every golden value, computed here (also run in subprocesses)."""
    namespace = golden_namespace()
    return [digest(encode(eval(e["value"], namespace))) for e in golden_entries()]


# --- type tags ---------------------------------------------------------------------------------


def test_scalars_of_different_types_differ() -> None:
    """1, 1.0, True, "1", b"1", bytearray(b"1"), Decimal(1), 1+0j and None all encode apart."""
    values = [1, 1.0, True, "1", b"1", bytearray(b"1"), D(1), 1 + 0j, None, fractions.Fraction(1)]
    assert len({encode(v) for v in values}) == len(values)


def test_false_zero_and_empty_values_differ() -> None:
    """False, 0, 0.0, "", b"", (), [], {}, set() and frozenset() all encode apart."""
    values: list[object] = [False, 0, 0.0, "", b"", (), [], {}, set(), frozenset(), None]
    assert len({encode(v) for v in values}) == len(values)


def test_signed_zero_floats_differ() -> None:
    """0.0 and -0.0 compare equal but encode apart."""
    assert encode(0.0) != encode(-0.0)
    assert encode(complex(0.0, 0.0)) != encode(complex(0.0, -0.0))


def test_all_nans_encode_alike() -> None:
    """Every NaN, whatever its sign or payload, has one encoding."""
    payload_nan = struct.unpack(">d", b"\x7f\xf8\x00\x00\x00\x00\x12\x34")[0]
    nans = [float("nan"), -float("nan"), payload_nan, float("inf") - float("inf")]
    assert len({encode(n) for n in nans}) == 1
    assert encode(float("nan")) != encode(float("inf"))


@pytest.mark.parametrize("n", [0, 1, -1, 127, 128, -128, -129, 255, 1023, 1024, -256, -257])
def test_ints_decode_back(n: int) -> None:
    """An int encodes as tag, length and two's-complement bytes that read back as the int."""
    data = encode(n)
    assert data[:1] == b"i"
    assert data[2:] and int.from_bytes(data[2:], "big", signed=True) == n
    assert data[1] == len(data) - 2


def test_huge_ints_use_long_lengths() -> None:
    """Ints of any size encode, and ints needing multi-byte lengths stay distinct."""
    values = [2**1000, -(2**1000), 2**8000, 2**8000 + 1, -(2**8000)]
    assert len({encode(v) for v in values}) == len(values)


def test_str_is_utf8_with_surrogates() -> None:
    """str encodes as UTF-8, lone surrogates included, and differs from the same bytes."""
    assert encode("é") == b"s\x02\xc3\xa9"
    assert encode("\ud800") != encode("\ud801")
    assert encode("é") != encode("é".encode())


def test_bytes_and_bytearray_differ() -> None:
    """bytes and bytearray with equal contents encode apart; both are supported."""
    assert encode(b"ab") != encode(bytearray(b"ab"))
    assert encode(bytearray(b"ab")) == encode(bytearray(b"ab"))


def test_none_and_bools() -> None:
    """None, True and False have fixed one-byte encodings."""
    assert [encode(None), encode(True), encode(False)] == [b"N", b"T", b"F"]


# --- length prefixes and containers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("a:b", "c"), ("a", "b:c")),
        (("ab",), ("a", "b")),
        (((1,), 2), (1, (2,))),
        (([], [[]]), ([[]], [])),
        ((b"ab", b""), (b"a", b"b")),
        (("a" * 200,), ("a" * 199, "a")),
        ({"a": "bc"}, {"ab": "c"}),
        ({"a": 1, "b": 2}, {"a": 2, "b": 1}),
        ([1, 2], [[1, 2]]),
    ],
)
def test_concatenations_are_unambiguous(a: object, b: object) -> None:
    """Length prefixes keep differently split or nested values apart."""
    assert encode(a) != encode(b)


def test_tuple_and_list_differ() -> None:
    """A tuple and a list with the same elements encode apart."""
    assert encode((1, 2)) != encode([1, 2])
    assert encode(()) != encode([])


def test_long_containers() -> None:
    """Containers of 128 or more elements use a multi-byte count and stay distinct."""
    assert encode(list(range(200))) != encode([*range(200), 200])
    assert encode(list(range(200))) == encode(list(range(200)))


def test_dict_order_does_not_matter() -> None:
    """Dicts equal up to insertion order encode alike."""
    assert encode({"a": 1, "b": [2], 3: None}) == encode({3: None, "b": [2], "a": 1})


def test_set_order_does_not_matter() -> None:
    """Sets and frozensets built in different orders encode alike."""
    words = [f"w{i}" for i in range(50)]
    shuffled = random.Random(4).sample(words, len(words))
    assert encode(set(words)) == encode(set(shuffled))
    assert encode(frozenset(words)) == encode(frozenset(shuffled))


def test_set_and_frozenset_differ() -> None:
    """A set and a frozenset with the same elements encode apart."""
    assert encode({1, 2}) != encode(frozenset({1, 2}))


def test_nested_containers() -> None:
    """Containers nest to any supported depth, and equal nestings encode alike."""
    value = {"a": [(1, frozenset({(2, "x")})), {"b": {3: [None]}}]}
    assert encode(value) == encode(copy.deepcopy(value))


# --- recursion and depth -----------------------------------------------------------------------


def nested(depth: int) -> list[object]:
    """`depth` lists nested in one another."""
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_depth_limit_boundary() -> None:
    """Nesting up to the depth limit encodes; one level more raises Unencodable."""
    encode(nested(_canonical._MAX_DEPTH))
    with pytest.raises(Unencodable) as info:
        encode(nested(_canonical._MAX_DEPTH + 1))
    assert info.value.value_type is list
    assert "deeper" in info.value.reason
    assert info.value.path == "[0]" * _canonical._MAX_DEPTH


def test_very_deep_nesting_is_unencodable_not_recursion_error() -> None:
    """Nesting far past Python's recursion limit raises Unencodable, not RecursionError."""
    with pytest.raises(Unencodable):
        encode(nested(50_000))


def test_recursive_list() -> None:
    """A list containing itself raises Unencodable "recursive container" at the closing path."""
    value: list[object] = [1]
    value.append(value)
    with pytest.raises(Unencodable) as info:
        encode(value)
    assert (info.value.path, info.value.value_type) == ("[1]", list)
    assert info.value.reason == "recursive container"


def test_recursive_dict_through_a_list() -> None:
    """A cycle through several containers is reported where it closes."""
    inner: dict[str, object] = {}
    outer = [0, inner]
    inner["loop"] = [outer]
    with pytest.raises(Unencodable) as info:
        encode(outer)
    assert (info.value.path, info.value.value_type) == ("[1]['loop'][0]", list)
    assert info.value.reason == "recursive container"


def test_repeated_but_acyclic_container_is_fine() -> None:
    """The same list twice in a value is not a cycle."""
    shared = [1, 2]
    assert encode([shared, shared]) == encode([[1, 2], [1, 2]])


def test_hook_returning_itself_is_recursive() -> None:
    """A __memo_key__ that returns its own object raises "recursive container"."""

    class Selfish:
        def __memo_key__(self) -> object:
            return self

    with pytest.raises(Unencodable) as info:
        encode(Selfish())
    assert info.value.path == ".__memo_key__()"
    assert info.value.reason == "recursive container"


# --- enums, dataclasses, classes, hooks, subclasses ---------------------------------------------


def test_enum_members() -> None:
    """Enum members encode by class and name: not as their value, not as another enum's member."""
    assert encode(Level.LOW) != encode(1)
    assert encode(Color.RED) != encode(Shade.RED)
    assert encode(Color.RED) != encode(Color.GREEN)
    assert encode(Color.RED) == encode(Color(1))


def test_flag_members() -> None:
    """Flag members, combined ones included, encode by class and value."""
    assert encode(Perm.R | Perm.W) == encode(Perm(6))
    assert encode(Perm.R | Perm.W) != encode(Perm.R)
    assert encode(Perm.R) != encode(4)


def test_dataclasses() -> None:
    """Dataclass instances encode by class and fields in order: equal fields, equal bytes."""
    assert encode(Point(1, 2)) == encode(Point(1, 2))
    assert encode(Point(1, 2)) != encode(Point(2, 1))
    assert encode(Point(1, 2)) != encode(Other(1, 2))
    assert encode(Point(1, 2)) != encode((1, 2))
    assert encode(Point([1], {"a": 2})) == encode(Point([1], {"a": 2}))


def test_classes() -> None:
    """Classes encode by module and qualname."""
    assert encode(int) != encode(str)
    assert encode(Point) != encode(Other)
    assert encode(Point) == encode(Point)
    assert encode(int) != encode("builtins.int")


def test_local_classes_share_their_qualname() -> None:
    """Classes made in a function encode by module.qualname, '<locals>' included (documented)."""

    def make() -> type:
        class Local:
            pass

        return Local

    first, second = make(), make()
    assert "<locals>" in first.__qualname__
    assert encode(first) == encode(second)


def test_generic_alias_is_not_a_class() -> None:
    """list[int] is no class: it raises rather than pass for list."""
    with pytest.raises(Unencodable):
        encode(list[int])


def test_memo_key_hook() -> None:
    """__memo_key__() results are encoded under the class name: equal keys, equal bytes."""
    assert encode(Keyed(3)) == encode(Keyed(3))
    assert encode(Keyed(3)) != encode(Keyed(4))
    assert encode(Keyed(3)) != encode(("k", 3))
    assert encode(Keyed(3)) != encode(AlsoKeyed(3))


def test_hook_beats_dataclass_enum_and_subclass_handling() -> None:
    """A hook takes precedence over dataclass, enum and builtin-subclass encodings."""
    assert encode(KeyedPoint(1)) == encode(KeyedPoint(1))
    assert encode(KeyedPoint(1)) != encode(KeyedPoint(2))
    assert encode(KeyedPoint(1))[:1] == b"H"  # the hook's tag, not the dataclass's
    assert encode(KeyedPoint(1)).endswith(encode(1))
    assert encode(KeyedColor.RED) != encode(Color.RED)
    assert encode(KeyedStr("a")) == encode(KeyedStr("b"))
    assert encode(KeyedDate(2024, 1, 2)) != encode(datetime.date(2024, 1, 2))


def test_hook_failure_path() -> None:
    """An Unencodable inside a hook's result gets the ".__memo_key__()" path prefix."""
    with pytest.raises(Unencodable) as info:
        encode([Keyed(object())])
    assert (info.value.path, info.value.value_type) == ("[0].__memo_key__()[1]", object)


def test_builtin_subclasses() -> None:
    """Subclasses of builtins encode by class name plus their builtin value."""
    assert encode(UserId(1)) != encode(1)
    assert encode(UserId(1)) != encode(OrderId(1))
    assert encode(UserId(1)) == encode(UserId(1))
    assert encode(Name("a")) != encode("a")
    assert encode(Pair(1, "b")) != encode((1, "b"))
    assert encode(Pair(1, "b")) == encode(Pair(1, "b"))
    counter, plain = collections.Counter("abca"), {"a": 2, "b": 1, "c": 1}
    assert encode(counter) != encode(plain)
    ordered = collections.OrderedDict([("b", 1), ("a", 2)])
    assert encode(ordered) == encode(collections.OrderedDict([("a", 2), ("b", 1)]))


def test_stdlib_value_subclasses_need_a_hook() -> None:
    """A subclass of a standard-library value type (which may add state) raises Unencodable."""
    with pytest.raises(Unencodable) as info:
        encode(MyDate(2024, 1, 2))
    assert info.value.value_type is MyDate
    assert "__memo_key__" in info.value.reason


# --- datetimes and other standard-library values ------------------------------------------------


def test_datetime_types_differ() -> None:
    """A datetime, its date, a time and a timedelta all encode apart."""
    moment = datetime.datetime(2024, 1, 2)
    values = [moment, moment.date(), moment.time(), datetime.timedelta(0)]
    assert len({encode(v) for v in values}) == len(values)


def test_naive_and_aware_datetimes_differ() -> None:
    """A naive datetime and the same wall clock at UTC encode apart."""
    naive = datetime.datetime(2024, 1, 2, 12)
    assert encode(naive) != encode(naive.replace(tzinfo=datetime.timezone.utc))
    assert encode(naive.time()) != encode(naive.time().replace(tzinfo=datetime.timezone.utc))


def test_aware_datetimes_keep_wall_clock_and_offset() -> None:
    """12:00+00:00 and 13:00+01:00 (the same instant) encode apart."""
    utc = datetime.datetime(2024, 1, 2, 12, tzinfo=datetime.timezone.utc)
    plus_one = utc.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert utc == plus_one
    assert encode(utc) != encode(plus_one)


def test_tzinfo_identity_does_not_matter() -> None:
    """Different tzinfo objects giving the same offset give the same encoding."""
    moment = datetime.datetime(2024, 1, 2, 12, 30, 5, 7)
    zones: list[datetime.tzinfo] = [
        datetime.timezone.utc,
        datetime.timezone(datetime.timedelta(0), "Somewhere"),
        FixedOffset(0),
    ]
    assert len({encode(moment.replace(tzinfo=z)) for z in zones}) == 1
    assert encode(moment.replace(tzinfo=FixedOffset(1))) != encode(moment.replace(tzinfo=zones[0]))


def test_datetime_fields_all_count() -> None:
    """Each datetime field, down to microseconds, changes the encoding."""
    base = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    fields = ["year", "month", "day", "hour", "minute", "second", "microsecond"]
    variants = [base, *(base.replace(**{f: getattr(base, f) + 1}) for f in fields)]
    assert len({encode(v) for v in variants}) == len(variants)


def test_timedeltas() -> None:
    """Equal timedeltas encode alike; different ones, negative included, apart."""
    assert encode(datetime.timedelta(hours=1)) == encode(datetime.timedelta(minutes=60))
    assert encode(datetime.timedelta(seconds=-1)) != encode(datetime.timedelta(seconds=1))


def test_uuid() -> None:
    """A UUID encodes as a tag and its 16 bytes."""
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert encode(value) == b"U" + value.bytes
    assert encode(value) != encode(value.bytes)


def test_decimal_normalisation() -> None:
    """Equal finite Decimals encode alike whatever their exponent."""
    assert encode(D("1.0")) == encode(D("1.00")) == encode(D("1"))
    assert encode(D("10")) == encode(D("1E+1"))
    assert encode(D("0.000")) == encode(D("0E+5")) == encode(D("0"))
    assert encode(D("1.5")) != encode(D("1.05"))


def test_decimal_signed_zero_and_specials() -> None:
    """-0 and 0 differ; NaNs are one value; sNaN and both infinities are distinct."""
    assert encode(D("-0")) != encode(D("0"))
    assert encode(D("-0.00")) == encode(D("-0"))
    assert encode(D("NaN")) == encode(D("-NaN")) == encode(D("NaN123"))
    specials = [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), D("0")]
    assert len({encode(v) for v in specials}) == len(specials)


def test_decimal_ignores_context_precision() -> None:
    """Decimals with more digits than the context's precision are not rounded together."""
    long = D("1." + "0" * 40 + "1")
    assert encode(long) != encode(D("1"))
    encode(D("9" * 5000))  # beyond int()'s digit limit for str conversion


def test_fractions_and_complex() -> None:
    """Fractions encode by their reduced terms; complex numbers by both parts."""
    assert encode(fractions.Fraction(2, 4)) == encode(fractions.Fraction(1, 2))
    assert encode(fractions.Fraction(1, 2)) != encode(fractions.Fraction(-1, 2))
    assert encode(1 + 2j) != encode(2 + 1j)


def test_paths() -> None:
    """Paths encode by class name and text: a pure and a concrete path differ."""
    assert encode(pathlib.PurePosixPath("/a/b")) == encode(pathlib.PurePosixPath("/a//b"))
    assert encode(pathlib.PurePosixPath("/a")) != encode(pathlib.PureWindowsPath("/a"))
    assert encode(pathlib.PurePosixPath("/a")) != encode("/a")
    assert encode(pathlib.Path("/a")) != encode(pathlib.PurePath("/a"))


# --- unsupported values and error paths ---------------------------------------------------------


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    "make",
    [
        object,
        Plain,
        lambda: len,
        lambda: _generator,
        lambda: lambda: None,
        _generator,
        threading.Lock,
        lambda: sys,
        lambda: iter([1]),
        lambda: memoryview(b"x"),
        lambda: functools.partial(len),
        lambda: Ellipsis,
    ],
)
def test_unsupported_values_raise(make: Callable[[], object]) -> None:
    """Objects without a canonical encoding raise Unencodable with path "" and their type."""
    value = make()
    with pytest.raises(Unencodable) as info:
        encode(value)
    assert (info.value.path, info.value.value_type) == ("", type(value))
    assert info.value.reason == "no canonical encoding for this type"


def test_unsupported_file_raises() -> None:
    """An open file raises Unencodable."""
    with open(__file__, encoding="utf-8") as handle, pytest.raises(Unencodable) as info:
        encode([handle])
    assert info.value.path == "[0]"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([1, {"k": object()}], "[1]['k']"),
        ({"a": (1, 2, [object()])}, "['a'][2][0]"),
        (Point(1, object()), ".y"),
        ([Point(1, [0, object()])], "[0].y[1]"),
        (Pair(1, object()), "[1]"),
        ({object()}, "{...}"),
        ([frozenset({(1, object())})], "[0]{...}[1]"),
        ({object(): 1}, "{key}"),
        ({(1, object()): 1}, "{key}[1]"),
        (Keyed([object()]), ".__memo_key__()[1][0]"),
    ],
)
def test_unencodable_paths(value: object, path: str) -> None:
    """Unencodable names where inside the value the offending object sits."""
    with pytest.raises(Unencodable) as info:
        encode(value)
    assert (info.value.path, info.value.value_type) == (path, object)
    assert info.value.argument is None


def test_long_dict_keys_are_abbreviated_in_paths() -> None:
    """A long dict key appears shortened in the path, not in full."""
    with pytest.raises(Unencodable) as info:
        encode({"a" * 1000: object()})
    assert info.value.path.startswith("['aaa")
    assert "..." in info.value.path
    assert len(info.value.path) < 50


def test_unencodable_message_and_pickle() -> None:
    """Unencodable says what and where, and survives pickling."""
    with pytest.raises(Unencodable) as info:
        encode([1, {"k": Plain()}])
    assert str(info.value) == (
        "cannot encode memo_golden.Plain at [1]['k']: no canonical encoding for this type"
    )
    with pytest.raises(Unencodable) as info:
        encode_arguments((0, {"k": object()}))
    copied = pickle.loads(pickle.dumps(info.value))
    assert (copied.path, copied.value_type, copied.argument) == ("['k']", object, 1)
    assert str(copied) == str(info.value)


# --- encode_arguments and digest ---------------------------------------------------------------


def test_encode_arguments_equals_tuple_encoding() -> None:
    """encode_arguments(args) gives the bytes of encode(args)."""
    args = (1, "x", [1.5, None], {"a": b"b"}, Point(1, 2))
    assert encode_arguments(args) == encode(args)
    assert encode_arguments(()) == encode(())


def test_encode_arguments_names_the_argument() -> None:
    """An Unencodable from encode_arguments carries the argument position and a relative path."""
    with pytest.raises(Unencodable) as info:
        encode_arguments((1, [2, object()]))
    assert (info.value.argument, info.value.path, info.value.value_type) == (1, "[1]", object)
    with pytest.raises(Unencodable) as info:
        encode_arguments((Plain(),))
    assert (info.value.argument, info.value.path) == (0, "")


def test_digest() -> None:
    """digest is the 32-hex-digit xxh3-128 of the bytes."""
    data = encode(("a", 1))
    assert digest(data) == xxhash.xxh3_128(data).hexdigest()
    assert len(digest(b"")) == 32
    assert digest(b"x") == digest(b"x").lower()


# --- properties --------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
)
HASHABLES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)


def containers(inner: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> Any:
    """Tuples, lists, dicts, sets and frozensets of `inner` (keys and elements from `keys`)."""
    return (
        st.lists(inner, max_size=4).map(tuple)
        | st.lists(inner, max_size=4)
        | st.dictionaries(keys, inner, max_size=4)
        | st.sets(keys, max_size=4)
        | st.frozensets(keys, max_size=4)
    )


VALUES = st.recursive(SCALARS, lambda inner: containers(inner, HASHABLES), max_leaves=12)
# A small alphabet of look-alikes (1, 1.0, True, "1", b"1", 0.0, -0.0, ...) so that pairs
# are often equal or nearly so.
LOOKALIKES = st.sampled_from([0, 1, 0.0, -0.0, 1.0, True, False, None, "", "1", b"", b"1"])
SMALL_HASHABLES = st.recursive(
    LOOKALIKES, lambda inner: st.lists(inner, max_size=2).map(tuple), max_leaves=3
)
SMALL_VALUES = st.recursive(
    LOOKALIKES, lambda inner: containers(inner, SMALL_HASHABLES), max_leaves=5
)


def same(a: object, b: object) -> bool:
    """Typed structural equality: exact types everywhere, floats by bits, dicts/sets unordered."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list))
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return len(a) == len(b) and all(
            any(same(k, k2) and same(v, b[k2]) for k2 in b) for k, v in a.items()
        )
    if isinstance(a, (set, frozenset)):
        assert isinstance(b, (set, frozenset))
        return len(a) == len(b) and all(any(same(x, y) for y in b) for x in a)
    return a == b


def rebuilt(value: object, rng: random.Random) -> object:
    """An independent copy of `value`, with dicts and sets filled in a shuffled order."""
    if isinstance(value, (tuple, list)):
        return type(value)(rebuilt(v, rng) for v in value)
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {rebuilt(k, rng): rebuilt(v, rng) for k, v in items}
    if isinstance(value, (set, frozenset)):
        elements = list(value)
        rng.shuffle(elements)
        return type(value)(rebuilt(e, rng) for e in elements)
    if isinstance(value, (int, str, bytes)) and not isinstance(value, bool):
        return copy.copy(value)
    return value


@settings(deadline=None)
@given(VALUES, VALUES)
def test_encoding_is_injective(a: object, b: object) -> None:
    """Two generated values encode alike exactly when they are structurally equal, typed."""
    assert (encode(a) == encode(b)) == same(a, b)


@settings(deadline=None, max_examples=300)
@given(SMALL_VALUES, SMALL_VALUES)
def test_encoding_is_injective_on_lookalikes(a: object, b: object) -> None:
    """Values built from look-alike scalars (1, 1.0, True, -0.0...) encode alike iff equal."""
    assert (encode(a) == encode(b)) == same(a, b)


@settings(deadline=None)
@given(VALUES, st.randoms(use_true_random=False))
def test_rebuilt_copy_encodes_alike(value: object, rng: random.Random) -> None:
    """An independently rebuilt copy (shuffled dict/set insertion) encodes identically."""
    other = rebuilt(value, rng)
    assert same(value, other)
    assert encode(value) == encode(other) == encode(copy.deepcopy(value))


@settings(deadline=None)
@given(st.dictionaries(HASHABLES, VALUES, max_size=8), st.randoms(use_true_random=False))
def test_dict_insertion_order_is_irrelevant(value: dict[Any, Any], rng: random.Random) -> None:
    """A dict built in any insertion order encodes alike."""
    items = list(value.items())
    rng.shuffle(items)
    assert encode(dict(items)) == encode(value)


@settings(deadline=None)
@given(st.frozensets(HASHABLES, max_size=8), st.randoms(use_true_random=False))
def test_set_insertion_order_is_irrelevant(value: frozenset[Any], rng: random.Random) -> None:
    """Sets and frozensets built in any insertion order encode alike."""
    elements = list(value)
    rng.shuffle(elements)
    assert encode(frozenset(elements)) == encode(value)
    assert encode(set(elements)) == encode(set(value))


@settings(deadline=None)
@given(st.lists(VALUES, max_size=5).map(tuple))
def test_encode_arguments_property(args: tuple[object, ...]) -> None:
    """encode_arguments equals the encoding of the argument tuple for generated arguments."""
    assert encode_arguments(args) == encode(args)


# --- stability across processes and releases ---------------------------------------------------


@pytest.mark.parametrize("seed", ["1", "12345"])
def test_digests_are_stable_across_processes(seed: str) -> None:
    """Another interpreter, with another PYTHONHASHSEED, computes the same digests."""
    code = (
        "import importlib.util, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"spec = importlib.util.spec_from_file_location('canonical_probe', {__file__!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['canonical_probe'] = module\n"
        "spec.loader.exec_module(module)\n"
        "print(json.dumps(module.golden_digests()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == golden_digests()


def test_golden_digests() -> None:
    """Every golden value still has its recorded digest (MEMO_REGEN_GOLDEN=1 rewrites them)."""
    entries, digests = golden_entries(), golden_digests()
    if os.environ.get("MEMO_REGEN_GOLDEN") == "1":
        lines = [
            json.dumps({"value": e["value"], "digest": d}, ensure_ascii=False)
            for e, d in zip(entries, digests, strict=True)
        ]
        GOLDEN.write_text("[\n " + ",\n ".join(lines) + "\n]\n", encoding="utf-8")
        return
    changed = [e["value"] for e, d in zip(entries, digests, strict=True) if e["digest"] != d]
    assert not changed, (
        f"the canonical encoding of {changed} changed. That changes every cache key, so it "
        "invalidates every existing user's cache (L2 entries become unreachable). If intended, "
        "bump _FORMAT_VERSION in memo/_canonical.py deliberately and regenerate with "
        "MEMO_REGEN_GOLDEN=1."
    )


def test_golden_file_covers_every_supported_type() -> None:
    """The golden values include every exactly dispatched type and every other encoding path."""
    namespace = golden_namespace()
    values = [eval(e["value"], namespace) for e in golden_entries()]
    kinds = {type(v) for v in values}
    assert set(_canonical._DISPATCH) <= kinds
    assert {Color, Perm, Point, UserId, Pair, Keyed, type} <= kinds
    assert any(isinstance(v, pathlib.PurePath) for v in values)
    assert any(isinstance(v, datetime.datetime) and v.tzinfo for v in values)
