"""memo.testing.check_keys and pin_keys: they pass on sound keys and catch real key bugs."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

import memo
from memo._key_calls import OMITTED, Call
from memo.testing import call, check_keys, pin_keys

# Module-level functions: the stability check imports them by name in a subprocess.


@memo.cached
def search(query: str, limit: int = 10, *, exact: bool = False) -> list[str]:
    return []


@memo.cached
def measure(x: float, *tags: str, **options: int) -> float:
    return x


@memo.cached(key=lambda user_id, region: user_id)
def merges_regions(user_id: int, region: str) -> str:
    return f"{user_id}@{region}"


@memo.cached(key="{price:.0f}")
def rounds_prices(price: float) -> str:
    return f"{price}"


def flag_key(flag: bool | int) -> int:
    return int(flag)


@memo.cached(key=flag_key)
def merges_bool_and_int(flag: bool | int) -> str:
    return repr(flag)


@memo.cached(key=lambda account, conn: account, ignore=("conn",))
def declares_what_it_leaves_out(account: int, conn: str) -> int:
    return account


class Tenant:
    def __init__(self, name: str) -> None:
        self.name = name

    def __memo_key__(self) -> int:
        return hash(self.name)  # differs from one PYTHONHASHSEED to the next


@memo.cached
def tenant_plan(tenant: Tenant) -> str:
    return tenant.name


def test_sound_keys_pass() -> None:
    """Defaults, keyword-only, *args and **kwargs: every property holds on the default key."""
    check_keys(search, max_examples=60)
    check_keys(measure, max_examples=60, x=st.floats())  # NaN included: every NaN is one call


def test_a_key_that_merges_two_calls_is_caught() -> None:
    """key= dropping an argument: AssertionError naming the two calls, with the shrunk example."""
    with pytest.raises(AssertionError) as info:
        check_keys(merges_regions, max_examples=100, across_processes=False)
    message = str(info.value)
    assert "two different calls share the key" in message
    assert message.count("merges_regions(") >= 2
    notes = getattr(info.value, "__notes__", [])  # hypothesis's shrunk example
    assert any("(region)" in note for note in notes), notes


def test_a_template_that_rounds_is_caught() -> None:
    """A template with a format spec that rounds merges calls; check_keys says so."""
    with pytest.raises(AssertionError, match="share the key"):
        prices = st.floats(0, 3)
        check_keys(rounds_prices, max_examples=200, across_processes=False, price=prices)


def test_true_and_one_are_different_calls() -> None:
    """A key= that sends True and 1 to one key is caught: they are different calls."""
    with pytest.raises(AssertionError, match="share the key"):
        flags = st.sampled_from([True, 1, False, 0])
        check_keys(merges_bool_and_int, max_examples=200, across_processes=False, flag=flags)


def test_ignore_declares_what_a_key_leaves_out() -> None:
    """A key= that leaves out an argument listed in ignore= passes."""
    check_keys(declares_what_it_leaves_out, max_examples=50)


def test_a_key_that_depends_on_the_hash_seed_is_caught() -> None:
    """A __memo_key__ returning hash() differs in a subprocess with another PYTHONHASHSEED."""
    with pytest.raises(AssertionError, match=r"not stable.*PYTHONHASHSEED") as info:
        check_keys(tenant_plan, max_examples=10, tenant=st.builds(Tenant, st.text(min_size=1)))
    assert "__memo_key__" in str(info.value)


def test_local_functions_explain_the_limit() -> None:
    """A function that cannot be imported by name: the error says why and the way out."""

    @memo.cached
    def local(n: int) -> int:
        return n

    with pytest.raises(memo.ConfigurationError, match=r"inside a function.*across_processes"):
        check_keys(local, max_examples=5)
    check_keys(local, max_examples=20, across_processes=False)


def test_usage_errors() -> None:
    """Unknown strategy names, missing annotations, undecorated functions: clear errors."""

    @memo.cached
    def bare(n):  # type: ignore[no-untyped-def]
        return n

    with pytest.raises(memo.ConfigurationError, match="not parameters"):
        check_keys(search, nope=st.none())
    with pytest.raises(memo.ConfigurationError, match=r"'n' has no annotation.*n=st.integers"):
        check_keys(bare, across_processes=False)
    with pytest.raises(memo.ConfigurationError, match=r"decorated with @memo\.cached"):
        check_keys(search.uncached)


def test_without_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hypothesis installed, check_keys says how to install it."""
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ImportError, match=r"memo-cache\[hypothesis\]"):
        check_keys(search)


# --- pin_keys ------------------------------------------------------------------------------------

PLAN = {"suffix": "a"}


class Plan:
    def __init__(self, level: int) -> None:
        self.level = level

    def __memo_key__(self) -> tuple[int, str]:
        return (self.level, PLAN["suffix"])


@memo.cached
def price(plan: Plan, seats: int = 1) -> int:
    return plan.level * seats


CALLS = {"basic": call(Plan(1)), "team": call(Plan(2), seats=5)}


def test_pin_keys_writes_then_holds(tmp_path: Path) -> None:
    """write=True writes the file; the same keys pass afterwards, in another namespace too."""
    path = tmp_path / "keys" / "search.json"
    pin_keys(search, ["socks", ("socks", 20), {"query": "hat", "exact": True}], path, write=True)
    text = path.read_text()
    assert "search('socks', 20)" in text and "memo:*:" in text
    pin_keys(search, ["socks", ("socks", 20), {"query": "hat", "exact": True}], path)
    memo.configure(namespace="elsewhere")
    pin_keys(search, ["socks", ("socks", 20), {"query": "hat", "exact": True}], path)


def test_pin_keys_fails_with_a_diff_when_a_key_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A __memo_key__ that changes what it returns fails the pinned test, showing the diff."""
    path = tmp_path / "price.json"
    pin_keys(price, CALLS, path, write=True)
    monkeypatch.setitem(PLAN, "suffix", "b")
    with pytest.raises(AssertionError, match="keys changed since they were pinned") as info:
        pin_keys(price, CALLS, path)
    message = str(info.value)
    assert '-  "basic": "memo:*:' in message and '+  "basic": "memo:*:' in message


def test_pin_keys_missing_file_fails_unless_asked_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing file is a failure naming MEMO_PIN_KEYS=write; with it set, the file is written."""
    path = tmp_path / "absent.json"
    with pytest.raises(AssertionError, match="MEMO_PIN_KEYS=write"):
        pin_keys(price, CALLS, path)
    monkeypatch.setenv("MEMO_PIN_KEYS", "write")
    pin_keys(price, CALLS, path)
    monkeypatch.delenv("MEMO_PIN_KEYS")
    pin_keys(price, CALLS, path)
    assert path.exists()


def test_pin_keys_refuses_calls_that_print_alike(tmp_path: Path) -> None:
    """Two calls with one label cannot both be pinned: name them with a mapping."""
    with pytest.raises(memo.ConfigurationError, match="print as"):
        pin_keys(search, ["a", "a"], tmp_path / "x.json", write=True)


def _shapes(a: int, /, b: int = 2, *args: int, c: int = 3, **kw: int) -> None:
    """A signature with every kind of parameter."""


@pytest.mark.parametrize(
    "values",
    [
        (1, OMITTED, OMITTED, OMITTED, OMITTED),
        (1, 5, OMITTED, OMITTED, {"z": 1}),
        (1, OMITTED, (7, 8), 4, OMITTED),
        (1, 5, OMITTED, 4, OMITTED),
    ],
)
def test_call_forms_bind_alike(values: tuple[Any, ...]) -> None:
    """The three forms of a call are written differently and bind to the same arguments."""
    signature = inspect.signature(_shapes)
    forms = Call(signature, values).forms()
    bound = []
    for form in forms:
        arguments = signature.bind(*form.args, **form.kwargs)
        arguments.apply_defaults()
        bound.append(arguments.arguments)
    assert bound[0] == bound[1] == bound[2]
    if values[2] is OMITTED:  # without *args, b can be named, and defaults left out
        assert forms[0] != forms[1]
        if OMITTED in (values[1], values[3]):
            assert forms[2] != forms[1]
