"""Keys: call-style equivalence, layout, stability across processes, and a golden file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import memo
from tests import keyed_functions

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "cache_keys.json"
KEY_SHAPE = re.compile(r"^memo:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:v[A-Za-z0-9._-]+:\{[0-9a-f]{32}\}$")

scalars = st.one_of(
    st.integers(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=8,
)


@memo.cached
def three(a: Any, b: Any = 0, *, c: Any = None) -> Any:
    return (a, b, c)


@given(a=values, b=values, c=values)
def test_call_styles_give_one_key(a: Any, b: Any, c: Any) -> None:
    """Positional, keyword and default-filled calls of one binding have one key."""
    expected = three.cache_key(a, b, c=c)
    assert three.cache_key(a=a, b=b, c=c) == expected
    assert three.cache_key(a, c=c, b=b) == expected
    if b == 0 and type(b) is int:
        assert three.cache_key(a, c=c) == expected
    if c is None:
        assert three.cache_key(a, b) == expected


@given(first=values, second=values)
def test_different_arguments_give_different_keys(first: Any, second: Any) -> None:
    """Keys are equal only when the arguments are equal in type and value (injectivity)."""
    same = repr_typed(first) == repr_typed(second)
    assert (three.cache_key(first) == three.cache_key(second)) == same


def repr_typed(value: Any) -> Any:
    """A model of canonical equality: exact types, unordered dicts and sets, float bits."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, dict):
        pairs = ((repr(repr_typed(k)), repr(repr_typed(v))) for k, v in value.items())
        return ("dict", sorted(pairs))
    if isinstance(value, frozenset):
        return ("frozenset", sorted(repr(repr_typed(v)) for v in value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [repr_typed(v) for v in value])
    return (type(value).__name__, value)


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_dict_order_does_not_matter(mapping: dict[str, int]) -> None:
    """A dict argument keys the same whatever its insertion order."""
    reordered = dict(reversed(list(mapping.items())))
    assert three.cache_key(mapping) == three.cache_key(reordered)


def test_fast_path_and_general_path_agree() -> None:
    """The hit path's tuple key and the general path find the same entry."""
    calls: list[int] = []

    @memo.cached
    def f(a: int, b: str) -> int:
        calls.append(a)
        return a

    f(a=1, b="x")  # stored through the general path
    f(1, "x")  # read through the hit path
    f(b="x", a=1)
    assert calls == [1]
    assert f.stats.l1_hits == 2


def test_key_layout() -> None:
    """Keys read memo:{namespace}:{module.qualname}:v{version}:{<32 hex>}."""
    key = keyed_functions.plain.cache_key(1)
    assert key.startswith("memo:default:tests.keyed_functions.plain:v1:{")
    assert KEY_SHAPE.match(key)


def test_local_function_names_are_sanitised() -> None:
    """<locals> and other unsafe characters never reach the key."""

    @memo.cached
    def inner(x: int) -> int:
        return x

    key = inner.cache_key(1)
    assert "<" not in key
    assert "_locals_" in key
    assert KEY_SHAPE.match(key)


def test_long_names_are_truncated_to_200_characters() -> None:
    """A very long qualified name still gives a key of at most 200 characters."""

    def make() -> Any:
        def f(x: int) -> int:
            return x

        f.__qualname__ = "A" * 300
        return memo.cached(f)

    a = make()
    key = a.cache_key(1)
    assert len(key) <= 200
    assert KEY_SHAPE.match(key)
    memo.configure(namespace="n" * 64)
    assert len(a.cache_key(1)) <= 200


def compute_golden() -> dict[str, str]:
    out = {}
    for name, args, kwargs in keyed_functions.CALLS:
        function = getattr(keyed_functions, name)
        out[f"{name}{args!r}{kwargs!r}"] = function.cache_key(*args, **kwargs)
    return out


def test_golden_keys() -> None:
    """Keys of fixed calls never change silently (that would empty every user's cache)."""
    current = compute_golden()
    if os.environ.get("MEMO_REGEN_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n")
    golden = json.loads(GOLDEN.read_text())
    changed = {k: (golden.get(k), v) for k, v in current.items() if golden.get(k) != v}
    assert not changed, (
        "cache keys changed: every deployed cache would miss. If intended, bump the key "
        f"format version and regenerate with MEMO_REGEN_GOLDEN=1. Changed: {changed}"
    )


SCRIPT = """
import json
from tests.keys.test_keys import compute_golden
print(json.dumps(compute_golden()))
"""


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_keys_stable_across_processes(seed: str) -> None:
    """Another interpreter with another PYTHONHASHSEED computes the same keys."""
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == compute_golden()
