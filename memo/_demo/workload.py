"""`memo demo`: one workload against a slow SQLite database, without and with memo.

Six scenarios, each with a fresh store, its own decorated loader and its own database
counter: the workload uncached and through `@memo.cached`, first sync and then with the
loader as `async def` run by concurrent asyncio tasks; and a stampede, many threads asking
for one cold key at once, with single-flight on (`lock=True`) and off. `run_demo()` returns the
numbers; `memo._demo.report.format_report()` turns them into the printed table.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import memo
from memo._demo.db import Product, ProductDB, zipf_workload
from memo._redis.client import make_client, parse_url

__all__ = ["DemoResult", "DemoStores", "ScenarioResult", "percentile", "plural", "run_demo"]

TTL = 600.0  # longer than any run: every repeat inside the demo is a hit
STAMPEDE_MIN_LATENCY_MS = 20.0  # a slow query, so the stampeding threads overlap

Load = Callable[[int], Product | None]
ALoad = Callable[[int], Awaitable[Product | None]]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """What one scenario measured; `stats` is the cached loader's `f.stats` (None uncached)."""

    name: str
    label: str
    calls: int
    db_calls: int
    stats: memo.Stats | None
    p50_ms: float
    p95_ms: float
    p99_ms: float
    wall_s: float

    @property
    def hit_rate(self) -> float | None:
        """memo's own hit rate for this scenario (None when nothing was cached)."""
        return None if self.stats is None else self.stats.hit_rate

    @property
    def spared(self) -> float | None:
        """The share of calls that ran no query: hits, and waiters of a stampede that shared
        another caller's run (None uncached). The hit rate counts those waiters as misses."""
        if self.stats is None or not self.calls:
            return None
        return (self.calls - self.runs) / self.calls

    @property
    def runs(self) -> int:
        """How many calls ran the loader by memo's counters: misses that did not wait."""
        return self.calls if self.stats is None else self.stats.misses - self.stats.waits

    @property
    def counters_agree(self) -> bool:
        """Whether memo's counters account for exactly the database calls made."""
        return self.runs == self.db_calls


@dataclass(frozen=True, slots=True)
class DemoResult:
    """The demo's settings and every scenario's numbers, in the order they ran."""

    calls: int
    keys: int
    distinct_keys: int
    latency_ms: float
    stampede_latency_ms: float
    seed: int
    threads: int
    tasks: int
    scenarios: tuple[ScenarioResult, ...]
    store: str = "L1 only, a fresh memo.MemoryStore per scenario"

    def __getitem__(self, name: str) -> ScenarioResult:
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise KeyError(name)

    @property
    def speedup(self) -> float:
        """Wall time of the uncached run over that of the cached run (sync)."""
        return _ratio(self["uncached"].wall_s, self["cached"].wall_s)

    @property
    def async_speedup(self) -> float:
        """Wall time of the uncached run over that of the cached run (async tasks)."""
        return _ratio(self["uncached-async"].wall_s, self["cached-async"].wall_s)


def _ratio(slow: float, fast: float) -> float:
    return slow / fast if fast > 0 else float("inf")


def plural(count: int, noun: str) -> str:
    """'1 thread', '8 threads'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(round(len(sorted_values) * fraction, 9))  # round: 0.07 * 100 > 7
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def run_demo(
    *,
    calls: int = 2000,
    keys: int = 1000,
    latency_ms: float = 2.0,
    seed: int = 0,
    threads: int = 8,
    tasks: int = 32,
    progress: Progress | None = None,
    redis_url: str | None = None,
    stores: DemoStores | None = None,
) -> DemoResult:
    """Run every scenario on a database of `keys` products and return their numbers."""
    if min(calls, keys, threads, tasks) < 1 or not 0 <= latency_ms < math.inf:
        raise ValueError("run_demo: calls, keys, threads and tasks >= 1; latency_ms >= 0")
    say = progress or (lambda _message: None)
    workload = zipf_workload(calls, keys, seed)
    latency = latency_ms / 1000
    stampede_latency_ms = max(latency_ms, STAMPEDE_MIN_LATENCY_MS)
    scenarios: list[ScenarioResult] = []
    fresh = stores if stores is not None else DemoStores(redis_url)
    with ProductDB(keys, latency, seed) as db:
        say(f"uncached: {calls} calls, each one a query")
        scenarios.append(_uncached(db, workload))
        say("@memo.cached")
        scenarios.append(_cached_sync(db, workload, fresh))
        say(f"uncached, async def, {tasks} tasks")
        scenarios.append(_uncached_async(db, workload, tasks))
        say(f"@memo.cached, async def, {tasks} tasks")
        scenarios.append(_cached_async(db, workload, tasks, fresh))
    with ProductDB(keys, stampede_latency_ms / 1000, seed) as slow_db:
        for lock in (True, False):
            say(f"stampede: {threads} threads, one cold key, lock={lock}")
            scenarios.append(_stampede(slow_db, workload[0], threads, fresh, lock=lock))
    return DemoResult(
        calls=calls,
        keys=keys,
        distinct_keys=len(set(workload)),
        latency_ms=latency_ms,
        stampede_latency_ms=stampede_latency_ms,
        seed=seed,
        threads=threads,
        tasks=tasks,
        scenarios=tuple(scenarios),
        store=_describe(redis_url),
    )


# -- the loaders --------------------------------------------------------------------------


def _loader(db: ProductDB) -> Load:
    def load_product(product_id: int) -> Product | None:
        """The data-access function a user would write: one query per call."""
        return db.load(product_id)

    return load_product


def _async_loader(db: ProductDB) -> ALoad:
    async def load_product(product_id: int) -> Product | None:
        """The same data-access function for asyncio code."""
        return await db.aload(product_id)

    return load_product


Stores = Callable[[ProductDB], Any]


class DemoStores:
    """Makes each scenario's fresh store: L1 only, or L1 over Redis in a namespace of its own.

    Over Redis every namespace of one run starts with `demo-<run id>-`, so `clean_up()` can
    find what the demo wrote (SCAN on that prefix, never KEYS) and remove it.
    """

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.run_id = secrets.token_hex(4)
        self.made = 0
        # Products are dataclasses: pickled, so signed with a secret made for this run.
        self._secret = os.environ.get("MEMO_SECRET") or secrets.token_hex(16)

    def __call__(self, db: ProductDB) -> memo.MemoryStore | memo.TieredStore:
        # Big enough for every product: the demo measures hits, not eviction.
        l1 = memo.MemoryStore(maxsize=max(db.size, 1))
        if self.redis_url is None:
            return l1
        self.made += 1
        namespace = f"demo-{self.run_id}-{self.made}"
        return memo.TieredStore(
            l1, memo.RedisStore(self.redis_url, namespace=namespace, secret=self._secret)
        )

    @property
    def pattern(self) -> str:
        """The Redis keys this run wrote match this pattern."""
        return f"memo:demo-{self.run_id}-*"

    def clean_up(self) -> int:
        """Remove every key this run wrote to Redis; how many there were (0 for L1 only)."""
        if self.redis_url is None or not self.made:
            return 0
        client = make_client(parse_url(self.redis_url), _CLEANUP_TIMEOUT, sync=True)
        try:
            removed = 0
            batch: list[Any] = []
            for key in client.scan_iter(match=self.pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += _unlink(client, batch)
            return removed + _unlink(client, batch)
        finally:
            client.close()

    def clean_up_report(self) -> str:
        """Remove what the run wrote to Redis (however it ended); the line saying so."""
        removed = self.clean_up()
        return (
            f"redis: the demo wrote {plural(removed, 'key')} under {self.pattern} "
            f"({self.made} namespaces of its own); removed them."
        )


_CLEANUP_TIMEOUT = 5.0  # seconds per command: a clean-up at the end may take a moment


def _unlink(client: Any, keys: list[Any]) -> int:
    """UNLINK keys one by one (a Cluster's keys live on several slots); empties the list."""
    removed = sum(int(client.unlink(key)) for key in keys)
    keys.clear()
    return removed


def _describe(redis_url: str | None) -> str:
    if redis_url is None:
        return "L1 only, a fresh memo.MemoryStore per scenario"
    where = redis_url.partition("://")[2].rpartition("@")[2]
    return f"L1 + L2 (Redis at {where}), a fresh namespace per scenario"


# -- the scenarios ------------------------------------------------------------------------


def _uncached(db: ProductDB, workload: Sequence[int]) -> ScenarioResult:
    db.reset_calls()
    latencies, wall = _time_sync(_loader(db), workload)
    return _result("uncached", "uncached", db, stats=None, latencies=latencies, wall=wall)


def _cached_sync(db: ProductDB, workload: Sequence[int], stores: Stores) -> ScenarioResult:
    db.reset_calls()
    load_product = memo.cached(ttl=TTL, store=stores(db))(_loader(db))
    latencies, wall = _time_sync(load_product, workload)
    return _result(
        "cached", "@cached", db, stats=load_product.stats, latencies=latencies, wall=wall
    )


def _uncached_async(db: ProductDB, workload: Sequence[int], tasks: int) -> ScenarioResult:
    db.reset_calls()
    latencies, wall = asyncio.run(_time_tasks(_async_loader(db), workload, tasks))
    label = f"uncached async ({plural(tasks, 'task')})"
    return _result("uncached-async", label, db, stats=None, latencies=latencies, wall=wall)


def _cached_async(
    db: ProductDB, workload: Sequence[int], tasks: int, stores: Stores
) -> ScenarioResult:
    db.reset_calls()
    load_product = memo.cached(ttl=TTL, store=stores(db))(_async_loader(db))
    latencies, wall = asyncio.run(_time_tasks(load_product, workload, tasks))
    label = f"@cached async ({plural(tasks, 'task')})"
    return _result(
        "cached-async", label, db, stats=load_product.stats, latencies=latencies, wall=wall
    )


def _stampede(
    db: ProductDB, product_id: int, threads: int, stores: Stores, *, lock: bool
) -> ScenarioResult:
    db.reset_calls()
    load_product = memo.cached(ttl=TTL, store=stores(db), lock=lock)(_loader(db))
    latencies, wall = _time_threads(load_product, product_id, threads)
    name = "stampede-lock" if lock else "stampede-nolock"
    label = f"stampede lock={lock} ({plural(threads, 'thread')})"
    return _result(name, label, db, stats=load_product.stats, latencies=latencies, wall=wall)


def _result(
    name: str,
    label: str,
    db: ProductDB,
    *,
    stats: memo.Stats | None,
    latencies: list[float],
    wall: float,
) -> ScenarioResult:
    ordered = sorted(latencies)
    return ScenarioResult(
        name=name,
        label=label,
        calls=len(latencies),
        db_calls=db.calls,
        stats=None if stats is None else stats.snapshot(),
        p50_ms=percentile(ordered, 0.50) * 1000,
        p95_ms=percentile(ordered, 0.95) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        wall_s=wall,
    )


# -- timing: one loop per way of calling ----------------------------------------------------


def _time_sync(load: Load, workload: Sequence[int]) -> tuple[list[float], float]:
    """Each call's latency and the whole run's wall time, calling one after another."""
    clock = time.perf_counter
    latencies: list[float] = []
    start = clock()
    for product_id in workload:
        began = clock()
        load(product_id)
        latencies.append(clock() - began)
    return latencies, clock() - start


async def _time_tasks(
    load: ALoad, workload: Sequence[int], tasks: int
) -> tuple[list[float], float]:
    """As `_time_sync`, with `tasks` asyncio tasks taking ids from one shared queue."""
    clock = time.perf_counter
    latencies: list[float] = []
    ids = iter(workload)

    async def worker() -> None:
        for product_id in ids:  # next() never awaits, so each id goes to one task
            began = clock()
            await load(product_id)
            latencies.append(clock() - began)

    start = clock()
    await asyncio.gather(*(worker() for _ in range(max(1, min(tasks, len(workload))))))
    return latencies, clock() - start


def _time_threads(load: Load, product_id: int, threads: int) -> tuple[list[float], float]:
    """`threads` threads released together by a barrier, each calling load(product_id) once."""
    clock = time.perf_counter
    barrier = threading.Barrier(threads)
    latencies: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            began = clock()
            load(product_id)
            latencies.append(clock() - began)
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    pool = [threading.Thread(target=worker, name=f"memo-demo-{i}") for i in range(threads)]
    start = clock()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, clock() - start
