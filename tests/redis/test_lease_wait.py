"""A lease waiter looks at the lease itself between events: a lost event costs it 50 ms at most.

The events connection wakes a waiter as soon as the holder writes or releases; when that
event is lost (the connection is down, or the holder's message never came), the waiter finds
out by looking at the lease, every `LEASE_POLL` seconds, instead of sleeping the whole wait.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import memo
from memo._keys.key import CacheKey
from memo._redis._async.backend import LEASE_POLL
from memo._redis.ops import WRITE
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


def _until(condition: Any, what: str) -> None:
    """Wait (bounded: 5 s, 1 ms steps) for condition() to hold."""
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


@pytest.mark.parametrize("colour", ["sync", "async"])
def test_a_fill_while_the_waiter_looks_at_the_lease_ends_the_wait(
    redis_server: RedisServer,
    redis_url: str,
    namespace: str,
    colour: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The holder fills (and publishes) while the waiter is looking at the lease, which the
    look still found held: the event, come between two slices of the wait, ends it. Each
    slice used to register its own waiter, so that event found no one and the waiter slept
    a slice more, then looked again."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    backend = store.backend
    remote = f"memo:{namespace}:raced:v1:{{key}}"
    lease = f"{remote}:lease"
    key = CacheKey(("raced", "key"), remote)
    redis_server.command("SET", lease, "holder+", "PX", 10_000)  # marked: the fill publishes
    backend.events.ensure_started()
    _until(lambda: backend.events.healthy, "the events connection")
    looks: list[bool] = []
    look_at_lease = backend._lease_held

    def racing_look(remote_: str) -> Any:
        held = yield from look_at_lease(remote_)
        looks.append(held)
        if len(looks) == 1:  # the holder's fill lands now, its event reaches this process
            seen = backend.events.seq
            message = f"k|another-writer|{remote}"
            channel = f"memo:{namespace}:events"
            args = ("data", 10_000, "holder", "fill", channel, message)
            redis_server.command("EVAL", WRITE.source, 2, remote, lease, *args)
            _until(lambda: backend.events.seq > seen, "the fill event")
        return held

    monkeypatch.setattr(backend, "_lease_held", racing_look)
    if colour == "sync":
        backend.wait(key, WAIT)
    else:
        asyncio.run(backend.await_fill(key, WAIT))
    assert looks == [True]  # one look, held; the event ended the wait, no second look
    store.close()
