"""@memo.cached on L1: every option, every handle, sync and async."""

from __future__ import annotations

import asyncio
import datetime
import inspect
from typing import Any

import pytest

import memo
from memo.testing import FakeClock


def make_counter() -> tuple[list[Any], Any]:
    calls: list[Any] = []

    def source(*args: Any) -> Any:
        calls.append(args)
        return args[0] if len(args) == 1 else args

    return calls, source


def test_miss_then_hit() -> None:
    """The first call runs the function; the second returns the stored value."""
    calls: list[int] = []

    @memo.cached
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    assert double(2) == 4
    assert double(2) == 4
    assert calls == [2]
    assert double.stats.misses == 1
    assert double.stats.l1_hits == 1
    assert double.stats.hit_rate == 0.5


def test_call_styles_share_one_entry() -> None:
    """f(1), f(x=1) and f(1, y=default) are one key and one computation."""
    calls: list[tuple[int, str]] = []

    @memo.cached
    def f(x: int, y: str = "d") -> tuple[int, str]:
        calls.append((x, y))
        return (x, y)

    assert f(1) == f(x=1) == f(1, "d") == f(1, y="d") == f(y="d", x=1)
    assert calls == [(1, "d")]
    assert f.cache_key(1) == f.cache_key(x=1) == f.cache_key(1, y="d")
    assert f(1, "e") == (1, "e")
    assert len(calls) == 2


def test_equal_values_of_different_types_do_not_collide() -> None:
    """1, 1.0, True and "1" are four different keys, also on the hit path."""
    calls: list[object] = []

    @memo.cached
    def ident(x: object) -> object:
        calls.append(x)
        return x

    for value in (1, 1.0, True, "1", b"1", 0.0, -0.0):
        assert repr(ident(value)) == repr(value)
    for value in (1, 1.0, True, "1", b"1", 0.0, -0.0):
        assert repr(ident(value)) == repr(value)
    assert len(calls) == 7


def test_unhashable_arguments_are_keyed_canonically() -> None:
    """Lists, dicts and sets work as arguments; dict and set order do not matter."""
    calls: list[object] = []

    @memo.cached
    def total(items: object) -> int:
        calls.append(items)
        return len(str(items))

    total({"a": [1, 2], "b": {3, 4}})
    total({"b": {4, 3}, "a": [1, 2]})
    total([1, 2])
    total((1, 2))
    assert len(calls) == 3


def test_wrong_call_raises_python_type_error() -> None:
    """A call the signature rejects raises TypeError as the plain function would."""

    @memo.cached
    def f(x: int, *, y: int) -> int:
        return x + y

    with pytest.raises(TypeError):
        f(1, 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        f(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        f(1, y=2, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        f(1, x=1, y=2)  # type: ignore[misc]
    assert f(1, y=2) == 3


def test_variadic_signatures() -> None:
    """*args and **kwargs take part in the key, keyword order aside."""
    calls: list[object] = []

    @memo.cached
    def f(*args: int, **kwargs: int) -> int:
        calls.append((args, kwargs))
        return sum(args) + sum(kwargs.values())

    assert f(1, 2, a=3, b=4) == 10
    assert f(1, 2, b=4, a=3) == 10
    assert f(2, 1, a=3, b=4) == 10
    assert len(calls) == 2


def test_ttl_expires_with_fake_clock(clock: FakeClock) -> None:
    """An entry lives ttl seconds, then the function runs again."""
    calls, source = make_counter()
    f = memo.cached(ttl=10)(source)
    f(1)
    clock.advance(9.9)
    f(1)
    assert len(calls) == 1
    clock.advance(0.2)
    f(1)
    assert len(calls) == 2


def test_ttl_accepts_timedelta(clock: FakeClock) -> None:
    """ttl may be a datetime.timedelta."""
    calls, source = make_counter()
    f = memo.cached(ttl=datetime.timedelta(minutes=1))(source)
    f(1)
    clock.advance(59)
    f(1)
    clock.advance(2)
    f(1)
    assert len(calls) == 2


def test_no_ttl_keeps_entries(clock: FakeClock) -> None:
    """Without ttl an entry stays until evicted or invalidated."""
    calls, source = make_counter()
    f = memo.cached(source)
    f(1)
    clock.advance(10**9)
    f(1)
    assert len(calls) == 1


def test_jitter_spreads_ttls_below_nominal(clock: FakeClock) -> None:
    """With jitter, every TTL is in [ttl·(1-jitter), ttl] and they are not all equal."""
    calls, source = make_counter()
    f = memo.cached(ttl=100, jitter=0.5)(source)
    for i in range(200):
        f(i)
    clock.advance(49.9)
    for i in range(200):
        f(i)
    assert len(calls) == 200
    clock.advance(50.2)
    for i in range(200):
        f(i)
    assert len(calls) == 400
    calls.clear()
    clock.advance(75)
    for i in range(200):
        f(i)
    assert 0 < len(calls) < 200


def test_none_results_cached_by_default() -> None:
    """None is a result like any other unless cache_none=False."""
    calls: list[int] = []

    @memo.cached
    def find(x: int) -> None:
        calls.append(x)

    find(1)
    find(1)
    assert calls == [1]


def test_cache_none_false_skips_none() -> None:
    """cache_none=False stores every result but None."""
    calls: list[int] = []

    @memo.cached(cache_none=False)
    def find(x: int) -> int | None:
        calls.append(x)
        return None if x < 0 else x

    find(-1)
    find(-1)
    find(1)
    find(1)
    assert calls == [-1, -1, 1]


def test_none_ttl_is_its_own_ttl(clock: FakeClock) -> None:
    """none_ttl bounds how long a None result is kept, independently of ttl."""
    calls: list[int] = []

    @memo.cached(ttl=100, none_ttl=5, cache_none=False)
    def find(x: int) -> int | None:
        calls.append(x)
        return None if x < 0 else x

    find(-1)
    find(1)
    clock.advance(6)
    find(-1)
    find(1)
    assert calls == [-1, 1, -1]


def test_condition_decides_what_is_stored() -> None:
    """condition= keeps only results the predicate accepts."""
    calls: list[int] = []

    @memo.cached(condition=lambda result: result["ok"])
    def fetch(x: int) -> dict[str, bool]:
        calls.append(x)
        return {"ok": x > 0}

    fetch(0)
    fetch(0)
    fetch(1)
    fetch(1)
    assert calls == [0, 0, 1]


def test_exceptions_are_never_cached() -> None:
    """A raising call stores nothing; the next call runs again."""
    calls: list[int] = []

    @memo.cached
    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return x

    with pytest.raises(RuntimeError):
        flaky(1)
    assert flaky(1) == 1
    assert flaky(1) == 1
    assert calls == [1, 1]


def test_ignore_leaves_parameters_out_of_the_key() -> None:
    """ignore= parameters do not change the key."""
    calls: list[int] = []

    @memo.cached(ignore=("conn",))
    def get(user_id: int, conn: object) -> int:
        calls.append(user_id)
        return user_id

    get(1, object())
    get(1, conn=object())
    assert calls == [1]
    assert get.cache_key(1, object()) == get.cache_key(1, None)


def test_key_callable() -> None:
    """key= as a callable builds the key from the call's arguments."""
    calls: list[str] = []

    @memo.cached(key=lambda name, **_: name.lower())
    def greet(name: str, punctuation: str = "!") -> str:
        calls.append(name)
        return f"hi {name}{punctuation}"

    greet("Ann")
    greet("ANN", punctuation="?")
    assert calls == ["Ann"]
    assert greet.cache_key("ann") == greet.cache_key("ANN")


def test_key_template() -> None:
    """key= as a template formats named parameters."""
    calls: list[int] = []

    @memo.cached(key="{user_id}")
    def get(user_id: int, verbose: bool = False) -> int:
        calls.append(user_id)
        return user_id

    get(1)
    get(1, verbose=True)
    assert calls == [1]


def test_version_changes_the_key() -> None:
    """version= is part of every key."""

    @memo.cached(version=1)
    def a(x: int) -> int:
        return x

    @memo.cached(version="2b")
    def b(x: int) -> int:
        return x

    assert ":v1:" in a.cache_key(1)
    assert ":v2b:" in b.cache_key(1)


def test_invalidate_removes_one_entry() -> None:
    """invalidate(args) returns True once and makes the next call run."""
    calls, source = make_counter()
    f = memo.cached(source)
    f(1)
    f(2)
    assert f.invalidate(1) is True
    assert f.invalidate(1) is False
    f(1)
    f(2)
    assert calls == [(1,), (2,), (1,)]


def test_invalidate_matches_every_call_style() -> None:
    """invalidate(x=1) removes the entry stored by f(1)."""
    calls: list[int] = []

    @memo.cached
    def f(x: int, y: int = 0) -> int:
        calls.append(x)
        return x

    f(1)
    assert f.invalidate(x=1, y=0) is True
    f(1)
    assert calls == [1, 1]


def test_invalidate_all_forgets_everything() -> None:
    """invalidate_all() forgets every entry of one function, not of others."""
    calls_f, source_f = make_counter()
    calls_g, source_g = make_counter()
    f = memo.cached(source_f)
    g = memo.cached(source_g)
    for i in range(5):
        f(i)
        g(i)
    f.invalidate_all()
    for i in range(5):
        f(i)
        g(i)
    assert len(calls_f) == 10
    assert len(calls_g) == 5


def test_refresh_recomputes_and_stores() -> None:
    """refresh() runs the function even on a hit, stores and returns the new value."""
    state = {"value": 1}

    @memo.cached
    def read(key: str) -> int:
        return state["value"]

    assert read("k") == 1
    state["value"] = 2
    assert read("k") == 1
    assert read.refresh("k") == 2
    assert read("k") == 2
    assert read.stats.refreshes == 1


def test_uncached_is_the_original() -> None:
    """uncached calls the function without touching the cache."""
    calls, source = make_counter()
    f = memo.cached(source)
    f.uncached(1)
    f.uncached(1)
    assert len(calls) == 2
    assert f.stats.misses == 0


def test_wrapper_keeps_metadata() -> None:
    """Name, qualname, doc and signature pass through the wrapper."""

    @memo.cached
    def documented(a: int, b: str = "x") -> int:
        """Docs."""
        return a

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Docs."
    assert str(inspect.signature(documented)) == "(a: 'int', b: 'str' = 'x') -> 'int'"


def test_explicit_store() -> None:
    """store= puts a function's entries in that store only."""
    store = memo.MemoryStore(maxsize=10)

    @memo.cached(store=store)
    def f(x: int) -> int:
        return x

    f(1)
    assert len(store) == 1
    memo.configure()
    f(1)
    assert f.stats.l1_hits == 1


def test_l1_copy_returns_fresh_copies() -> None:
    """With l1_copy=True a caller mutating its result does not change the cache."""

    @memo.cached(l1_copy=True)
    def items(n: int) -> list[int]:
        return list(range(n))

    first = items(3)
    first.append(99)
    assert items(3) == [0, 1, 2]
    assert items(3) is not items(3)


def test_l1_objects_are_shared_by_default() -> None:
    """Without l1_copy the cached object itself is returned, as lru_cache does."""

    @memo.cached
    def items(n: int) -> list[int]:
        return list(range(n))

    assert items(3) is items(3)


def test_l1_copy_unpicklable_result_warns_once_and_is_not_cached() -> None:
    """A result l1_copy cannot pickle is returned, not cached, with one warning."""
    calls: list[int] = []

    @memo.cached(l1_copy=True)
    def make(n: int) -> object:
        calls.append(n)
        return lambda: n

    with pytest.warns(RuntimeWarning, match="l1_copy"):
        make(1)
    make(1)
    assert calls == [1, 1]


def test_configure_l1_copy_applies_to_existing_functions() -> None:
    """configure(l1_copy=True) turns copying on for functions decorated earlier."""

    @memo.cached
    def items(n: int) -> list[int]:
        return list(range(n))

    memo.configure(l1_copy=True)
    items(2).append(5)
    assert items(2) == [0, 1]


def test_configure_replaces_store_for_existing_functions() -> None:
    """configure() after decoration gives earlier functions the new, empty store."""
    calls, source = make_counter()
    f = memo.cached(source)
    f(1)
    memo.configure(l1_maxsize=5)
    f(1)
    assert len(calls) == 2


def test_namespace_in_key() -> None:
    """configure(namespace=) is the key's second segment."""

    @memo.cached
    def f(x: int) -> int:
        return x

    memo.configure(namespace="shop")
    assert f.cache_key(1).startswith("memo:shop:")


def test_disabled_context_calls_through() -> None:
    """Inside memo.disabled() calls neither read nor write the cache."""
    calls, source = make_counter()
    f = memo.cached(source)
    f(1)
    with memo.disabled():
        f(1)
        f(2)
        f(2)
    f(2)
    assert calls == [(1,), (1,), (2,), (2,), (2,)]


def test_disabled_decorator_sync_and_async() -> None:
    """memo.disabled() decorates sync and async functions."""
    calls, source = make_counter()
    f = memo.cached(source)

    @memo.disabled()
    def twice() -> None:
        f(1)
        f(1)

    twice()
    assert len(calls) == 2

    async def inner(x: int) -> int:
        calls.append((x,))
        return x

    g = memo.cached(inner)

    @memo.disabled()
    async def twice_async() -> None:
        await g(1)
        await g(1)

    asyncio.run(twice_async())
    assert len(calls) == 4


def test_disabled_is_per_thread() -> None:
    """A disabled block in one thread does not disable another thread."""
    import threading

    calls, source = make_counter()
    f = memo.cached(source)
    f(1)
    inside = threading.Event()
    release = threading.Event()

    def hold_disabled() -> None:
        with memo.disabled():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold_disabled)
    worker.start()
    assert inside.wait(5)
    f(1)
    release.set()
    worker.join(5)
    assert len(calls) == 1


def test_memo_stats_lists_functions() -> None:
    """memo.stats() has a snapshot per function by module.qualname."""

    @memo.cached
    def counted(x: int) -> int:
        return x

    counted(1)
    counted(1)
    snapshot = memo.stats()[f"{__name__}.test_memo_stats_lists_functions.<locals>.counted"]
    assert (snapshot.hits, snapshot.misses) == (1, 1)
    counted(1)
    assert snapshot.hits == 1


def test_stats_reset_and_dict() -> None:
    """Stats.reset() zeroes counters; as_dict() includes hits and hit_rate."""

    @memo.cached
    def f(x: int) -> int:
        return x

    f(1)
    f(1)
    data = f.stats.as_dict()
    assert data["hits"] == 1
    assert data["hit_rate"] == 0.5
    f.stats.reset()
    assert f.stats.hits == 0
    assert f.stats.hit_rate == 0.0


def test_tags_invalidate_across_functions() -> None:
    """invalidate_tag drops every entry rendered with that tag, in any function."""
    calls: list[str] = []

    @memo.cached(tags=["user:{user_id}"])
    def profile(user_id: int) -> str:
        calls.append("profile")
        return "p"

    @memo.cached(tags=["user:{user_id}", "orders"])
    def orders(user_id: int, page: int = 0) -> str:
        calls.append("orders")
        return "o"

    profile(1)
    orders(1)
    profile(2)
    assert memo.invalidate_tag("user:1") == 2
    profile(1)
    orders(1)
    profile(2)
    assert calls == ["profile", "orders", "profile", "profile", "orders"]
    assert asyncio.run(memo.ainvalidate_tag("orders")) == 1


class TestAsync:
    """The same behaviour for async def functions."""

    def test_async_stays_coroutine_function(self) -> None:
        """A decorated async def is still a coroutine function."""

        @memo.cached
        async def f(x: int) -> int:
            return x

        assert inspect.iscoroutinefunction(f)
        assert asyncio.iscoroutinefunction(f)

    def test_async_miss_hit_and_handles(self) -> None:
        """Async calls hit, and invalidate/refresh/invalidate_all are awaitable."""
        calls: list[int] = []

        @memo.cached(ttl=60)
        async def f(x: int, y: str = "d") -> int:
            calls.append(x)
            await asyncio.sleep(0)
            return x

        async def main() -> None:
            assert await f(1) == 1
            assert await f(x=1) == 1
            assert await f(1, "d") == 1
            assert calls == [1]
            assert await f.invalidate(1) is True
            assert await f.invalidate(1) is False
            assert await f.refresh(1) == 1
            assert await f(1) == 1
            assert calls == [1, 1]
            await f.invalidate_all()
            await f(1)
            assert calls == [1, 1, 1]
            assert f.cache_key(1) == f.cache_key(x=1)

        asyncio.run(main())

    def test_async_exception_not_cached(self) -> None:
        """An async raise stores nothing."""
        calls: list[int] = []

        @memo.cached
        async def f(x: int) -> int:
            calls.append(x)
            if len(calls) == 1:
                raise ValueError("first")
            return x

        async def main() -> None:
            with pytest.raises(ValueError):
                await f(1)
            assert await f(1) == 1
            assert await f(1) == 1

        asyncio.run(main())
        assert calls == [1, 1]

    def test_async_ttl(self, clock: FakeClock) -> None:
        """Async entries expire with the clock too."""
        calls: list[int] = []

        @memo.cached(ttl=5)
        async def f(x: int) -> int:
            calls.append(x)
            return x

        async def main() -> None:
            await f(1)
            clock.advance(4)
            await f(1)
            clock.advance(2)
            await f(1)

        asyncio.run(main())
        assert calls == [1, 1]
