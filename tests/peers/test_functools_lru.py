"""CPython's lru_cache tests (`Lib/test/test_functools.py`, class `TestLRU`), ported by hand to
`memo.cached`. Each test names the one it ports; where memo differs on purpose the docstring
says so, and docs/comparison.md lists what does not apply and why."""

from __future__ import annotations

import builtins
import copy
import functools
import multiprocessing
import pickle
import random
import threading
import typing
import weakref
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

import memo
from tests.peers.cached_functions import HOLDER, Holder, cached_func


def _store(maxsize: int) -> memo.MemoryStore:
    return memo.MemoryStore(maxsize=maxsize)


def test_lru() -> None:
    """Ports TestLRU.test_lru: cache_info() counts, cache_clear() zeroes them, __wrapped__
    bypasses the cache, a full L1 of 20 keeps 20 (memo's eviction is not LRU: only the
    totals that do not depend on the policy are held)."""

    def orig(x: int, y: int) -> int:
        return 3 * x + y

    f = memo.cached(store=_store(20))(orig)
    assert f.cache_info() == (0, 0, 20, 0)
    rng = random.Random(7)
    for _ in range(1000):
        x, y = rng.randrange(5), rng.randrange(5)
        assert f(x, y) == orig(x, y)
    hits, misses, _, currsize = f.cache_info()
    assert hits > misses
    assert hits + misses == 1000
    assert currsize == 20
    f.cache_clear()
    assert f.cache_info() == (0, 0, 20, 0)
    f(1, 2)
    assert f.cache_info() == (0, 1, 20, 1)
    assert f.__wrapped__ is orig
    f.__wrapped__(1, 2)
    assert f.cache_info() == (0, 1, 20, 1)


def test_lru_size_one() -> None:
    """Ports the size-one part of TestLRU.test_lru: one call cached, four hits."""
    runs = 0

    @memo.cached(store=_store(1))
    def f() -> int:
        nonlocal runs
        runs += 1
        return 20

    assert [f() for _ in range(5)] == [20] * 5
    assert runs == 1
    assert f.cache_info() == (4, 1, 1, 1)


def test_lru_no_args() -> None:
    """Ports TestLRU.test_lru_no_args: bare decorator; maxsize is the default store's L1
    bound (10_000), not lru_cache's 128."""

    @memo.cached
    def square(x: int) -> int:
        return x**2

    assert list(map(square, [10, 20, 10])) == [100, 400, 100]
    assert square.cache_info() == (1, 2, 10_000, 2)


def test_lru_bug_35780() -> None:
    """Ports TestLRU.test_lru_bug_35780: a call that re-enters itself leaves the cache
    consistent and full."""
    once = True

    @memo.cached(store=_store(10))
    def f(x: int) -> str:
        nonlocal once
        rv = f".{x}."
        if x == 20 and once:
            once = False
            rv = f(x)
        return rv

    for x in range(15):
        assert f(x) == f".{x}."
    assert f.cache_info().currsize == 10
    assert f(20) == ".20."
    assert f.cache_info().currsize == 10


def test_lru_bug_36650() -> None:
    """Ports TestLRU.test_lru_bug_36650: f(0) and f(0, **{}) are one call."""

    @memo.cached
    def f(x: int) -> None:
        pass

    f(0)
    f(0)
    assert f.cache_info().hits == 1


def test_lru_reentrancy_with_len() -> None:
    """Ports TestLRU.test_lru_reentrancy_with_len: builtins.len replaced by a cached len;
    memo's own use of len() must not recurse into it."""
    old_len = builtins.len
    try:
        builtins.len = memo.cached(old_len)
        for i in [0, 0, 1, 2, 3, 3, 4, 5, 6, 1, 7, 2, 1]:
            assert len("abcdefghijklmn"[:i]) == i
    finally:
        builtins.len = old_len


def test_lru_star_arg_handling() -> None:
    """Ports TestLRU.test_lru_star_arg_handling: f(1, 2) and f((1, 2)) differ."""

    @memo.cached
    def f(*args: Any) -> tuple[Any, ...]:
        return args

    assert f(1, 2) == (1, 2)
    assert f((1, 2)) == ((1, 2),)


def test_lru_type_error() -> None:
    """Ports TestLRU.test_lru_type_error: an argument memo cannot key raises a TypeError
    (KeyBuildError is one). A list, unhashable for lru_cache, is a fine memo key."""

    @memo.cached
    def f(o: Any) -> int:
        return 1

    assert f([]) == 1
    with pytest.raises(TypeError):
        f(object())


def test_lru_with_maxsize_none() -> None:
    """Ports TestLRU.test_lru_with_maxsize_none: fib's counts, then cache_clear()."""

    @memo.cached
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert [fib(n) for n in range(16)] == [
        0,
        1,
        1,
        2,
        3,
        5,
        8,
        13,
        21,
        34,
        55,
        89,
        144,
        233,
        377,
        610,
    ]
    assert fib.cache_info() == memo.CacheInfo(hits=28, misses=16, maxsize=10_000, currsize=16)
    fib.cache_clear()
    assert fib.cache_info() == memo.CacheInfo(hits=0, misses=0, maxsize=10_000, currsize=0)


def test_lru_with_maxsize_negative() -> None:
    """Ports TestLRU.test_lru_with_maxsize_negative: memo refuses a size below 1 at
    configuration instead of caching nothing."""
    with pytest.raises(memo.ConfigurationError, match="maxsize"):
        memo.MemoryStore(maxsize=-10)


def test_lru_with_exceptions() -> None:
    """Ports TestLRU.test_lru_with_exceptions: the exception passes through unchained and
    is not cached."""

    @memo.cached
    def func(i: int) -> str:
        return "abc"[i]

    assert func(0) == "a"
    with pytest.raises(IndexError) as info:
        func(15)
    assert info.value.__context__ is None
    with pytest.raises(IndexError):
        func(15)


def test_lru_with_types() -> None:
    """Ports TestLRU.test_lru_with_types: memo keys are always typed (3 and 3.0 differ)."""

    @memo.cached
    def square(x: float) -> float:
        return x * x

    assert type(square(3)) is int
    assert type(square(3)) is int
    assert type(square(3.0)) is float
    assert type(square(3.0)) is float
    assert type(square(x=3)) is int
    assert type(square(x=3)) is int
    assert type(square(x=3.0)) is float
    assert type(square(x=3.0)) is float
    assert square.cache_info()[:2] == (6, 2)


def test_lru_cache_typed_is_recursive() -> None:
    """Ports TestLRU.test_lru_cache_typed_is_not_recursive, inverted on purpose: memo's
    typing reaches into containers, so (True,) and (1.0,) are not served (1,)'s entry."""
    cached = memo.cached(repr)
    for value in [1, True, 1.0, 0, False, 0.0, (1,), (True,), (1.0,), (0,), (False,), (0.0,)]:
        assert cached(value) == repr(value)


def test_lru_with_keyword_args() -> None:
    """Ports TestLRU.test_lru_with_keyword_args (and _maxsize_none): fib by keyword."""

    @memo.cached
    def fib(n: int) -> int:
        return n if n < 2 else fib(n=n - 1) + fib(n=n - 2)

    assert [fib(n=number) for number in range(16)][-1] == 610
    assert fib.cache_info() == (28, 16, 10_000, 16)
    fib.cache_clear()
    assert fib.cache_info() == (0, 0, 10_000, 0)


def test_kwargs_order() -> None:
    """Ports TestLRU.test_kwargs_order, inverted on purpose: memo normalises the call, so
    f(a=1, b=2) and f(b=2, a=1) are one key (lru_cache keeps two)."""

    @memo.cached
    def f(**kwargs: int) -> list[tuple[str, int]]:
        return list(kwargs.items())

    assert f(a=1, b=2) == [("a", 1), ("b", 2)]
    assert f(b=2, a=1) == [("a", 1), ("b", 2)]
    assert f.cache_info()[:2] == (1, 1)


def test_lru_cache_decoration() -> None:
    """Ports TestLRU.test_lru_cache_decoration: WRAPPER_ASSIGNMENTS are the function's,
    __annotations__ included (so typing.get_type_hints sees the user's types)."""

    def f(zomg: int) -> str:
        """f doc string"""
        return "42"

    g = memo.cached(f)
    for attr in functools.WRAPPER_ASSIGNMENTS:
        assert getattr(g, attr) == getattr(f, attr), attr
    assert typing.get_type_hints(g) == {"zomg": int, "return": str}


def test_lru_cache_threaded() -> None:
    """Ports TestLRU.test_lru_cache_threaded: 5 threads fill 5 keys, 11 calls each; then
    5 more race a thread that clears 22 times (bounded waits)."""
    n, m = 5, 11

    def orig(x: int, y: int) -> int:
        return 3 * x + y

    f = memo.cached(store=_store(n * m))(orig)
    start = threading.Event()
    failures: list[BaseException] = []

    def full(k: int) -> None:
        start.wait(10)
        try:
            for _ in range(m):
                assert f(k, 0) == orig(k, 0)
        except BaseException as exc:
            failures.append(exc)

    def clear() -> None:
        start.wait(10)
        for _ in range(2 * m):
            f.cache_clear()

    for extra in ([], [clear]):
        start.clear()
        threads = [threading.Thread(target=t) for t in extra]
        threads += [threading.Thread(target=full, args=[k]) for k in range(n)]
        for thread in threads:
            thread.start()
        start.set()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        if not extra:
            hits, misses, _, currsize = f.cache_info()
            assert misses <= n and hits <= m * n - misses
            assert currsize == n
    assert failures == []


def test_lru_cache_threaded2() -> None:
    """Ports TestLRU.test_lru_cache_threaded2, changed on purpose: n threads calling f(i) at
    once run it once (memo's single flight); lru_cache runs it n times."""
    n, m = 5, 7
    runs: list[int] = []
    start = threading.Barrier(n)

    @memo.cached
    def f(x: int) -> int:
        runs.append(x)
        return 3 * x

    def call(i: int, results: list[int]) -> None:
        start.wait(10)
        results.append(f(i))

    for i in range(m):
        results: list[int] = []
        threads = [threading.Thread(target=call, args=(i, results)) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [3 * i] * n
    assert sorted(runs) == list(range(m))
    assert f.cache_info().currsize == m


def test_lru_cache_threaded3() -> None:
    """Ports TestLRU.test_lru_cache_threaded3: five threads over a 2-entry L1."""

    @memo.cached(store=_store(2))
    def f(x: int) -> int:
        return 3 * x

    results: dict[int, int] = {}

    def call(i: int, x: int) -> None:
        results[i] = f(x)

    threads = [threading.Thread(target=call, args=(i, v)) for i, v in enumerate([1, 2, 2, 3, 2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {0: 3, 1: 6, 2: 6, 3: 9, 4: 6}


def test_lru_method() -> None:
    """Ports TestLRU.test_lru_method: instances key by __memo_key__, and every binding of
    the method shares one cache_info()."""

    class X:
        def __init__(self, v: int) -> None:
            self.v = v
            self.f_cnt = 0

        def __memo_key__(self) -> int:
            return self.v

        @memo.cached
        def f(self, x: int) -> int:
            self.f_cnt += 1
            return x * 10 + self.v

    a, b, c = X(5), X(5), X(7)
    assert X.f.cache_info() == (0, 0, 10_000, 0)
    for x in 1, 2, 2, 3, 1, 1, 1, 2, 3, 3:
        assert a.f(x) == x * 10 + 5
    for x in 1, 2, 3:
        assert b.f(x) == x * 10 + 5  # equal keys: a's entries
    for x in 2, 1, 3:
        assert c.f(x) == x * 10 + 7
    assert (a.f_cnt, b.f_cnt, c.f_cnt) == (3, 0, 3)
    assert X.f.cache_info() == (10, 6, 10_000, 6)
    assert a.f.cache_info() == b.f.cache_info() == c.f.cache_info() == X.f.cache_info()


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle(proto: int) -> None:
    """Ports TestLRU.test_pickle: a module-level cached function and a static method pickle
    by reference (the same object back); a method read from its class or an instance
    pickles as getattr(holder, name), as Python's bound methods do."""
    for f in (cached_func, Holder.cached_staticmeth):
        assert pickle.loads(pickle.dumps(f, proto)) is f
    assert pickle.loads(pickle.dumps(Holder.cached_meth, proto)) == Holder.cached_meth
    bound = pickle.loads(pickle.dumps(HOLDER.cached_meth, proto))  # of a copy of HOLDER
    assert type(bound.__self__) is Holder
    assert bound(1, 2) == 5
    assert bound.cache_info() == HOLDER.cached_meth.cache_info()  # one cache


def test_copy_and_deepcopy() -> None:
    """Ports TestLRU.test_copy and test_deepcopy: copies are the function itself, a cached
    functools.partial included."""

    def orig(x: int, y: int) -> int:
        return 3 * x + y

    part = memo.cached(functools.partial(orig, 2))
    for f in (cached_func, Holder.cached_staticmeth, part):
        assert copy.copy(f) is f
        assert copy.deepcopy(f) is f
    assert part(1) == 7


def test_lru_cache_weakrefable() -> None:
    """Ports TestLRU.test_lru_cache_weakrefable: a cached function can be weakly referenced."""

    @memo.cached
    def test_function(x: int) -> int:
        return x

    ref = weakref.ref(test_function)
    assert ref() is test_function


def test_worker_pool_runs_a_cached_function() -> None:
    """What pickling by reference is for: a cached function handed to a process pool (spawn:
    nothing inherited) runs in the workers."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(cached_func, range(4), [1] * 4, timeout=60))
    assert results == [1, 4, 7, 10]


def test_partial_of_unkeyable_arguments_is_refused() -> None:
    """A cached functools.partial is named by what it binds; binding something memo cannot
    key is a ConfigurationError naming the way out, not an AttributeError."""
    with pytest.raises(memo.ConfigurationError, match="Decorate a def"):
        memo.cached(functools.partial(pow, threading.Lock()))
