"""Built-in keys for numpy, pandas, pydantic, attrs and pathlib arguments, real libraries."""

from __future__ import annotations

import pathlib
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pydantic
import pytest

import memo
from memo._keys import canonical
from tests.support.python import run_python

ROOT = Path(__file__).resolve().parents[2]


def key(value: object) -> bytes:
    return canonical.encode(value)


def distinct(*values: object) -> bool:
    """Whether every value has a key of its own."""
    return len({key(v) for v in values}) == len(values)


# --- numpy ---------------------------------------------------------------------------------------


def test_equal_arrays_share_a_key() -> None:
    """Two arrays with equal dtype, shape and contents share a key, whatever their layout."""
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert key(a) == key(a.copy())
    assert key(a) == key(np.asfortranarray(a))  # same values, Fortran order in memory
    assert key(np.arange(24)[::2]) == key(np.arange(0, 24, 2))  # a strided view


def test_arrays_are_typed() -> None:
    """Equal values with another dtype, byte order or shape give another key."""
    a = np.arange(6, dtype=np.int64)
    assert distinct(
        a,
        a.astype(np.int32),
        a.astype(np.float64),
        a.astype(">i8"),  # the same numbers, big-endian
        a.reshape(2, 3),
        a.reshape(3, 2),
        a.tolist(),
    )


def test_array_contents_matter() -> None:
    """Changing one element changes the key; structured and datetime arrays are keyed too."""
    a = np.zeros(1000)
    b = a.copy()
    b[999] = 1e-300
    assert key(a) != key(b)
    rows = np.zeros(2, dtype=[("id", "<i4"), ("score", "<f8")])
    other = np.zeros(2, dtype=[("id", "<i4"), ("rank", "<f8")])  # a field named differently
    assert key(rows) != key(other)
    days = np.array(["2024-01-01"], dtype="datetime64[D]")
    assert key(days) != key(days.astype("datetime64[s]"))


def test_object_arrays_key_their_elements() -> None:
    """An object array is keyed by its elements, never by their addresses."""
    a = np.array([1, "a", None], dtype=object)
    assert key(a) == key(np.array([1, "a", None], dtype=object))
    assert key(a) != key(np.array([1, "b", None], dtype=object))
    with pytest.raises(canonical.Unencodable, match=r"at <key>\[2\]\[0\]"):
        key(np.array([object()], dtype=object))


def test_masked_arrays_key_their_mask() -> None:
    """Masked arrays with equal data but different masks differ."""
    data = [1, 2, 3]
    assert key(np.ma.masked_array(data, [0, 0, 1])) != key(np.ma.masked_array(data, [0, 1, 0]))
    assert key(np.ma.masked_array(data, [0, 0, 1])) == key(np.ma.masked_array(data, [0, 0, 1]))


def test_numpy_scalars_are_typed() -> None:
    """np.int64(1), np.int32(1), 1 and 1.0 are four keys; equal numpy scalars share one."""
    assert distinct(np.int64(1), np.int32(1), 1, 1.0, np.float64(1.0), np.bool_(True), True)
    assert key(np.int64(7)) == key(np.int64(7))
    assert key(np.float64("nan")) == key(np.float64("nan"))
    assert distinct(np.datetime64("2024-01-01"), np.datetime64("2024-01-02"))


def test_one_megabyte_array_argument() -> None:
    """A 1 MB array argument: the second call hits, a changed byte misses."""
    array = np.random.default_rng(7).random(1 << 17)  # 131,072 float64 = 1 MB
    assert array.nbytes == 1 << 20
    calls: list[float] = []

    @memo.cached
    def total(values: Any) -> float:
        calls.append(1.0)
        return float(values.sum())

    first = total(array)
    assert total(array.copy()) == first
    changed = array.copy()
    changed[12345] += 1.0
    total(changed)
    assert len(calls) == 2
    assert total.stats.hits == 1


# --- pandas ---------------------------------------------------------------------------------------


def test_series_keys() -> None:
    """A Series is keyed by values, dtype, index and name."""
    s = pd.Series([1, 2, 3], name="n")
    assert key(s) == key(pd.Series([1, 2, 3], name="n"))
    assert distinct(
        s,
        pd.Series([1, 2, 4], name="n"),
        pd.Series([1, 2, 3], name="m"),
        pd.Series([1, 2, 3], name="n", index=[1, 2, 3]),
        pd.Series([1.0, 2.0, 3.0], name="n"),
        pd.Series([1, 2, 3], name="n", dtype="Int64"),
    )


def test_series_with_extension_dtypes() -> None:
    """Categorical, nullable, string and tz-aware Series are keyed by what they hold."""
    cat = pd.Series(["a", "b"], dtype="category")
    wider = pd.Series(pd.Categorical(["a", "b"], categories=["a", "b", "c"]))
    assert key(cat) == key(pd.Series(["a", "b"], dtype="category")) and key(cat) != key(wider)
    nullable = pd.Series([1, None], dtype="Int64")
    assert key(nullable) != key(pd.Series([1, 0], dtype="Int64"))
    text = pd.Series(["x", None], dtype="string")
    assert key(text) == key(pd.Series(["x", None], dtype="string"))
    utc = pd.Series(pd.date_range("2024-01-01", periods=2, tz="UTC"))
    paris = pd.Series(pd.date_range("2024-01-01", periods=2, tz="Europe/Paris"))
    assert key(utc) != key(paris)


def test_dataframe_keys() -> None:
    """A DataFrame is keyed by columns, index, dtypes and values."""
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert key(df) == key(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert distinct(
        df,
        pd.DataFrame({"b": ["x", "y"], "a": [1, 2]}),  # column order
        pd.DataFrame({"a": [1, 2], "c": ["x", "y"]}),  # a column's name
        pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}),  # a column's dtype
        pd.DataFrame({"a": [1, 2], "b": ["x", "z"]}),  # a value
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[5, 6]),  # the index
    )


def test_index_keys() -> None:
    """An Index is keyed by its class, names and values; a MultiIndex too."""
    assert key(pd.Index([1, 2])) == key(pd.Index([1, 2]))
    assert distinct(pd.Index([1, 2]), pd.Index([1, 2], name="i"), pd.Index([1.0, 2.0]))
    assert distinct(pd.RangeIndex(2), pd.Index([0, 1]))  # the class is in the key
    multi = pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "s"])
    assert key(multi) != key(pd.MultiIndex.from_tuples([(1, "a"), (2, "c")], names=["n", "s"]))


def test_pandas_scalars() -> None:
    """Timestamps (with their zone), Timedeltas, NaT and NA are keyed."""
    assert distinct(
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-02"),
        pd.Timedelta(1, "s"),
        pd.NaT,
        pd.NA,
        None,
    )


# --- pydantic, attrs, pathlib ---------------------------------------------------------------------


class Address(pydantic.BaseModel):
    city: str


class User(pydantic.BaseModel):
    name: str
    tags: list[str] = []
    address: Address | None = None


class Team(pydantic.BaseModel):
    name: str
    tags: list[str] = []
    address: Address | None = None


class Loose(pydantic.BaseModel, extra="allow"):
    name: str


def test_pydantic_models_are_keyed_by_field_values() -> None:
    """Equal models share a key; a field, the class, a nested model or an extra differs."""
    user = User(name="ann", tags=["a"], address=Address(city="Oslo"))
    assert key(user) == key(User(name="ann", tags=["a"], address=Address(city="Oslo")))
    assert distinct(
        user,
        User(name="ann", tags=["b"], address=Address(city="Oslo")),
        User(name="ann", tags=["a"], address=Address(city="Rome")),
        Team(name="ann", tags=["a"], address=Address(city="Oslo")),
    )
    assert key(Loose(name="x", extra=1)) != key(Loose(name="x", extra=2))


@attrs.define
class Pair:
    left: int
    right: str = "r"


@attrs.frozen
class OtherPair:
    left: int
    right: str = "r"


def test_attrs_classes_are_keyed_by_attributes() -> None:
    """attrs instances are keyed by every attribute and their class."""
    assert key(Pair(1)) == key(Pair(1, "r"))
    assert distinct(Pair(1), Pair(2), Pair(1, "s"), OtherPair(1))


def test_paths_are_keyed_by_class_and_text() -> None:
    """A path's key is its class and its text: not a str, and POSIX differs from Windows."""
    assert key(pathlib.PurePosixPath("a/b")) == key(pathlib.PurePosixPath("a//b"))
    assert distinct(pathlib.PurePosixPath("a/b"), pathlib.PureWindowsPath("a/b"), "a/b")


def test_cached_functions_take_library_arguments() -> None:
    """Each built-in type works as a cached argument: a repeat is a hit."""

    @memo.cached
    def describe(value: Any) -> str:
        return type(value).__name__

    values = [
        np.arange(3),
        np.int64(1),
        pd.Series([1]),
        pd.DataFrame({"a": [1]}),
        pd.Index([1]),
        User(name="a"),
        Pair(1),
        pathlib.Path("x"),
    ]
    for value in values:
        describe(value)
        describe(value)
    assert describe.stats.misses == len(values)
    assert describe.stats.hits == len(values)


def _python(code: str) -> str:
    return run_python(code, PYTHONHASHSEED="0")


def test_libraries_imported_after_memo_are_picked_up() -> None:
    """Built-ins install when their library is imported later; memo never imports them."""
    code = (
        "import sys\n"
        "import memo\n"
        "from memo._keys import canonical\n"
        "canonical.encode(1.5)\n"
        "loaded = [m for m in ('numpy', 'pandas', 'pydantic', 'attr') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "import numpy\n"
        "print(canonical.digest(canonical.encode(numpy.arange(3))))\n"
    )
    assert _python(code) == canonical.digest(key(np.arange(3)))


def test_array_key_is_stable_across_processes() -> None:
    """The key of an array, a DataFrame and a model is the same in another process."""
    code = (
        "import numpy, pandas, pydantic\n"
        "from memo._keys import canonical\n"
        "value = (numpy.arange(5.0), pandas.DataFrame({'a': [1, 2]}), numpy.float32(2.5))\n"
        "print(canonical.digest(canonical.encode(value)))\n"
    )
    value = (np.arange(5.0), pd.DataFrame({"a": [1, 2]}), np.float32(2.5))
    assert _python(code) == canonical.digest(key(value))
