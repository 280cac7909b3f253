"""What the cross-process tests run in other processes: an agent driven over a Pipe.

`tests/system/test_cross_process.py` starts each agent with multiprocessing's "spawn" method, so a
child inherits nothing but its arguments: it configures memo on the test's Redis URL and
namespace, then serves commands (`call`, `refresh`, `watch`, `stampede`, ...) until `stop`.
The cached functions live here, at module level, so every process derives the same keys
(`memo:{ns}:tests.support.cross_process_worker.value:v1:{...}`). Each body counts its runs with an
INCR on `memo:{ns}:counter:{name}` (under `memo:`, which an ACL-limited user may touch), so
a test can tell how often a function ran across all processes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from typing import Any

import redis

import memo
from memo._runtime.settings import settings

__all__ = ["SECRET", "counter_key", "serve"]

SECRET = "cross-process-secret"
COMPUTE_SECONDS = 0.05
WARM_TIMEOUT = 10.0


class _State:
    """This process's namespace and a plain client for the run counters."""

    namespace = "unset"
    client: redis.Redis | None = None


def counter_key(namespace: str, name: str) -> str:
    """The Redis key counting the runs of function `name` in `namespace`."""
    return f"memo:{namespace}:counter:{name}"


def _bump(name: str) -> int:
    """Count one run of `name` across every process."""
    assert _State.client is not None
    return int(_State.client.incr(counter_key(_State.namespace, name)))


# -- the cached functions -----------------------------------------------------------------


@memo.cached(ttl=300, tags=["t:{k}"])
def value(k: int) -> dict[str, int]:
    """A fresh value on every run: which run of the function made it, and in which process."""
    return {"k": k, "run": _bump("value"), "pid": os.getpid()}


@memo.cached(ttl=300)
def slow(k: int) -> dict[str, int]:
    """Like `value`, after 50 ms of work: the stampede's function."""
    time.sleep(COMPUTE_SECONDS)
    return {"k": k, "run": _bump("slow"), "pid": os.getpid()}


@memo.cached(ttl=300)
async def aslow(k: int) -> dict[str, int]:
    """`slow` as an `async def`."""
    await asyncio.sleep(COMPUTE_SECONDS)
    return {"k": k, "run": _bump("aslow"), "pid": os.getpid()}


@memo.cached(ttl=300)
async def aquick(k: int) -> int:
    """Used once per event loop to open its Redis connection before a timed stampede."""
    return k


FUNCTIONS: dict[str, Any] = {"value": value, "slow": slow, "aslow": aslow}


# -- commands -------------------------------------------------------------------------------


def _kind(before: memo.Stats, after: memo.Stats) -> str:
    """How one call was answered, from the change in its function's counters."""
    if after.l1_hits > before.l1_hits:
        return "l1"
    if after.l2_hits > before.l2_hits:
        return "l2"
    if after.misses > before.misses:
        return "miss"
    return "other"


def call(name: str, k: int) -> dict[str, Any]:
    """Call `name(k)` once: the value, how it was answered, and the counters after."""
    f = FUNCTIONS[name]
    before = f.stats.snapshot()
    result = f(k)
    return {"value": result, "kind": _kind(before, f.stats), "stats": f.stats.as_dict()}


def prime(k: int, tries: int = 5) -> dict[str, Any]:
    """Call `value(k)` until the answer comes from L1 (at most `tries` calls)."""
    first = call("value", k)
    last = first
    for _ in range(tries - 1):
        if last["kind"] == "l1":
            break
        last = call("value", k)
    return {"first": first, "last": last, "l1_keys": len(_tiered().memory)}


def refresh(k: int) -> dict[str, Any]:
    """`value.refresh(k)`, stamped with the monotonic time just before it started."""
    start = time.monotonic()
    result = value.refresh(k)
    return {"start": start, "end": time.monotonic(), "value": result}


def invalidate(k: int) -> dict[str, Any]:
    """`value.invalidate(k)`, stamped with the monotonic time just before it started."""
    start = time.monotonic()
    removed = value.invalidate(k)
    return {"start": start, "end": time.monotonic(), "removed": removed}


def invalidate_all(name: str) -> None:
    """`f.invalidate_all()` of one function."""
    FUNCTIONS[name].invalidate_all()


def invalidate_tag(tag: str) -> int:
    """`memo.invalidate_tag(tag)`."""
    return memo.invalidate_tag(tag)


def watch(conn: Connection, timeout: float) -> dict[str, Any]:
    """Tell the parent we are watching, then poll until L1 holds nothing (or timeout).

    Call after `prime`: L1 then holds exactly the entry of `value(k)`. Returns the monotonic
    time at which it was seen gone (comparable across processes on Linux: CLOCK_MONOTONIC
    is system-wide).
    """
    memory = _tiered().memory
    held = len(memory)
    conn.send(("armed", held))
    deadline = time.monotonic() + timeout
    while len(memory) > 0:
        now = time.monotonic()
        if now > deadline:
            return {"gone": None, "held": held}
        time.sleep(0.0001)  # let the event thread take the GIL
    return {"gone": time.monotonic(), "held": held, "l1_active": _tiered().l1_active}


def hammer(barrier: Barrier, k: int, rounds: int) -> list[int]:
    """`value.refresh(k)` then `value(k)`, `rounds` times, each round released with the others.

    The read after the write exercises the other path into L1: an L2 hit copied into L1
    while the other writer's event may be on its way.
    """
    runs: list[int] = []
    for _ in range(rounds):
        barrier.wait(timeout=30)
        runs.append(value.refresh(k)["run"])
        value(k)
    return runs


def stampede(barrier: Barrier, name: str, k: int, threads: int) -> dict[str, Any]:
    """`threads` threads call `name(k)` together, once the barrier (across processes) opens."""
    f = FUNCTIONS[name]
    results: list[tuple[float, float, Any] | None] = [None] * threads
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            start = time.monotonic()
            result = f(k)
            results[i] = (start, time.monotonic(), result)
        except Exception:
            errors.append(traceback.format_exc())

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return {"results": results, "errors": errors, "stats": f.stats.as_dict()}


def astampede(barrier: Barrier, k: int, tasks: int) -> dict[str, Any]:
    """`tasks` asyncio tasks call `aslow(k)` together, once the barrier opens."""

    async def main() -> dict[str, Any]:
        await aquick(-1)  # this loop's Redis connection, opened before the barrier
        await asyncio.to_thread(barrier.wait, 30)

        async def one() -> tuple[float, float, Any]:
            start = time.monotonic()
            result = await aslow(k)
            return (start, time.monotonic(), result)

        results = await asyncio.gather(*(one() for _ in range(tasks)))
        return {"results": list(results), "errors": [], "stats": aslow.stats.as_dict()}

    return asyncio.run(main())


def state() -> dict[str, Any]:
    """What this process's TieredStore looks like."""
    store = _tiered()
    return {
        "l1_size": len(store.memory),
        "l1_active": store.l1_active,
        "healthy": store.redis.events.healthy,
        "errors": store.redis.errors,
    }


def _tiered() -> Any:
    store = settings.store
    assert isinstance(store, memo.TieredStore), store
    return store


# -- the serving loop -------------------------------------------------------------------------


def _warm() -> None:
    """Open the events subscription (L1 is used only once it is up) and the client."""
    store = _tiered()
    store.redis.events.ensure_started()
    deadline = time.monotonic() + WARM_TIMEOUT
    while not store.redis.events.healthy:
        if time.monotonic() > deadline:
            raise RuntimeError("the events connection did not come up")
        time.sleep(0.005)
    store.redis.client.ping()


def _commands(conn: Connection, barrier: Barrier | None) -> dict[str, Callable[..., Any]]:
    def need_barrier() -> Barrier:
        if barrier is None:
            raise RuntimeError("this agent was started without a barrier")
        return barrier

    return {
        "call": call,
        "prime": prime,
        "refresh": refresh,
        "invalidate": invalidate,
        "invalidate_all": invalidate_all,
        "invalidate_tag": invalidate_tag,
        "watch": lambda timeout: watch(conn, timeout),
        "hammer": lambda k, rounds: hammer(need_barrier(), k, rounds),
        "stampede": lambda name, k, threads: stampede(need_barrier(), name, k, threads),
        "astampede": lambda k, tasks: astampede(need_barrier(), k, tasks),
        "state": state,
    }


def serve(
    conn: Connection, url: str, namespace: str, barrier: Barrier | None = None, warm: bool = True
) -> None:
    """The agent's main: configure memo, say ready, then answer commands until `stop`."""
    try:
        _State.namespace = namespace
        _State.client = redis.Redis.from_url(url)
        memo.configure(redis_url=url, namespace=namespace, secret=SECRET)
        if warm:
            _warm()
        conn.send(("ready", os.getpid()))
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    commands = _commands(conn, barrier)
    while True:
        name, args = conn.recv()
        if name == "stop":
            break
        try:
            conn.send(("ok", commands[name](*args)))
        except Exception:
            conn.send(("error", traceback.format_exc()))
    memo.configure()  # closes the Redis store and its threads
    conn.send(("stopped", None))
