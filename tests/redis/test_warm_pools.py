"""Warm pools: once a process has made its calls, a stampede of 32 callers on a cold key opens
no new Redis connection. Counted on the server (connections accepted, HELLOs), never timed."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import memo
from tests.support.redis_servers import RedisServer

SECRET = "warm-pools"
CALLERS = 32
pytestmark = pytest.mark.timeout(60)


def new_connections(server: RedisServer) -> tuple[int, int]:
    """(connections the server accepted so far, HELLOs it answered), read over a raw socket
    that is itself one accepted connection."""
    accepted = _field(str(server.command("INFO", "stats")), "total_connections_received")
    hello = _field(str(server.command("INFO", "commandstats")), "cmdstat_hello", "calls")
    return accepted, hello


def _field(text: str, name: str, inner: str = "") -> int:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key != name:
            continue
        if not inner:
            return int(value)
        parts = dict(item.split("=") for item in value.split(","))
        return int(parts[inner])
    return 0


def opened_between(before: tuple[int, int], after: tuple[int, int]) -> tuple[int, int]:
    """New connections (without the two raw sockets that read the counters) and HELLOs."""
    return after[0] - before[0] - 2, after[1] - before[1]


def stack(url: str, namespace: str) -> memo.TieredStore:
    # A long lease: its keeper thread (every third of it) never runs during the stampede.
    remote = memo.RedisStore(url, namespace=namespace, secret=SECRET, lease_ttl=60.0)
    return memo.TieredStore(memo.MemoryStore(), remote)


def healthy(store: memo.TieredStore) -> None:
    deadline = time.monotonic() + 10
    while not store.redis.events.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.redis.events.healthy


def test_a_thread_stampede_in_a_warm_process_opens_no_connection(
    redis_server: RedisServer, redis_url: str, namespace: str
) -> None:
    """32 threads miss one cold key together after one warm-up call: one run, no new
    connection (the leader alone goes to Redis; the others follow it in the process)."""
    store = stack(redis_url, namespace)
    runs: list[int] = []

    @memo.cached(ttl=60, store=store)
    def slow(k: int) -> int:
        time.sleep(0.05)
        runs.append(k)
        return k * 10

    assert slow(0) == 0  # warm: connected, leased, written, subscribed
    healthy(store)
    barrier = threading.Barrier(CALLERS)
    results: list[Any] = []

    def caller() -> None:
        barrier.wait(20)
        results.append(slow(1))

    before = new_connections(redis_server)
    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    after = new_connections(redis_server)
    assert results == [10] * CALLERS
    assert runs == [0, 1]
    assert opened_between(before, after) == (0, 0)


def test_a_task_stampede_in_a_warm_event_loop_opens_no_connection(
    redis_server: RedisServer, redis_url: str, namespace: str
) -> None:
    """32 tasks miss one cold key together after one warm-up call in their loop: one run, no
    new connection."""
    store = stack(redis_url, namespace)
    runs: list[int] = []

    @memo.cached(ttl=60, store=store)
    async def slow(k: int) -> int:
        await asyncio.sleep(0.05)
        runs.append(k)
        return k * 10

    async def main() -> tuple[list[int], tuple[int, int]]:
        assert await slow(0) == 0  # warm: this loop's client connected
        healthy(store)
        before = new_connections(redis_server)
        results = await asyncio.gather(*(slow(1) for _ in range(CALLERS)))
        return list(results), opened_between(before, new_connections(redis_server))

    results, opened = asyncio.run(main())
    assert results == [10] * CALLERS
    assert runs == [0, 1]
    assert opened == (0, 0)
