"""A lease waiter looks at the lease itself between events: a lost event costs it 50 ms at most.

The events connection wakes a waiter as soon as the holder writes or releases; when that
event is lost (the connection is down, or the holder's message never came), the waiter finds
out by looking at the lease, every `LEASE_POLL` seconds, instead of sleeping the whole wait.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import memo
from memo._keys.key import CacheKey
from memo._redis._async.backend import LEASE_POLL
from tests.support.redis_servers import RedisServer

WAIT = 2.0  # what the waiter is ready to wait; the lease goes long before


def lease_freed_silently(server: RedisServer, lease: str) -> float:
    """DEL the lease with no event, 0.2 s from now (in a thread); the time it happened."""
    freed: list[float] = []

    def free() -> None:
        server.command("DEL", lease)
        freed.append(time.perf_counter())

    timer = threading.Timer(0.2, free)
    timer.start()
    timer.join(5)
    return freed[0]


@pytest.mark.parametrize("colour", ["sync", "async"])
def test_a_lease_freed_without_an_event_ends_the_wait_within_a_poll(
    redis_server: RedisServer, redis_url: str, namespace: str, colour: str
) -> None:
    """The holder's lease goes without an event: the waiter returns within LEASE_POLL + slack,
    not after its whole wait."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    remote = f"memo:{namespace}:waited:v1:{{key}}"
    key = CacheKey(("waited", "key"), remote)
    redis_server.command("SET", f"{remote}:lease", "holder", "PX", 10_000)
    ended: list[float] = []

    def wait() -> None:
        if colour == "sync":
            store.backend.wait(key, WAIT)
        else:
            asyncio.run(store.backend.await_fill(key, WAIT))
        ended.append(time.perf_counter())

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    freed = lease_freed_silently(redis_server, f"{remote}:lease")
    waiter.join(WAIT + 2)
    assert ended, "the waiter did not return"
    late = ended[0] - freed
    # measured ~0.03 s; before the poll it slept its whole wait (2 s); slack for a loaded box
    assert late < LEASE_POLL + 0.35, late
