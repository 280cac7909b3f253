"""One timeout per fault: under every fault no call waits on Redis longer than one socket timeout.

The matrix: faults {latency above the socket timeout, freeze, drop, half-close, SIGSTOP,
NOPERM} x {sync, async} x {hit, miss} x {lock on, off}. Each case runs two callers (threads,
or tasks) over two functions at once, one on L1+L2 and one on L2 alone (each call of the
latter reaches Redis), through a phase with the fault on (its first calls, the breaker
opening, its probes) and a phase after the fault is healed (the breaker closing, the events
connection coming back, replays). With the lock on, another "process" holds the lease of
every key missed under the fault: a waiter must not wait on a lease it cannot observe.

Bound: the promise is socket timeout (0.2 s) + 50 ms per call. Asserted with a CI slack of
0.35 s (0.6 s in all): here the suites of 8 workers share 2 cores, and a caller thread can
lose the GIL or the CPU for a few hundred ms (the worst call measured at load average 11 was
0.26 s). A lease wait that sleeps through a 1 s slice (1.0-1.2 s before the fix) fails it;
a second socket timeout in one call (0.4-0.45 s) would not, so the real worst figures are
printed at the end of the run (tests/system/conftest.py) and written to
`tests.support.fault_matrix.report_path()`, for the reader to hold to the promise.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import memo
from memo._keys.key import CacheKey
from tests.support.fault_helpers import (
    SECRET,
    SOCKET_TIMEOUT,
    configure,
    events_up,
    value_of,
    wait_until,
)
from tests.support.fault_matrix import Case, record
from tests.support.fault_proxy import FaultProxy
from tests.support.redis_fixtures import require_redis
from tests.support.redis_servers import RedisServer, acl_user

PROMISE = SOCKET_TIMEOUT + 0.05  # what docs/failures.md promises for one call
CI_SLACK = 0.35  # see the module docstring
BOUND = PROMISE + CI_SLACK
LATENCY = SOCKET_TIMEOUT + 0.1  # the "latency" fault: every byte this late, past the timeout
FOREIGN_LEASE_MS = 3000
HIT_KEYS = list(range(8))
CALLS = 12  # per caller and phase
FAULT_PERIOD = 0.04  # 12 calls over ~0.5 s: first failures, the breaker opening, a probe
HEAL_PERIOD = 0.04  # 12 calls over ~0.5 s: the breaker closing, events back, replays
FAULT_DELAY = 0.06  # the fault lands this long into the fault phase, with calls in flight
CALLERS = 2
FAULTS = ["latency", "freeze", "drop", "half-close", "sigstop", "noperm"]
ACL_USER = "matrix"


@dataclass
class Matrix:
    """The module's server, the proxy in front of it, and the ACL user memo connects as."""

    server: RedisServer
    proxy: FaultProxy
    password: str
    url: str

    def start(self, fault: str) -> None:
        """Turn fault on."""
        if fault == "latency":
            self.proxy.latency(LATENCY)
        elif fault == "freeze":
            self.proxy.block()
        elif fault == "drop":
            self.proxy.reset_all()
        elif fault == "half-close":
            self.proxy.half_close()
        elif fault == "sigstop":
            self.server.pause()
        elif fault == "noperm":  # no command, key or channel left: every reply is NOPERM
            self.server.command("ACL", "SETUSER", ACL_USER, "-@all", "resetkeys", "resetchannels")
        else:
            raise ValueError(fault)

    def heal(self, fault: str) -> None:
        """Turn fault off."""
        if fault == "sigstop":
            self.server.resume()
        elif fault == "noperm":
            acl_user(self.server, ACL_USER, self.password)
        else:
            self.proxy.heal()


@pytest.fixture(scope="module")
def matrix() -> Iterator[Matrix]:
    """One private server for the module (it is paused and its ACL changed), behind a proxy."""
    server = require_redis("redis-server", RedisServer().start)
    proxy = FaultProxy(server.host, server.port)
    proxy.start()
    password = "matrix-pw"
    acl_user(server, ACL_USER, password)
    try:
        yield Matrix(
            server, proxy, password, f"redis://{ACL_USER}:{password}@{proxy.host}:{proxy.port}/0"
        )
    finally:
        proxy.stop()
        server.stop()


@dataclass
class Samples:
    """Latencies by layout, wrong results and exceptions of one case."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"l1+l2": [], "l2": []})
    wrong: int = 0
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    holder_done: float = -math.inf  # when the other process's compute ended, if it did

    def add(self, layout: str, began: float, key: int, value: Any) -> None:
        """A call that began at began just returned value: charge it what it waited on Redis
        (the other process's compute, until it ended, is the function's time)."""
        charged = time.perf_counter() - max(began, self.holder_done)
        with self.lock:
            self.latencies[layout].append(charged)
            self.wrong += value != value_of(key)


def phase_keys(state: str) -> list[int]:
    """The key of each call of a phase: warmed keys (hit), or keys nobody stored (miss)."""
    if state == "hit":
        return [HIT_KEYS[j % len(HIT_KEYS)] for j in range(CALLS)]
    return [1000 + j for j in range(CALLS)]


def make_functions(colour: str, lock: bool, l2: memo.RedisStore) -> dict[str, Any]:
    """value_of cached on L1+L2 (the default store) and on L2 alone, in colour."""
    if colour == "sync":

        @memo.cached(ttl=60, lock=lock)
        def tiered_value(x: int) -> int:
            return value_of(x)

        @memo.cached(ttl=60, lock=lock, store=l2)
        def shared_value(x: int) -> int:
            return value_of(x)

        return {"l1+l2": tiered_value, "l2": shared_value}

    @memo.cached(ttl=60, lock=lock)
    async def atiered_value(x: int) -> int:
        return value_of(x)

    @memo.cached(ttl=60, lock=lock, store=l2)
    async def ashared_value(x: int) -> int:
        return value_of(x)

    return {"l1+l2": atiered_value, "l2": ashared_value}


def sync_callers(
    functions: dict[str, Any], keys: list[int], period: float, samples: Samples
) -> list[threading.Thread]:
    """CALLERS threads (started) each calling every function on keys, a step every period."""

    def caller() -> None:
        start = time.perf_counter()
        for j, key in enumerate(keys):
            time.sleep(max(0.0, start + j * period - time.perf_counter()))
            for layout, function in functions.items():
                began = time.perf_counter()
                try:
                    value = function(key)
                except Exception as exc:
                    samples.errors.append(exc)
                    continue
                samples.add(layout, began, key, value)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    return threads


def join(threads: list[threading.Thread]) -> None:
    """Wait for the callers (bounded)."""
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads), "a caller did not finish in 20 s"


async def async_caller(
    functions: dict[str, Any], keys: list[int], period: float, samples: Samples
) -> None:
    """One task of `sync_callers`' kind on the running loop."""
    start = time.perf_counter()
    for j, key in enumerate(keys):
        await asyncio.sleep(max(0.0, start + j * period - time.perf_counter()))
        for layout, function in functions.items():
            began = time.perf_counter()
            try:
                value = await function(key)
            except Exception as exc:
                samples.errors.append(exc)
                continue
            samples.add(layout, began, key, value)


def lease_keys(functions: dict[str, Any], keys: list[int]) -> list[str]:
    """The Redis lease keys of keys, for every function."""
    return [f"{f.cache_key(k)}:lease" for f in functions.values() for k in keys]


@dataclass
class Plan:
    """What one case does around its calls: the fault, and the other process's leases."""

    matrix: Matrix
    fault: str
    namespace: str
    leases: list[str]
    samples: Samples

    def take_leases(self) -> None:
        """Another process starts computing every key missed under the fault."""
        for lease in self.leases:
            self.matrix.server.command("SET", lease, "foreign", "PX", FOREIGN_LEASE_MS)

    def start_fault(self) -> None:
        """The fault begins while calls are in flight; the other process's compute ends now
        (its result cannot reach Redis): a wait from here on is a wait on Redis."""
        self.matrix.start(self.fault)
        if self.leases:
            self.samples.holder_done = time.perf_counter()

    def heal(self) -> None:
        """The fault ends; the other process's release lands, as memo's would (DEL + event)."""
        self.matrix.heal(self.fault)
        self.samples.holder_done = -math.inf
        channel = f"memo:{self.namespace}:events"
        for lease in self.leases:
            self.matrix.server.command("DEL", lease)
            self.matrix.server.command("PUBLISH", channel, f"k|foreign|{lease[: -len(':lease')]}")


def run_sync(plan: Plan, functions: dict[str, Any], keys: list[int]) -> None:
    """The fault phase (the fault lands FAULT_DELAY into it), heal, the healed phase."""
    plan.take_leases()
    callers = sync_callers(functions, keys, FAULT_PERIOD, plan.samples)
    time.sleep(FAULT_DELAY)
    try:
        plan.start_fault()
    finally:
        join(callers)
        plan.heal()
    join(sync_callers(functions, keys, HEAL_PERIOD, plan.samples))


async def run_async(plan: Plan, functions: dict[str, Any], keys: list[int]) -> None:
    """`run_sync` with tasks; the fault is switched from a thread so the loop runs on."""
    plan.take_leases()
    callers = asyncio.gather(
        *(async_caller(functions, keys, FAULT_PERIOD, plan.samples) for _ in range(CALLERS))
    )
    await asyncio.sleep(FAULT_DELAY)
    try:
        await asyncio.to_thread(plan.start_fault)
    finally:
        await asyncio.wait_for(callers, 20)
        await asyncio.to_thread(plan.heal)
    await asyncio.wait_for(
        asyncio.gather(
            *(async_caller(functions, keys, HEAL_PERIOD, plan.samples) for _ in range(CALLERS))
        ),
        20,
    )


@pytest.mark.timeout(30)
@pytest.mark.parametrize("lock", [True, False], ids=["lock", "nolock"])
@pytest.mark.parametrize("state", ["hit", "miss"])
@pytest.mark.parametrize("colour", ["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS)
def test_one_timeout_per_fault(
    matrix: Matrix, namespace: str, *, fault: str, colour: str, state: str, lock: bool
) -> None:
    """Under the fault and while it heals, every call returns the right value within one socket
    timeout + 50 ms (+ CI slack), on L1+L2 and on L2 alone; the worst call is recorded."""
    store = configure(matrix.url, namespace)
    l2 = memo.RedisStore(matrix.url, namespace=namespace, secret=SECRET)
    functions = make_functions(colour, lock, l2)
    events_up(store)
    l2.events.ensure_started()
    wait_until(lambda: l2.events.healthy, 5, "L2 store's events connection up")
    samples = Samples()
    keys = phase_keys(state)
    leases = lease_keys(functions, keys) if lock and state == "miss" else []
    plan = Plan(matrix, fault, namespace, leases, samples)
    if colour == "sync":
        for key in HIT_KEYS if state == "hit" else ():
            for function in functions.values():
                function(key)
        run_sync(plan, functions, keys)
    else:

        async def scenario() -> None:
            for key in HIT_KEYS if state == "hit" else ():
                for function in functions.values():
                    await function(key)
            await run_async(plan, functions, keys)

        asyncio.run(scenario())
    assert samples.errors == []
    assert samples.wrong == 0
    worst = {
        layout: record(Case(fault, colour, state, lock, layout), latencies)
        for layout, latencies in samples.latencies.items()
    }
    assert all(len(latencies) == 2 * CALLS * CALLERS for latencies in samples.latencies.values())
    assert max(worst.values()) <= BOUND, worst
    # what the fault left to send (releases of claims without an answer, lost writes' deletes)
    # is sent once Redis answers, by the replayer, with no further call
    backends = (store.redis.backend, l2.backend)
    wait_until(lambda: not any(b.pending_count() for b in backends), 5, "replays sent")


BREAK_AFTER = 0.15  # a link that hangs, then breaks this long into a command


class LinkBreak:
    """The proxy hangs, and BREAK_AFTER later resets every connection (new ones still hang)."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.timer = threading.Timer(BREAK_AFTER, lambda: proxy.drop(reset=True))

    def __enter__(self) -> None:
        self.proxy.block()
        self.timer.start()

    def __exit__(self, *exc: object) -> None:
        self.timer.join(5)
        self.proxy.heal()


@pytest.mark.parametrize("colour", ["sync", "async"])
def test_a_connection_error_after_a_wait_is_not_retried(
    matrix: Matrix, namespace: str, colour: str
) -> None:
    """A GET whose link breaks (RST) 0.15 s in is not sent again on a new connection, which
    could wait one more socket timeout: the call degrades with the ConnectionError at once."""
    store = memo.RedisStore(matrix.url, namespace=namespace, secret=SECRET)
    function = make_functions(colour, False, store)["l2"]
    if colour == "sync":
        assert function(1) == value_of(1)  # stored; its pooled connection is used next
        with LinkBreak(matrix.proxy):
            began = time.perf_counter()
            value = function(1)
            seconds = time.perf_counter() - began
    else:

        async def scenario() -> tuple[int, float]:
            assert await function(1) == value_of(1)
            with LinkBreak(matrix.proxy):
                began = time.perf_counter()
                value = await function(1)
                return value, time.perf_counter() - began

        value, seconds = asyncio.run(scenario())
    assert value == value_of(1)
    # a retry would have timed out on the hung new connection: a TimeoutError, >= 0.35 s
    assert function.stats.errors_by_class == {"ConnectionError": 1}
    assert seconds < BREAK_AFTER + SOCKET_TIMEOUT, seconds  # measured ~0.15 s


def test_a_claim_answered_too_late_is_released_when_redis_answers(
    matrix: Matrix, namespace: str
) -> None:
    """A claim sent into a slow link times out, then lands: its lease is given back once Redis
    answers again, so a later miss of that key waits on no lease that nobody holds."""
    store = memo.RedisStore(matrix.url, namespace=namespace, secret=SECRET)
    remote = f"memo:{namespace}:claimed:v1:{{late}}"
    key = CacheKey(("claimed", "late"), remote)
    assert store.backend.claim(key, "warm") is True  # connected, and the script is loaded
    store.backend.release(key, "warm")
    matrix.proxy.latency(LATENCY)
    try:
        assert store.backend.claim(key, "tok") is None  # no answer in time
        wait_until(lambda: matrix.server.command("EXISTS", f"{remote}:lease") == 1, 2, "landed")
    finally:
        matrix.proxy.heal()
    waited = wait_until(
        lambda: matrix.server.command("EXISTS", f"{remote}:lease") == 0, 3, "lease released"
    )
    assert waited < 1.0, waited  # the lease's TTL is 5 s; measured ~0.3 s (replay poll + probe)
