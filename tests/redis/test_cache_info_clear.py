"""`cache_info()` and `cache_clear()` over L1 + a real Redis, sync and async."""

from __future__ import annotations

import asyncio

import memo
from tests.support.fault_helpers import events_up


def test_cache_clear_forgets_both_tiers_sync(redis_url: str, namespace: str) -> None:
    """After cache_clear(), the next call runs again: neither L1 nor Redis answers it, and
    the counters restart from zero."""
    store = memo.TieredStore(
        memo.MemoryStore(maxsize=50), memo.RedisStore(redis_url, namespace=namespace, secret="s")
    )
    memo.configure(store=store)
    events_up(store)  # until then L1 is bypassed (coherence), and currsize would count 0
    runs: list[int] = []

    @memo.cached
    def f(x: int) -> int:
        runs.append(x)
        return x * 2

    assert [f(1), f(1), f(2)] == [2, 2, 4]
    assert f.cache_info() == memo.CacheInfo(hits=1, misses=2, maxsize=50, currsize=2)
    f.cache_clear()
    assert f.cache_info() == memo.CacheInfo(hits=0, misses=0, maxsize=50, currsize=0)
    assert f(1) == 2
    assert runs == [1, 2, 1]
    assert f.cache_info() == memo.CacheInfo(hits=0, misses=1, maxsize=50, currsize=1)


def test_cache_clear_forgets_both_tiers_async(redis_url: str, namespace: str) -> None:
    """The async twin: `await f.cache_clear()`; cache_info() stays a plain call."""
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace, secret="s")
    )
    memo.configure(store=store)
    events_up(store)
    runs: list[int] = []

    @memo.cached
    async def f(x: int) -> int:
        runs.append(x)
        return x * 2

    async def scenario() -> None:
        assert [await f(1), await f(1)] == [2, 2]
        assert f.cache_info()[:2] == (1, 1)
        await f.cache_clear()
        assert f.cache_info() == (0, 0, 10_000, 0)
        assert await f(1) == 2

    asyncio.run(scenario())
    assert runs == [1, 1]


def test_cache_info_of_an_l2_only_function(redis_url: str, namespace: str) -> None:
    """A function on a RedisStore alone has no in-process bound: maxsize None, currsize 0."""

    @memo.cached(store=memo.RedisStore(redis_url, namespace=namespace))
    def f(x: int) -> int:
        return x

    assert f(1) == f(1) == 1
    assert f.cache_info() == memo.CacheInfo(hits=1, misses=1, maxsize=None, currsize=0)
