"""Regression tests for bugs found while building the Redis tier."""

from __future__ import annotations

import time
from typing import Any

import redis

import memo
from memo._redis import resilience as _redis_resilience
from tests.support.redis_servers import RedisServer


def stack(url: str, namespace: str) -> memo.TieredStore:
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret="regress")
    )


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def test_invalidate_tag_evicts_l1_copies_read_from_l2(redis_url: str, namespace: str) -> None:
    """An L1 copy promoted from L2 (stored without tags) goes with invalidate_tag here too."""
    writer_store, reader_store = stack(redis_url, namespace), stack(redis_url, namespace)
    loads: list[int] = []

    def profile(user_id: int) -> dict[str, int]:
        loads.append(user_id)
        return {"loads": len(loads)}

    profile.__qualname__ = "regress_profile"
    writer = memo.cached(ttl=300, tags=["user:{user_id}"], store=writer_store)(profile)
    reader = memo.cached(ttl=300, tags=["user:{user_id}"], store=reader_store)(profile)
    writer(1)
    reader_store.redis.events.ensure_started()
    assert wait_until(lambda: reader_store.l1_active)
    assert reader(1) == {"loads": 1}  # an L2 hit, copied into the reader's L1
    assert reader_store.delete_tag("user:1") == 1
    assert reader(1) == {"loads": 2}  # recomputed, not the stale L1 copy
    assert loads == [1, 1]


def test_overflowing_outage_queue_forgets_every_function(namespace: str) -> None:
    """When invalidations overflow the outage queue, every function here moves generation."""
    server = RedisServer().start()
    limit = _redis_resilience._PENDING_LIMIT
    try:
        _redis_resilience._PENDING_LIMIT = 2
        store = memo.RedisStore(server.url, namespace=namespace, secret="regress")
        f = memo.cached(ttl=300, store=store)(lambda x: x)
        keys = []
        for x in (1, 2, 3):
            f(x)
            keys.append(f.cache_key(x))
        server.pause()
        try:
            for x in (1, 2, 3):
                f.invalidate(x)
        finally:
            server.resume()
        assert wait_until(lambda: not store.breaker.is_open and any(store.generations.values()))
        with redis.Redis.from_url(server.url) as client:
            assert wait_until(lambda: client.exists(keys[0], keys[1]) == 0)
            assert client.exists(keys[2]) == 1  # not deleted, but of the old generation:
        misses = f.stats.misses
        assert f(3) == 3
        assert f.stats.misses == misses + 1  # a miss
    finally:
        _redis_resilience._PENDING_LIMIT = limit
        server.stop()
