"""Serializers: exact round-trips for every supported type, clear refusals, safe resolution."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import struct
import subprocess
import sys
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memo._codec.serializers import JSON, MSGPACK, PICKLE, Serializer, resolve, serializer_id
from memo._errors import ConfigurationError, SerializationError

# --- an exact comparison: same types all the way down, float bits, Decimal digits, tz reprs ---


def same(a: Any, b: Any) -> bool:
    """True when `b` is `a` rebuilt exactly (types, float bits, tzinfo, fold, order of dicts)."""
    t = type(a)
    if t is not type(b):
        return False
    if t is float:
        return struct.pack(">d", a) == struct.pack(">d", b)
    if t is decimal.Decimal:
        return bool(a.as_tuple() == b.as_tuple())
    if t in (list, tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if t is dict:
        pairs = zip(a.items(), b.items(), strict=True)
        return len(a) == len(b) and all(same(k, k2) and same(v, v2) for (k, v), (k2, v2) in pairs)
    if t in (set, frozenset):
        return len(a) == len(b) and all(sum(same(x, y) for y in b) == 1 for x in a)
    if t in (dt.datetime, dt.time):
        return repr(a) == repr(b)  # shows fold and the tzinfo's offset and explicit name
    return bool(a == b)


# --- strategies ------------------------------------------------------------------------------

_DAY = dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999)
offsets = st.timedeltas(min_value=-_DAY, max_value=_DAY)
fixed_tz = (
    st.just(dt.timezone.utc)
    | st.builds(dt.timezone, offsets)
    | st.builds(dt.timezone, offsets, st.text(max_size=6))
)
tzinfos = st.none() | fixed_tz
any_float_bits = st.integers(0, 2**64 - 1).map(
    lambda i: struct.unpack(">d", i.to_bytes(8, "big"))[0]
)
texts = st.text(st.characters(exclude_categories=()))  # lone surrogates included
tag_like = st.sampled_from(["~t", "~d", "~s", "~fs", "~b", "~i", "~f", "~dt", "~", "~~", "~zz"])

hashable_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**5000), max_value=2**5000)
    | st.floats(allow_nan=False)
    | texts
    | tag_like
    | st.binary()
    | st.datetimes(timezones=tzinfos).map(lambda d: d.replace(fold=d.microsecond % 2))
    | st.dates()
    | st.times(timezones=tzinfos).map(lambda t: t.replace(fold=t.second % 2))
    | st.timedeltas()
    | st.uuids()
    | st.decimals(allow_nan=False)
)
scalars = (
    hashable_scalars
    | st.floats()
    | any_float_bits
    | st.decimals(allow_nan=True, allow_infinity=True)
)
hashables = st.recursive(
    hashable_scalars,
    lambda kids: st.lists(kids, max_size=3).map(tuple) | st.frozensets(kids, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.lists(kids, max_size=4).map(tuple)
        | st.dictionaries(texts | tag_like, kids, max_size=3)
        | st.dictionaries(hashables, kids, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.frozensets(hashables, max_size=3)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("serializer", [JSON, MSGPACK, PICKLE], ids=lambda s: s.name)
@settings(deadline=None, max_examples=150)
@given(value=values)
def test_round_trip_is_exact(serializer: Serializer, value: Any) -> None:
    """Every supported value comes back with the same types, float bits and order."""
    assert same(value, serializer.loads(serializer.dumps(value)))


# --- json layout -----------------------------------------------------------------------------

LOOKALIKES = [
    {"~t": [1, 2]},
    {"~d": [[1, 2]]},
    {"~": 0},
    {"~b": "AAAA"},
    {"~zz": None, "a": 1},
    {"a": {"~s": []}},
    {1: "one", "1": 1},
    {(1, "~t"): {"~t": ()}},
]


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
@pytest.mark.parametrize("serializer", [JSON, MSGPACK], ids=lambda s: s.name)
def test_dicts_that_look_like_tags_stay_dicts(serializer: Serializer, value: Any) -> None:
    """A user dict whose keys resemble tags decodes as that dict, never as a tagged value."""
    assert same(value, serializer.loads(serializer.dumps(value)))


def test_json_tags_and_dicts_encode_differently() -> None:
    """A tuple and the dict {'~t': [...]} have different JSON, as do 1 and {'~i': '1'}."""
    pairs = [((1, 2), {"~t": [1, 2]}), (2**3000, {"~i": format(2**3000, "x")}), (b"", {"~b": ""})]
    for tagged, lookalike in pairs:
        assert JSON.dumps(tagged) != JSON.dumps(lookalike)


def test_json_is_compact_standard_utf8() -> None:
    """JSON output is compact UTF-8 without NaN/Infinity literals, readable by any JSON parser."""
    assert JSON.dumps({"é": [1, "ü"]}) == '{"é":[1,"ü"]}'.encode()
    text = JSON.dumps([float("nan"), float("-inf"), -0.0])

    def refuse(literal: str) -> None:
        raise AssertionError(literal)

    assert len(json.loads(text, parse_constant=refuse)) == 3


# --- refusals --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    x: int


class Custom:
    pass


class Pair(NamedTuple):
    a: int


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


class Plus1(dt.tzinfo):
    """A rule-based tzinfo (as zoneinfo's are): its offset is not a fixed datetime.timezone."""

    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=1)

    def dst(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, d: dt.datetime | None) -> str:
        return "P1"


UNSUPPORTED = [
    (Point(1), "Point"),
    (Custom(), "Custom"),
    (collections.OrderedDict(a=1), "OrderedDict"),
    (Pair(1), "Pair"),
    (Level.LOW, "Level"),
    (Name("x"), "Name"),
    (1j, "complex"),
    (dt.datetime(2024, 1, 1, tzinfo=Plus1()), r"Plus1 at value\.tzinfo"),
    ([dt.time(1, tzinfo=Plus1())], r"Plus1 at value\[0\]\.tzinfo"),
]


@pytest.mark.parametrize(("value", "named"), UNSUPPORTED, ids=[n for _, n in UNSUPPORTED])
@pytest.mark.parametrize("serializer", [JSON, MSGPACK], ids=lambda s: s.name)
def test_unsupported_types_are_refused_with_the_way_out(
    serializer: Serializer, value: Any, named: str
) -> None:
    """Anything outside the exact supported types raises SerializationError naming it and a fix."""
    with pytest.raises(SerializationError, match=named) as info:
        serializer.dumps(value)
    assert "serializer='pickle'" in str(info.value)
    assert "secret=" in str(info.value)


def test_buffers_are_refused_by_json_and_become_bytes_in_msgpack() -> None:
    """bytearray/memoryview: json refuses them; msgpack's C packer writes them as bytes."""
    for buffer in (bytearray(b"x"), memoryview(b"x")):
        with pytest.raises(SerializationError, match=type(buffer).__name__):
            JSON.dumps(buffer)
        assert same(MSGPACK.loads(MSGPACK.dumps([buffer])), [b"x"])


@pytest.mark.parametrize("serializer", [JSON, MSGPACK], ids=lambda s: s.name)
def test_refusal_names_the_path_inside_the_value(serializer: Serializer) -> None:
    """The error locates the offending part: index, dict key, set element."""
    with pytest.raises(SerializationError, match=r"Point at value\['a'\]\[1\]\[1\]"):
        serializer.dumps({"a": [1, (2, Point(3))]})
    with pytest.raises(SerializationError, match=r"at value\[0\] key Point\(x=1\)"):
        serializer.dumps([{Point(1): 1}])
    with pytest.raises(SerializationError, match=r"at value\{element\}"):
        serializer.dumps({Point(2)})


@pytest.mark.parametrize("serializer", [JSON, MSGPACK], ids=lambda s: s.name)
def test_recursive_value_is_refused(serializer: Serializer) -> None:
    """A list that contains itself raises SerializationError, not RecursionError."""
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="nested too deeply"):
        serializer.dumps(loop)


def test_pickle_refusal_is_a_serialization_error() -> None:
    """An unpicklable value (a lambda) raises SerializationError from PICKLE.dumps."""
    with pytest.raises(SerializationError, match="pickle"):
        PICKLE.dumps(lambda: 1)


HOSTILE_JSON = [b"\xff", b"[", b'{"~zz": 1}', b'{"~s": [[1]]}', b'{"~b": "!!"}', b'{"~dt": 5}']


@pytest.mark.parametrize("data", HOSTILE_JSON, ids=repr)
def test_json_loads_refuses_foreign_bytes(data: bytes) -> None:
    """Bytes json never wrote raise SerializationError, whatever went wrong inside."""
    with pytest.raises(SerializationError):
        JSON.loads(data)


@pytest.mark.parametrize("data", [b"\xc1", b"\x91", b"\xd4\x63\x00", b"\xd4\x01\x01"], ids=repr)
def test_msgpack_loads_refuses_foreign_bytes(data: bytes) -> None:
    """Bytes msgpack never wrote (reserved byte, short array, unknown ext) are refused."""
    with pytest.raises(SerializationError):
        MSGPACK.loads(data)


# --- resolve ---------------------------------------------------------------------------------


class Upper:
    """A user serializer: str values only."""

    name = "upper"

    def dumps(self, value: Any) -> bytes:
        return str(value).upper().encode()

    def loads(self, data: bytes) -> Any:
        return data.decode()


def test_resolve_defaults_to_pickle_signed_and_json_unsigned() -> None:
    """No choice means pickle with a secret and type-tagged JSON without one."""
    assert resolve(None, signed=True) is PICKLE
    assert resolve(None, signed=False) is JSON


def test_resolve_names_and_objects() -> None:
    """Built-in names give the built-in objects; a valid user object is returned as is."""
    assert resolve("json", signed=False) is JSON
    assert resolve("msgpack", signed=False) is MSGPACK
    assert resolve("pickle", signed=True) is PICKLE
    assert resolve(MSGPACK, signed=True) is MSGPACK
    upper = Upper()
    assert resolve(upper, signed=False) is upper


@pytest.mark.parametrize("choice", ["pickle", PICKLE], ids=["name", "object"])
def test_unsigned_pickle_is_refused_naming_both_ways_out(choice: Any) -> None:
    """Pickle without a secret fails at configuration, saying: add a secret, or use json/msgpack."""
    with pytest.raises(ConfigurationError) as info:
        resolve(choice, signed=False)
    message = str(info.value)
    for fix in ("secret=", "MEMO_SECRET", "serializer='json'", "'msgpack'"):
        assert fix in message


def test_unknown_name_lists_the_choices() -> None:
    """An unknown serializer name fails, listing the names that exist."""
    with pytest.raises(ConfigurationError, match="'pickle', 'json' or 'msgpack'"):
        resolve("yaml", signed=True)


class NoName:
    def dumps(self, value: Any) -> bytes:
        return b""

    def loads(self, data: bytes) -> Any:
        return None


class NoLoads:
    name = "noloads"

    def dumps(self, value: Any) -> bytes:
        return b""


class FakeJson(Upper):
    name = "json"


@pytest.mark.parametrize(
    ("obj", "problem"),
    [(NoName(), "no `name`"), (NoLoads(), "dumps\\(\\) or loads\\(\\)"), (FakeJson(), "built-in")],
    ids=["no-name", "no-loads", "builtin-name"],
)
def test_incomplete_serializer_objects_are_refused(obj: Any, problem: str) -> None:
    """An object without name/dumps/loads, or borrowing a built-in name, is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=problem):
        resolve(obj, signed=True)


def test_missing_msgpack_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """serializer='msgpack' without the package says pip install 'memo-cache[msgpack]'."""
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'memo-cache\[msgpack\]'"):
        resolve("msgpack", signed=False)


def test_msgpack_is_imported_lazily() -> None:
    """Importing the serializers (and the codec) does not import msgpack."""
    code = "import sys, memo._codec.envelope; assert 'msgpack' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serializer_ids() -> None:
    """Header ids: 1 pickle, 2 json, 3 msgpack, 200 for any user serializer."""
    assert [serializer_id(s) for s in (PICKLE, JSON, MSGPACK, Upper())] == [1, 2, 3, 200]


def test_serializers_match_the_protocol() -> None:
    """The built-ins are Serializer objects (a static check: mypy sees these assignments)."""
    chosen: list[Serializer] = [PICKLE, JSON, MSGPACK, Upper()]
    assert [s.name for s in chosen] == ["pickle", "json", "msgpack", "upper"]
