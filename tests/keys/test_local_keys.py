"""L1 keys agree with Redis keys: two calls share an L1 key iff they share a cache_key().

Values are drawn from small pools of look-alikes (1, 1.0, True, "1"; 0.0, -0.0, NaN; a tuple
and a list; equal dicts and sets in another order; naive and aware datetimes; equal and
unequal Decimals; enums, flags, dataclasses, `__memo_key__` objects), nested, so that equal
and unequal pairs both come up often. The pure tests compare the builder's L1 key with the
Redis key; the call tests check that the generated hit path uses that very L1 key for every
call shape; the Redis test replays pairs through L1 and a real redis-server.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import gc
import inspect
import itertools
import os
import signal
import threading
import time
import types
import uuid
import weakref
from collections.abc import Hashable
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import memo
from memo._keys import local
from memo._runtime.hit_source import declared_parameters

UTC = datetime.timezone.utc
PLUS_ONE = datetime.timezone(datetime.timedelta(hours=1))


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Number(enum.IntEnum):
    ONE = 1


class Perm(enum.Flag):
    R = 1
    W = 2


@dataclasses.dataclass
class Item:  # not frozen: keyed by its fields on every call, never by identity
    id: Any
    tag: str = "t"


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: Any


class Keyed:
    def __init__(self, key: Any) -> None:
        self.key = key

    def __memo_key__(self) -> Any:
        return self.key


def _twin() -> type:
    class Twin:  # every class made here has one qualified name, so one encoding
        pass

    return Twin


TWINS = (_twin(), _twin())
NAN = float("nan")
LOOK_ALIKES: list[Any] = [
    0,
    1,
    -1,
    2**70,
    True,
    False,
    None,
    "1",
    "",
    "a",
    b"1",
    b"",
    bytearray(b"1"),
    1.0,
    0.0,
    -0.0,
    NAN,
    float("inf"),
    -float("inf"),
    1.5,
    complex(1, 0),
    complex(0.0, -0.0),
    decimal.Decimal("1"),
    decimal.Decimal("1.00"),
    decimal.Decimal("0"),
    decimal.Decimal("-0.0"),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
    decimal.Decimal("-Infinity"),
    fractions.Fraction(1, 2),
    fractions.Fraction(2, 4),
    datetime.datetime(2026, 1, 1, 12),
    datetime.datetime(2026, 1, 1, 12, tzinfo=UTC),
    datetime.datetime(2026, 1, 1, 13, tzinfo=PLUS_ONE),
    datetime.datetime(2026, 1, 1, 12, fold=1),
    datetime.date(2026, 1, 1),
    datetime.time(12),
    datetime.time(12, tzinfo=UTC),
    datetime.timedelta(1),
    uuid.UUID(int=1),
    uuid.UUID(int=2),
    Color.RED,
    Color.GREEN,
    Number.ONE,
    Perm.R,
    Perm.R | Perm.W,
    Color,
    Number,
    Keyed,
    *TWINS,
]
objects = st.sampled_from(LOOK_ALIKES)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from([0, 1, True, 1.0, "1", NAN, None, (1,), -0.0, 0.0])
    return st.one_of(
        st.tuples(inner, inner),
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=2).map(tuple),
        st.dictionaries(keys, inner, max_size=3),
        st.frozensets(keys, max_size=3),
        st.sets(keys, max_size=3),
        st.builds(Item, inner),
        st.builds(Frozen, inner),
        st.builds(Keyed, inner),
    )


values = st.recursive(objects, _containers, max_leaves=6)


@memo.cached
def f(a: Any, b: Any = 0.0) -> Any:
    return a


def local_key(*args: Any, **kwargs: Any) -> Hashable:
    """The L1 key the builder gives a call of f (without the function's token)."""
    core = f._self_core
    key = core.keys.local(core.prefix, core.keys.values(args, kwargs))
    assert isinstance(key, tuple)
    return key[1:]


def reordered(value: Any) -> Any:
    """An equal value built again: dicts and sets in reverse insertion order, fresh NaNs."""
    if type(value) is dict:
        return {reordered(k): reordered(v) for k, v in reversed(list(value.items()))}
    if type(value) in (set, frozenset):
        return type(value)(reversed([reordered(x) for x in value]))
    if type(value) in (list, tuple):
        return type(value)(reordered(x) for x in value)
    return copy.deepcopy(value)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(x=values, y=values)
def test_local_keys_equal_iff_redis_keys_equal(x: Any, y: Any) -> None:
    """Two calls have equal L1 keys exactly when they have equal cache_key()s."""
    same_remote = f.cache_key(x) == f.cache_key(y)
    lx, ly = local_key(x), local_key(y)
    assert (lx == ly) is same_remote, (x, y)
    if same_remote:
        assert hash(lx) == hash(ly)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(x=values)
def test_rebuilt_values_share_both_keys(x: Any) -> None:
    """An equal value rebuilt in another order (dicts, sets) keeps its L1 and Redis key."""
    y = reordered(x)
    assert f.cache_key(x) == f.cache_key(y)
    assert local_key(x) == local_key(y)


def test_key_guarantees() -> None:
    """1, 1.0, True and "1" differ; 0.0 and -0.0 differ; NaN is one key; tuple is not list."""
    distinct = [1, 1.0, True, "1", decimal.Decimal(1), 0.0, -0.0, (1,), [1], {1}, frozenset({1})]
    assert len({local_key(v) for v in distinct}) == len(distinct)
    assert local_key(float("nan")) == local_key(NAN)
    assert local_key({"a": 1, "b": 2}) == local_key({"b": 2, "a": 1})


def test_mutable_dataclass_keyed_by_content() -> None:
    """A dataclass that changes between calls is looked up by its new fields."""
    calls: list[Any] = []

    @memo.cached
    def g(item: Item) -> Any:
        calls.append(item.id)
        return item.id

    item = Item(1)
    assert g(item) == 1
    item.id = 2
    assert g(item) == 2
    assert g(Item(2)) == 2  # another object with the same fields: a hit
    assert calls == [1, 2]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(a=values, b=values)
def test_every_call_shape_hits_the_builder_key(a: Any, b: Any) -> None:
    """Positional, keyword, reordered and default-filled calls all use the builder's key."""

    @memo.cached
    def h(x: Any, y: Any = 0.0, *, z: Any = "z") -> Any:
        return 1

    core = h._self_core
    h(a, b)
    assert core.keys.local(core.prefix, (a, b, "z")) in core.l1
    for call in (lambda: h(a, y=b), lambda: h(y=b, x=a), lambda: h(a, b, z="z")):
        call()
    if type(b) is float and b == 0.0 and str(b) == "0.0":
        h(a)
        h(x=a, z="z")
    assert (h.stats.misses, h.stats.l1_hits) == (1, h.stats.l1_hits)
    assert h.stats.l1_hits >= 3


def test_methods_classmethods_and_ignore() -> None:
    """self through __memo_key__ or ignore=, cls by name, and ignore= keep one entry each."""
    calls: list[Any] = []

    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name

        def __memo_key__(self) -> str:
            return self.name

        @memo.cached
        def get(self, item: Any) -> Any:
            calls.append(("get", self.name, item))
            return item

        @memo.cached(ignore=("self",))
        def shared(self, item: Any) -> Any:
            calls.append(("shared", item))
            return item

        @memo.cached
        @classmethod
        def build(cls, item: Any) -> Any:
            calls.append(("build", item))
            return item

    a, b = Repo("a"), Repo("b")
    for _ in range(3):
        a.get(1.5), Repo("a").get(item=1.5), b.get(1.5)
        a.shared(2.5), b.shared(item=2.5)
        Repo.build(True), a.build(True)
    assert calls == [("get", "a", 1.5), ("get", "b", 1.5), ("shared", 2.5), ("build", True)]
    assert a.get.cache_key(1.5) == Repo("a").get.cache_key(item=1.5) != b.get.cache_key(1.5)


def test_ignored_parameter_stays_out_of_the_key() -> None:
    """ignore= drops a parameter from both keys; the call still receives it."""
    seen: list[Any] = []

    @memo.cached(ignore=("conn",))
    def load(key: Any, conn: Any = None) -> Any:
        seen.append(conn)
        return key

    conn = object()
    assert load(1.0, conn) == load(1.0, conn=object()) == load(1.0) == 1.0
    assert seen == [conn]
    assert load.cache_key(1.0, conn) == load.cache_key(1.0)
    assert load(1) == 1 and len(seen) == 2  # 1 is not 1.0


def test_plain_tuples_and_frozensets_are_their_own_tokens_and_meet_no_other_kind() -> None:
    """A tuple or frozenset of ints, strings, bytes and None is its own L1 token; it never
    shares an entry with a list, a set, a nested tuple or a tuple holding a bool or float."""
    from memo._keys.local import local_token

    assert local_token((1, "a")) is not None and local_token((1, "a")) == (1, "a")
    calls: list[Any] = []

    @memo.cached
    def f(a: Any) -> int:
        calls.append(a)
        return len(calls)

    values = [(1, "a"), [1, "a"], ((1, "a"),), (True, "a"), (1.0, "a"), frozenset({1}), {1}]
    values += [(), [], frozenset(), set(), (None,), (b"a",), ("a", 1)]
    results = [f(value) for value in values]
    assert results == list(range(1, len(values) + 1))
    assert [f(value) for value in values] == results  # every one a hit of its own entry
    assert len({f.cache_key(value) for value in values}) == len(values)


def test_defaults_left_out_share_the_entry_of_the_full_call() -> None:
    """A positional call leaving defaults out (their tokens made once) gets the key of the
    call that passes them, and only of that call: 1 is not 1.0, 0 is not False."""
    calls: list[tuple[Any, ...]] = []

    @memo.cached
    def f(a: Any, b: Any = "x", c: Any = 1.0, d: Any = False, e: Any = (1, 2.5)) -> int:
        calls.append((a, b, c, d, e))
        return len(calls)

    assert f(1) == f(1, "x") == f(1, "x", 1.0) == f(1, "x", 1.0, False, (1, 2.5)) == 1
    assert f(a=1) == f(1, e=(1, 2.5)) == 1
    assert f(1, "x", 1) == 2 and f(1, "x", 1.0, 0) == 3 and f(1, "x", 1.0, False, [1, 2.5]) == 4
    assert f(1, "x", -0.0) == 5 and f(1, "x", 0.0) == 6 and f(2) == 7 and f(2, "x") == 7
    assert f.cache_key(1) == f.cache_key(1, "x", 1.0, False, (1, 2.5)) != f.cache_key(1, "x", 1)


def test_defaults_left_out_mixing_constant_and_mutable_defaults() -> None:
    """A tail holding a list is added to args and tokenised at each call, a constant tail
    has its tokens made once: every positional length finds the full call's entry, with or
    without a keyword-only parameter (which sends positional calls through the same code)."""
    calls: list[Any] = []

    def body(a: Any, b: Any = 1, c: Any = [], d: Any = 2.5, **_: Any) -> int:  # noqa: B006
        calls.append(a)
        return len(calls)

    @memo.cached
    def plain(a: Any, b: Any = 1, c: Any = [], d: Any = 2.5) -> int:  # noqa: B006
        return body(a, b, c, d)

    @memo.cached
    def keyword(a: Any, b: Any = 1, c: Any = [], d: Any = 2.5, *, e: Any = None) -> int:  # noqa: B006
        return body(a, b, c, d)

    for function in (plain, keyword):
        calls.clear()
        first = function(1)
        assert function(1, 1) == function(1, 1, []) == function(1, 1, [], 2.5) == first
        assert function(a=1) == function(1, d=2.5) == first and len(calls) == 1
        assert function(1, 1, [], 2) == 2 and function(1, 1, (), 2.5) == 3 and function(1, 2) == 4
        assert function.cache_key(1) == function.cache_key(1, 1, [], 2.5)


def test_defaults_left_out_past_eight_values() -> None:
    """Past eight key values the hit path is not unrolled: given arguments are tokenised in a
    loop, the defaults' tokens are still made once, and the keys still agree: 0.0 is not
    -0.0, True is not 1, 2.0 is not 2."""
    calls: list[Any] = []

    def body(  # noqa: PLR0917 (ten positional parameters: the case under test)
        a: Any, b: Any = 1, c: Any = 2.5, d: Any = True, e: Any = "x", g: Any = None,
        h: Any = (1, 2), i: Any = b"z", j: Any = 0, k: Any = -0.0,
    ) -> int:  # fmt: skip
        calls.append(a)
        return len(calls)

    generic = _copy(body)
    generic.__signature__ = inspect.signature(body)
    full = (1, 1, 2.5, True, "x", None, (1, 2), b"z", 0, -0.0)
    for f in (memo.cached(_copy(body)), memo.cached(generic)):  # declared, generic paths
        calls.clear()
        assert f(1) == f(*full) == f(1, 1) == f(*full[:9]) == f(1, k=-0.0) == 1
        assert f(*full[:9], 0.0) == 2 and f(1, 1, 2.5, 1) == 3 and f(2.0) == 4 and f(2) == 5
        assert f(True) == 6 and f(True) == 6 and len(calls) == 6
        assert f(1, 1, float("2.5"), True, "x", None, (1, 2), b"z", 0, float("-0.0")) == 1
        assert f(1, k=float("-0.0")) == f(1, 1, 2.5, True, "x", None, (1, 2)) == 1
        assert f.invalidate(1, 1, 2.5) is True and f(1) == 7 and f(1, k=-0.0) == 7
        assert f.cache_key(1) == f.cache_key(*full) != f.cache_key(*full[:9], 0.0)


TRAILING_DEFAULTS = (1, 2.5, True, -0.0, (1, 2.5), None)


def _trailing(  # noqa: PLR0917 (six trailing defaults: the case under test)
    a: Any, b: Any = 1, c: Any = 2.5, d: Any = True, e: Any = -0.0, g: Any = (1, 2.5),
    h: Any = None,
) -> Any:  # fmt: skip
    return (a, b, c, d, e, g, h)


def _copy(function: Any) -> Any:
    return types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )


def _fresh(value: Any) -> Any:
    """An equal value that is another object (where the type allows one)."""
    if type(value) is float:
        return float(repr(value))
    if type(value) is tuple:
        return tuple(_fresh(v) for v in value)
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=values,
    choices=st.lists(st.one_of(st.just("omit"), st.just("equal"), values), min_size=6, max_size=6),
    positional=st.integers(0, 6),
)
def test_trailing_defaults_left_out_agree_on_every_path(
    a: Any, choices: list[Any], positional: int
) -> None:
    """The L1 key leaves out trailing values equal to their defaults (_keys/trailing.py):
    omitted, given as an equal but other object, or given as a look-alike (1.0 for 1, 0.0
    for -0.0, a list for a tuple). The declared path, the generic path (a function whose
    `__signature__` keeps it there) and the builder give one key; handles find it."""
    given: dict[str, Any] = {}
    for name, default, choice in zip("bcdegh", TRAILING_DEFAULTS, choices, strict=True):
        if choice == "equal":
            given[name] = _fresh(default)
        elif choice != "omit":
            given[name] = choice
    names = list("bcdegh")
    lead = 0  # a prefix of given parameters is passed positionally
    while lead < min(positional, len(names)) and names[lead] in given:
        lead += 1
    args = (a, *(given[n] for n in names[:lead]))
    kwargs = {n: given[n] for n in names[lead:] if n in given}
    full = tuple(given.get(n, d) for n, d in zip(names, TRAILING_DEFAULTS, strict=True))
    declared, generic = _copy(_trailing), _copy(_trailing)
    generic.__signature__ = inspect.signature(_trailing)  # type: ignore[attr-defined]
    for function, path in ((memo.cached(declared), True), (memo.cached(generic), False)):
        core = function._self_core
        assert (declared_parameters(core) is not None) is path
        function(*args, **kwargs)
        key = core.keys.local(core.prefix, (a, *full))
        assert key in core.l1
        function(_fresh(a), *(_fresh(v) for v in full))  # every value given: the same entry
        function(a)  # every default left out: the same entry iff all are left out of the key
        omitted = core.keys.local(core.prefix, (a, *TRAILING_DEFAULTS))
        assert function.stats.misses == (1 if omitted == key else 2)
        assert function.invalidate(a, **dict(zip(names, full, strict=True))) is True
        assert key not in core.l1


def test_a_mutable_default_is_keyed_as_it_is_at_each_call() -> None:
    """A default list is tokenised at every call, as the Redis key encodes it: changed in
    place, it makes another key."""
    default: list[int] = [1]
    calls: list[int] = []

    @memo.cached
    def g(a: int, items: list[int] = default) -> int:
        calls.append(a)
        return sum(items)

    assert g(1) == 1 and g(1) == 1 and calls == [1]
    default.append(2)
    assert g(1) == 3 and calls == [1, 1]


def test_keyword_only_calls_and_mixed_calls_read_the_same_values() -> None:
    """A call of keywords alone and a call mixing positions and keywords find one entry; a
    call missing a required argument raises Python's TypeError, whatever its shape."""
    calls: list[Any] = []

    @memo.cached
    def h(a: Any, b: Any = "x", *, c: Any = 0) -> int:
        calls.append((a, b, c))
        return len(calls)

    assert h(b="y", a=1) == h(a=1, b="y") == h(1, b="y") == h(1, "y") == h(1, "y", c=0) == 1
    assert h(c=0, a=1, b="y") == 1 and h(a=1) == 2 and h(a=1, c=1) == 3
    for shape in ({}, {"b": "y"}, {"c": 1}):
        with pytest.raises(TypeError):
            h(**shape)
    with pytest.raises(TypeError):
        h(1, a=1)
    assert len(calls) == 3


def test_ignoring_a_middle_parameter_keeps_the_others_in_order() -> None:
    """A positional call picks the kept values inline: the same entries as keyword calls,
    and the two kept values are not swapped."""
    seen: list[tuple[Any, ...]] = []

    @memo.cached(ignore=("conn",))
    def pair(a: Any, conn: Any, b: Any) -> tuple[Any, Any]:
        seen.append((a, b))
        return (a, b)

    assert pair(1, object(), "x") == pair(b="x", conn=None, a=1) == (1, "x")
    assert pair("x", None, 1) == ("x", 1) and pair(1, None, b="x") == (1, "x")
    assert seen == [(1, "x"), ("x", 1)]
    assert pair.cache_key(1, None, "x") == pair.cache_key(a=1, conn=2, b="x")
    assert pair.cache_key(1, None, "x") != pair.cache_key("x", None, 1)


@pytest.mark.parametrize("unsupported", [object(), [object()], {"k": object()}])
def test_unkeyable_arguments_still_explain(unsupported: Any) -> None:
    """A value with no key raises KeyBuildError from the call, as before."""
    with pytest.raises(memo.KeyBuildError, match="parameter 'a'"):
        f(unsupported)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(x=values, y=values)
def test_l1_and_redis_agree(redis_url: str, namespace: str, x: Any, y: Any) -> None:
    """Through L1 and a real Redis: y hits x's entry iff it has x's Redis key."""
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace, secret="s")
    )

    @memo.cached(store=store, version=next(VERSIONS))  # a fresh key space: x is a miss
    def g(a: Any) -> int:
        return 1

    g(x)
    assert (g.stats.misses, raw_exists(redis_url, g.cache_key(x))) == (1, True)
    g(y)
    same = g.cache_key(x) == g.cache_key(y)
    # a hit from L1, or from Redis while L1 is bypassed (its events connection still opening)
    assert (g.stats.hits, g.stats.misses) == ((1, 1) if same else (0, 2))
    assert raw_exists(redis_url, g.cache_key(y))
    store.close()


VERSIONS = itertools.count(1)


def raw_exists(url: str, key: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return bool(client.exists(key))
    finally:
        client.close()


def test_classes_of_one_name_share_one_tag_while_a_key_holds_it() -> None:
    """A class's token is a tag per qualified name: the classes of one name share it, it
    outlives the class map's clearing while a key holds it, and a new one is made only once
    nothing does (two live tags for one name would give one Redis key two L1 keys)."""
    first, second = TWINS
    held = local_key(first)
    assert held == local_key(second) and held[0] is local_key(second)[0]
    local.forget()  # what a registration does; also what the map does when full
    assert local_key(second)[0] is held[0]

    def made_once() -> weakref.ref[Any]:
        return weakref.ref(local.local_token(type("Gone", (), {})))

    dead = made_once()
    local.forget()
    gc.collect()
    assert dead() is None  # nothing holds it: the name's next class gets a fresh tag


def test_threads_meeting_a_new_class_name_agree_on_its_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads that key classes of one new name at once all get one tag (a tag made slowly
    opens the window between looking the name up and storing its tag)."""
    made = local._ClassTag.__init__

    def slowly(self: Any, kind: str) -> None:
        made(self, kind)
        time.sleep(0.005)

    monkeypatch.setattr(local._ClassTag, "__init__", slowly)
    classes = [type("Raced", (), {"__qualname__": "Raced"}) for _ in range(8)]
    barrier = threading.Barrier(len(classes), timeout=10)
    tags: list[Hashable] = []

    def key(cls: type) -> None:
        barrier.wait()
        tags.append(local.local_token(cls))

    threads = [threading.Thread(target=key, args=(cls,)) for cls in classes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(tags) == len(classes) and all(tag is tags[0] for tag in tags)


def test_a_child_forked_while_another_thread_names_a_class_keys_classes() -> None:
    """The class map's lock, held by another thread at the fork, is made anew in the child."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with local.CLASS_TOKENS._lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if it keys a class it never met
            code = 1
            try:
                code = 0 if local.local_token(type("New", (), {})) is not None else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 10
        while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        if waited == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert waited[0] == pid and os.waitstatus_to_exitcode(waited[1]) == 0
    finally:
        release.set()
        holder.join(10)


OWNER_VERSIONS = itertools.count(1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=values, y=values)
@example(x=TWINS[0], y=TWINS[1])  # a class: what cls holds
@example(x=Keyed, y=Color)
@example(x=Keyed(1.5), y=Keyed(1.5))  # a __memo_key__ object: what self holds
@example(x=Keyed((1, NAN)), y=Keyed(Keyed(-0.0)))
def test_a_first_parameter_named_self_or_cls_keys_like_any_other(x: Any, y: Any) -> None:
    """The hit path looks a method's `self` (its `__memo_key__`) and a classmethod's `cls`
    (a class) up first: any value there still hits x's entry iff it has x's Redis key."""
    version = next(OWNER_VERSIONS)

    def by_self(self: Any) -> int:
        return 1

    def by_cls(cls: Any) -> int:
        return 1

    for function in (by_self, by_cls):
        cached = memo.cached(store=memo.MemoryStore(), version=version)(function)
        cached(x)
        cached(y)
        same = cached.cache_key(x) == cached.cache_key(y)
        assert (cached.stats.hits, cached.stats.misses) == ((1, 1) if same else (0, 2)), (x, y)
        assert cached.invalidate(y) is True  # the handles' key is the path's
