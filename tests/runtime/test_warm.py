"""f.warm(): fill the cache ahead of traffic through the function's own key path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import memo


def test_warm_fills_and_skips() -> None:
    """Warming computes what is missing, skips what is cached, and later calls hit."""
    calls: list[int] = []

    @memo.cached(ttl=60)
    def square(x: int, power: int = 2) -> int:
        calls.append(x)
        return x**power

    square(1)
    report = square.warm(range(5))
    assert (report.warmed, report.skipped, report.failed) == (4, 1, 0)
    assert [square(x) for x in range(5)] == [0, 1, 4, 9, 16]
    assert len(calls) == 5
    assert square.warm([(5, 3), {"x": 6}, 7]).warmed == 3
    assert square(5, 3) == 125
    assert square(x=6) == 36


def test_warm_counts_failures_without_raising() -> None:
    """A call that raises or cannot be keyed is counted as failed; the rest are warmed."""

    @memo.cached
    def check(x: Any) -> int:
        if x == 3:
            raise ValueError("bad row")
        return 1

    report = check.warm([1, 2, 3, object()])
    assert (report.warmed, report.failed) == (2, 2)


def test_warm_async_with_bounded_concurrency() -> None:
    """Async functions warm as tasks, never more than `concurrency` at once."""
    running, peak = 0, 0

    @memo.cached
    async def load(x: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1
        return x

    report = asyncio.run(load.warm(range(20), concurrency=3, batch_size=7))
    assert report.warmed == 20
    assert peak <= 3


def test_warm_through_redis_reaches_other_processes(redis_url: str, namespace: str) -> None:
    """Warming one stack stores in L2 (pipelined): another stack's calls are L2 hits."""
    stacks = [
        memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
        for _ in range(2)
    ]
    calls: list[int] = []

    def load(x: int) -> int:
        calls.append(x)
        return x * 10

    load.__qualname__ = "warm_shared"
    a, b = (memo.cached(ttl=60, store=s)(load) for s in stacks)
    assert a.warm(range(30), batch_size=8).warmed == 30
    assert [b(x) for x in range(30)] == [x * 10 for x in range(30)]
    assert len(calls) == 30
    assert b.stats.l2_hits == 30
    assert b.warm(range(35)).skipped == 30


def test_warm_method_and_options() -> None:
    """A bound method warms with self; bad options are refused."""

    class Repo:
        @memo.cached(ignore=("self",))
        def get(self, x: int) -> int:
            return x

    assert Repo().get.warm([1, 2]).warmed == 2
    with pytest.raises(memo.ConfigurationError, match="concurrency"):
        Repo().get.warm([1], concurrency=0)
