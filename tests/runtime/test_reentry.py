"""Re-entry: a cached function that calls itself with the same key never waits on itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import memo

# A wait on itself would last lock_timeout: longer than the test's own timeout, so a
# regression fails the test instead of passing slowly.
LOCK_TIMEOUT = 120.0
pytestmark = pytest.mark.timeout(60)


def _stores(redis_url: str, namespace: str) -> dict[str, Any]:
    return {
        "L1": memo.MemoryStore(),
        "L1+L2": memo.TieredStore(
            memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace)
        ),
    }


@pytest.mark.parametrize("tier", ["L1", "L1+L2"])
def test_sync_reentry_computes_without_waiting(tier: str, redis_url: str, namespace: str) -> None:
    """f(1) calling f(1) in the same thread computes the inner call instead of waiting."""
    store = _stores(redis_url, namespace)[tier]
    calls: list[int] = []

    @memo.cached(ttl=60, store=store, lock=True, lock_timeout=LOCK_TIMEOUT)
    def f(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            return f(x) + 1  # the same key, re-entered while this call leads its flight
        return x * 10

    assert f(1) == 11
    assert calls == [1, 1]
    assert f.stats.waits == 0
    # The inner result was stored first and is kept (the outer write finds the lease ended by
    # that newer write), as functools.lru_cache and cachetools keep the first stored value.
    assert f(1) == 10
    store.close()


@pytest.mark.parametrize("tier", ["L1", "L1+L2"])
def test_async_reentry_computes_without_waiting(tier: str, redis_url: str, namespace: str) -> None:
    """await g(1) awaiting g(1) in the same task computes the inner call instead of waiting."""
    store = _stores(redis_url, namespace)[tier]
    calls: list[int] = []

    @memo.cached(ttl=60, store=store, lock=True, lock_timeout=LOCK_TIMEOUT)
    async def g(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            return await g(x) + 1
        return x * 10

    async def main() -> None:
        assert await g(1) == 11
        assert await g(1) == 10  # the inner result, stored first, is kept

    asyncio.run(main())
    assert calls == [1, 1]
    assert g.stats.waits == 0
    store.close()


def test_another_thread_still_follows_the_leader(redis_url: str, namespace: str) -> None:
    """Re-entry detection is per thread: a second thread still waits for the leader's value."""
    import threading

    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    @memo.cached(ttl=60, lock=True, lock_timeout=LOCK_TIMEOUT)
    def slow(x: int) -> int:
        calls.append(x)
        started.set()
        release.wait(10)
        return x

    results: list[int] = []
    leader = threading.Thread(target=lambda: results.append(slow(3)))
    leader.start()
    assert started.wait(10)
    follower = threading.Thread(target=lambda: results.append(slow(3)))
    follower.start()
    release.set()
    leader.join(10)
    follower.join(10)
    assert results == [3, 3]
    assert calls == [3]
