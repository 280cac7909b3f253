"""Re-entry: a cached function that calls itself with the same key never waits on itself."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import memo
from memo._policy.operations import REENTERED, Outcome
from memo._runtime.flight import AsyncFlights, ThreadFlights

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


@pytest.mark.parametrize("tier", ["L1", "L1+L2"])
def test_reentry_after_invalidate_all_mid_call_does_not_wait(
    tier: str, redis_url: str, namespace: str
) -> None:
    """invalidate_all() while the outer call computes changes the L1 token: the inner call of
    the same arguments is still the same call, so it neither waits for the outer's flight nor
    for its own lease (found by the soak, where another process moved the generation)."""
    store = _stores(redis_url, namespace)[tier]
    calls: list[int] = []

    @memo.cached(ttl=60, store=store, lock=True, lock_timeout=LOCK_TIMEOUT)
    def f(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            f.invalidate_all()
            return f(x) + 1
        return x * 10

    assert f(1) == 11
    assert f.stats.waits == 0

    acalls: list[int] = []

    @memo.cached(ttl=60, store=store, lock=True, lock_timeout=LOCK_TIMEOUT)
    async def g(x: int) -> int:
        acalls.append(x)
        if len(acalls) == 1:
            await g.invalidate_all()
            return await g(x) + 1
        return x * 10

    assert asyncio.run(g(1)) == 11
    assert g.stats.waits == 0
    store.close()


def test_reentry_of_a_call_computed_alone_beside_an_older_flight_is_detected() -> None:
    """After invalidate_all(), a caller whose call has an older-token flight (another
    thread's) computes alone; if it then re-enters that call, it is told so at once instead
    of waiting (over Redis: on its own lease, lock_timeout long). Found by the soak."""
    flights = ThreadFlights()
    old, new = ("t1", 1, "x"), ("t2", 1, "x")
    other: list[Any] = []
    elected = threading.Event()
    release = threading.Event()

    def older_leader() -> None:
        other.append(flights.lead(old))
        elected.set()
        release.wait(5)
        flights.land(old, Outcome("old"))

    thread = threading.Thread(target=older_leader)
    thread.start()
    assert elected.wait(5) and other == [None]
    assert flights.lead(new) is None  # computes alone beside the older flight
    again = flights.lead(new)  # ...and re-enters its own call
    assert flights.follow(again, timeout=5) is REENTERED
    flights.land(new, Outcome("new"))  # done computing alone
    assert flights.lead(new) is None  # alone again (the older flight still runs)
    flights.land(new, Outcome("new"))
    release.set()
    thread.join(5)
    assert len(flights) == 0


def test_async_reentry_of_a_call_computed_alone_is_detected() -> None:
    """The async twin: a task computing alone beside another task's older flight."""
    flights = AsyncFlights()
    old, new = ("t1", 1, "x"), ("t2", 1, "x")

    async def scenario() -> None:
        release = asyncio.Event()
        elected = asyncio.Event()

        async def older_leader() -> None:
            assert flights.lead(old) is None
            elected.set()
            await release.wait()
            flights.land(old, Outcome("old"))

        task = asyncio.create_task(older_leader())
        await elected.wait()
        assert flights.lead(new) is None
        again = flights.lead(new)
        assert await flights.follow(again, timeout=5) is REENTERED
        flights.land(new, Outcome("new"))
        release.set()
        await asyncio.wait_for(task, 5)
        assert len(flights) == 0

    asyncio.run(scenario())
