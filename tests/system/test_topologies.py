"""The same cache over a 3-master Redis Cluster and behind Sentinel, on real servers."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import memo
from tests.support.redis_servers import RedisCluster, RedisSentinel, acl_user

pytestmark = pytest.mark.timeout(120)


def stack(url: str, namespace: str) -> memo.TieredStore:
    """An independent L1+L2 stack (another process, as far as Redis is concerned)."""
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret="topology")
    )


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def exercise(url: str, namespace: str) -> None:
    """Share, invalidate, tag and generation-bump across two stacks on one topology."""
    a_store, b_store = stack(url, namespace), stack(url, namespace)
    runs: list[int] = []

    def load(x: int) -> dict[str, int]:
        runs.append(x)
        return {"x": x, "run": len(runs)}

    load.__qualname__ = "topology_load"
    a = memo.cached(ttl=60, tags=["item:{x}"], store=a_store)(load)
    b = memo.cached(ttl=60, tags=["item:{x}"], store=b_store)(load)
    keys = range(12)  # spread over many hash slots, hence over all three masters
    for x in keys:
        a(x)
    for x in keys:
        assert b(x)["x"] == x
    assert len(runs) == 12
    assert b.stats.l2_hits == 12
    assert wait_until(lambda: a_store.l1_active and b_store.l1_active)

    assert b.invalidate(3) is True
    assert wait_until(lambda: a_store.memory.delete_remote(a.cache_key(3)) is False)
    assert a(3)["run"] == 13

    assert memo.invalidate_tag("item:5") >= 1  # every store in use, explicit ones included
    assert a(5)["run"] == 14
    a(6)
    assert asyncio.run(memo.ainvalidate_tag("item:6")) >= 1

    old = a.cache_key(0)
    b.invalidate_all()
    assert wait_until(lambda: a_store.redis.generations == b_store.redis.generations != {})
    assert a.cache_key(0) == old  # the key stays; its entry is of the old generation
    assert a(0)["run"] == 15
    assert a(6)["run"] == 16


def test_cluster(redis_cluster: RedisCluster, namespace: str) -> None:
    """Sharing, invalidation, tags and generations work across Cluster slots and nodes."""
    exercise(redis_cluster.seeds_url, namespace)


def test_cluster_as_restricted_user(redis_cluster: RedisCluster, namespace: str) -> None:
    """In Cluster too, memo needs no more than memo:* keys and no @dangerous command."""
    exercise(acl_user(redis_cluster, user="memo-cluster"), namespace)


def test_cluster_stampede(redis_cluster: RedisCluster, namespace: str) -> None:
    """Concurrent misses from two stacks on a Cluster run the function once."""
    runs: list[int] = []
    barrier = threading.Barrier(8)

    def slow(x: int) -> int:
        runs.append(x)
        time.sleep(0.2)
        return x

    slow.__qualname__ = "cluster_slow"
    stores = [stack(redis_cluster.seeds_url, namespace) for _ in range(2)]
    functions = [memo.cached(store=s)(slow) for s in stores]
    results: list[int] = []

    def call(i: int) -> None:
        barrier.wait(5)
        results.append(functions[i % 2](42))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [42] * 8
    assert runs == [42]


def test_cluster_async(redis_cluster: RedisCluster, namespace: str) -> None:
    """Async functions use the asyncio Cluster client."""
    calls: list[int] = []

    async def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    double.__qualname__ = "cluster_double"
    f = memo.cached(store=stack(redis_cluster.seeds_url, namespace))(double)
    g = memo.cached(store=stack(redis_cluster.seeds_url, namespace))(double)

    async def main() -> None:
        assert [await f(i) for i in range(6)] == [0, 2, 4, 6, 8, 10]
        assert [await g(i) for i in range(6)] == [0, 2, 4, 6, 8, 10]
        assert await g.invalidate(1) is True

    asyncio.run(main())
    assert calls == list(range(6))
    assert g.stats.l2_hits == 6


def test_sentinel(redis_sentinel: RedisSentinel, namespace: str) -> None:
    """redis+sentinel:// finds the master through Sentinel, sync and async."""
    exercise(redis_sentinel.url, namespace)
    calls: list[int] = []

    async def triple(x: int) -> int:
        calls.append(x)
        return 3 * x

    triple.__qualname__ = "sentinel_triple"
    f = memo.cached(store=stack(redis_sentinel.url, namespace))(triple)
    g = memo.cached(store=stack(redis_sentinel.url, namespace))(triple)

    async def main() -> None:
        assert await f(2) == 6
        assert await g(2) == 6

    asyncio.run(main())
    assert calls == [2]
