"""async-lru's test suite (github.com/aio-libs/async-lru, tests/), ported by hand to
`memo.cached` on `async def` functions. Each test names the one it ports; docs/comparison.md
lists what does not apply and why. `cache_info()` is sync as in async-lru; `cache_clear()` and
`invalidate()` do I/O when Redis is configured, so on a coroutine function they are awaited."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

import memo


def _check(f: Any, *, hits: int, misses: int, cache: int, maxsize: int = 10_000) -> None:
    """async-lru's `check_lru` fixture, over memo's cache_info()."""
    assert f.cache_info() == (hits, misses, maxsize, cache)


def test_alru_cache_not_callable() -> None:
    """Ports test_basic.test_alru_cache_not_callable: a non-callable is refused at decoration."""
    with pytest.raises(memo.ConfigurationError, match="options are keyword-only"):
        memo.cached("foo")  # type: ignore[call-overload]


def test_alru_not_cache_exception() -> None:
    """Ports test_exception.test_alru_not_cache_exception: an exception is never cached,
    each call runs again (async-lru's cache_exceptions=True has no memo counterpart)."""
    runs = 0

    @memo.cached
    async def coro(val: int) -> int:
        nonlocal runs
        runs += 1
        return 1 // 0

    async def scenario() -> None:
        for _ in range(4):
            with pytest.raises(ZeroDivisionError):
                await coro(1)

    asyncio.run(scenario())
    assert runs == 4
    assert coro.cache_info().hits == 0


def test_cache_clear() -> None:
    """Ports test_cache_clear.test_cache_clear: gather three calls, then clear everything."""

    @memo.cached
    async def coro(val: int) -> int:
        return val

    async def scenario() -> None:
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3])) == [1, 2, 3]
        _check(coro, hits=0, misses=3, cache=3)
        await coro.cache_clear()
        _check(coro, hits=0, misses=0, cache=0)

    asyncio.run(scenario())


def test_cache_clear_pending_task() -> None:
    """Ports test_cache_clear.test_cache_clear_pending_task: a call in flight when the cache
    is cleared still returns its value."""

    @memo.cached
    async def coro() -> str:
        await asyncio.sleep(0.1)
        return "foo"

    async def scenario() -> None:
        task = asyncio.create_task(coro())
        await asyncio.sleep(0)
        await coro.cache_clear()
        assert await task == "foo"

    asyncio.run(scenario())


def test_cache_info() -> None:
    """Ports test_cache_info.test_cache_info: concurrent equal calls are one miss (the
    others wait for it and count as hits); a 4-entry L1 keeps 4."""

    @memo.cached(store=memo.MemoryStore(maxsize=4))
    async def coro(val: int) -> int:
        await asyncio.sleep(0.01)
        return val

    async def scenario() -> None:
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3])) == [1, 2, 3]
        _check(coro, hits=0, misses=3, cache=3, maxsize=4)
        await coro.cache_clear()
        _check(coro, hits=0, misses=0, cache=0, maxsize=4)
        assert await asyncio.gather(*(coro(v) for v in [1, 1, 1])) == [1, 1, 1]
        _check(coro, hits=2, misses=1, cache=1, maxsize=4)
        await coro.cache_clear()
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3, 4])) == [1, 2, 3, 4]
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3, 4])) == [1, 2, 3, 4]
        _check(coro, hits=4, misses=4, cache=4, maxsize=4)

    asyncio.run(scenario())


def test_cache_invalidate() -> None:
    """Ports test_cache_invalidate.test_cache_invalidate: invalidate one call at a time."""

    @memo.cached
    async def coro(val: int) -> int:
        return val

    async def scenario() -> None:
        for v in (1, 2, 3):
            assert await coro.invalidate(v) is False
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3])) == [1, 2, 3]
        _check(coro, hits=0, misses=3, cache=3)
        for left, v in ((2, 1), (1, 2), (0, 3)):
            assert await coro.invalidate(v) is True
            _check(coro, hits=0, misses=3, cache=left)
        assert await asyncio.gather(*(coro(v) for v in [1, 2, 3])) == [1, 2, 3]
        _check(coro, hits=0, misses=6, cache=3)

    asyncio.run(scenario())


def test_cache_invalidate_multiple_args() -> None:
    """Ports test_cache_invalidate.test_cache_invalidate_multiple_args (and
    _different_order): *args calls invalidate exactly, reversed arguments are another key."""

    @memo.cached
    async def coro(*args: int) -> int:
        return len(args)

    async def scenario() -> None:
        for i, size in enumerate(range(10)):
            args = tuple(range(size))
            assert await coro(*args) == size
            _check(coro, hits=0, misses=i + 1, cache=1)
            await coro.invalidate(*args)
            _check(coro, hits=0, misses=i + 1, cache=0)
        assert await coro(1, 2) == 2
        assert await coro(2, 1) == 2
        _check(coro, hits=0, misses=12, cache=2)

    asyncio.run(scenario())


def test_ttl_infinite_cache() -> None:
    """Ports test_ttl.test_ttl_infinite_cache: an entry past its ttl is gone from
    cache_info() and the next call misses."""

    @memo.cached(ttl=0.1)
    async def coro(val: int) -> int:
        return val

    async def scenario() -> None:
        assert await coro(1) == 1
        assert await coro(1) == 1
        _check(coro, hits=1, misses=1, cache=1)
        await asyncio.sleep(0.2)
        _check(coro, hits=1, misses=1, cache=0)
        assert await coro(1) == 1
        _check(coro, hits=1, misses=2, cache=1)

    asyncio.run(scenario())


def test_ttl_with_explicit_invalidation() -> None:
    """Ports test_ttl.test_ttl_with_explicit_invalidation: after invalidate(), the new entry
    gets a full ttl of its own."""

    @memo.cached(ttl=0.3)
    async def coro(val: int) -> int:
        return val

    async def scenario() -> None:
        assert await coro(1) == 1
        await coro.invalidate(1)
        _check(coro, hits=0, misses=1, cache=0)
        await asyncio.sleep(0.15)
        assert await coro(1) == 1
        await asyncio.sleep(0.2)  # past the first entry's ttl, within the second's
        _check(coro, hits=0, misses=2, cache=1)

    asyncio.run(scenario())


def test_ttl_concurrent() -> None:
    """Ports test_ttl.test_ttl_concurrent."""

    @memo.cached(ttl=1, store=memo.MemoryStore(maxsize=1))
    async def coro(val: int) -> int:
        return val

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(coro(i) for i in range(2))))

    assert asyncio.run(scenario()) == [0, 1]


@pytest.mark.parametrize("num_to_cancel", [0, 1, 2, 3])
def test_cancel(num_to_cancel: int) -> None:
    """Ports test_cancel.test_cancel (times shortened): three tasks on one key, some
    cancelled; the others still get the value."""
    finished = 0

    @memo.cached
    async def coro(val: int) -> int:
        nonlocal finished
        await asyncio.sleep(0.2)
        finished += 1
        return val

    async def scenario() -> list[Any]:
        tasks = [asyncio.create_task(coro(1)) for _ in range(3)]
        await asyncio.sleep(0)
        for task in tasks[:num_to_cancel]:
            task.cancel()
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)

    results = asyncio.run(scenario())
    assert [r for r in results if not isinstance(r, BaseException)] == [1] * (3 - num_to_cancel)
    assert finished <= 1 if num_to_cancel == 0 else finished <= 3


def test_partial() -> None:
    """Ports test_partialmethod.test_partialmethod_partial (its functools.partial half): a
    cached partial of a coroutine function is one cache, five concurrent calls one miss."""

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0.01)
        return a + b

    coro = memo.cached(functools.partial(add, 2))

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(coro(1) for _ in range(5))))

    assert asyncio.run(scenario()) == [3] * 5
    _check(coro, hits=4, misses=1, cache=1)
