"""`memo demo`: the demo's workload plus the write-through and refresh-ahead patterns.

`memo._demo.workload.run_demo()` runs the no-cache, `@cached` and stampede scenarios; this
module adds two pairs, each a pattern next to the plain `@cached` it improves on:

- writes: the Zipf workload of reads with one price update every `WRITE_EVERY` calls. With
  the updates going straight to the database, a `@cached` reader serves stale prices; with
  `@memo.write_through(reader)` the update's result becomes the reader's value, so no read
  after an update is stale, and the database still sees few reads.
- a hot key read in a loop for `HOT_WINDOWS` TTL windows, with real time kept short (a TTL of
  a quarter second). `@cached` makes one caller per window wait for the recompute;
  `@memo.refresh_ahead(refresh_at=0.8)` recomputes in the background before expiry, so after
  warm-up no caller waits.

The table puts every scenario in one list; `--plot` draws their latencies (`_demo/plot.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import memo
from memo._cli.app import (
    EXIT_OK,
    CommandError,
    add_global_options,
    non_negative_float,
    positive_int,
)
from memo._demo import workload as _demo
from memo._demo.db import Product, ProductDB, zipf_workload
from memo._demo.plot import FORMATS, Row, plot_latencies, recording, require_matplotlib
from memo._demo.report import SPARED, _header, _summary, format_table
from memo._demo.workload import TTL, DemoResult, Progress, ScenarioResult, Stores, plural
from memo._runtime.refresher import REFRESHER

__all__ = ["HotKeyResult", "PatternResults", "WriteResult", "add", "run_patterns"]

WRITE_EVERY = 20  # one update per this many calls of the write workload
HOT_WINDOWS = 5  # TTL windows the hot key is read over
HOT_MIN_TTL = 0.25  # seconds; at least 12 query latencies, so a refresh ends before expiry
REFRESH_AT = 0.8
HOT_PAUSE = 0.001  # seconds between two reads of the hot key


def add(commands: Any) -> None:
    """Add `memo demo`."""
    parser = commands.add_parser(
        "demo",
        help="run a workload against a slow SQLite database, uncached and cached",
        description="Build a SQLite database of products with simulated query latency and run "
        "it uncached, through @memo.cached (sync and async), with updates (bypassing the "
        "cache, then through @memo.write_through), on a hot key over short TTL windows "
        "(@memo.cached, then @memo.refresh_ahead) and as a stampede of threads on one cold "
        "key; print latency percentiles, hit rates and how many times the database was "
        "reached. L1 only by default; L1 + L2 with --redis-url.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    parser.add_argument("--calls", type=positive_int, default=2000, help="calls in the workload")
    parser.add_argument("--keys", type=positive_int, default=1000, help="products in the database")
    parser.add_argument(
        "--latency-ms",
        type=non_negative_float,
        default=2.0,
        help="simulated latency of each database query, in milliseconds",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the workload")
    parser.add_argument("--threads", type=positive_int, default=8, help="threads in the stampede")
    parser.add_argument("--tasks", type=positive_int, default=32, help="concurrent asyncio tasks")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=Path,
        default=argparse.SUPPRESS,
        help="also draw each scenario's latency distribution into this image (.png, .svg or "
        ".pdf; needs matplotlib: pip install 'memo-cache[plot]')",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run every scenario, print the report; draw the plot if asked."""
    plot: Path | None = getattr(args, "plot", None)
    if plot is not None:
        _check_plot_target(plot)
    stores = _demo.DemoStores(args.redis_url)
    try:
        _run(args, plot, stores)
    finally:
        if stores.made:  # say where the demo wrote, and that it is gone
            print(stores.clean_up_report())
    return EXIT_OK


def _run(args: argparse.Namespace, plot: Path | None, stores: _demo.DemoStores) -> None:
    say = _progress if sys.stderr.isatty() else None
    samples: dict[str, list[float]] = {}
    with recording(samples) if plot is not None else contextlib.nullcontext():
        result = _demo.run_demo(
            calls=args.calls,
            keys=args.keys,
            latency_ms=args.latency_ms,
            seed=args.seed,
            threads=args.threads,
            tasks=args.tasks,
            progress=say,
            redis_url=args.redis_url,
            stores=stores,
        )
        patterns = run_patterns(
            calls=args.calls,
            keys=args.keys,
            latency_ms=args.latency_ms,
            seed=args.seed,
            progress=say,
            redis_url=args.redis_url,
            stores=stores,
        )
    scenarios = _ordered(result, patterns)
    sys.stdout.write(format_report(result, patterns, scenarios))
    if plot is not None:
        warmups = {
            h.scenario.name: h.warmup_calls for h in (patterns.hot_cached, patterns.refresh_ahead)
        }
        rows = [
            Row(s.name, s.label, samples[s.name], warmups.get(s.name, 1), s.calls, s.db_calls)
            for s in scenarios
            if s.name in samples
        ]
        plot_latencies(rows, plot, title=_plot_title(result))
        print(f"plot: latency and DB calls per scenario written to {plot}")


def _progress(message: str) -> None:
    print(f"memo demo: {message} ...", file=sys.stderr, flush=True)


def _check_plot_target(path: Path) -> None:
    """Fail before the run, not after it: matplotlib missing, a bad suffix or directory."""
    require_matplotlib()  # ConfigurationError naming the `plot` extra when it is missing
    if path.suffix.lower() not in FORMATS:
        raise CommandError(
            f"--plot {path}: the file name must end in {', '.join(FORMATS)}, e.g. latency.png"
        )
    if not path.parent.is_dir():
        raise CommandError(f"--plot {path}: directory {str(path.parent)!r} does not exist")


# -- the two patterns ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Reads with updates: the reads' numbers, how many updates, how many reads were stale."""

    scenario: ScenarioResult
    writes: int
    stale: int


@dataclass(frozen=True, slots=True)
class HotKeyResult:
    """A hot key over several TTL windows: recomputes, and the calls after the first window
    (the warm-up) that waited, with the slowest of them."""

    scenario: ScenarioResult
    recomputes: int
    waited: int  # calls after the warm-up window that waited for a recompute (missed)
    warmup_calls: int  # calls in the first TTL window
    max_after_warmup_ms: float


@dataclass(frozen=True, slots=True)
class PatternResults:
    """The write-through and refresh-ahead scenarios with the plain `@cached` they improve on."""

    bypass: WriteResult
    write_through: WriteResult
    hot_cached: HotKeyResult
    refresh_ahead: HotKeyResult
    ttl: float
    windows: int
    query_ms: float

    @property
    def scenarios(self) -> tuple[ScenarioResult, ...]:
        """Their table rows, in order."""
        parts = (self.bypass, self.write_through, self.hot_cached, self.refresh_ahead)
        return tuple(part.scenario for part in parts)


def run_patterns(
    *,
    calls: int = 2000,
    keys: int = 1000,
    latency_ms: float = 2.0,
    seed: int = 0,
    progress: Progress | None = None,
    redis_url: str | None = None,
    windows: int = HOT_WINDOWS,
    ttl: float | None = None,
    stores: _demo.DemoStores | None = None,
) -> PatternResults:
    """Run the write and hot-key scenarios (see the module docstring)."""
    say = progress or (lambda _message: None)
    stores = stores if stores is not None else _demo.DemoStores(redis_url)
    workload = zipf_workload(calls, keys, seed)
    writes = calls // WRITE_EVERY
    say(f"@cached, {plural(writes, 'update')} straight to the database")
    bypass = _writes(keys, latency_ms, seed, workload, stores, through=False)
    say(f"@memo.write_through, {plural(writes, 'update')}")
    through = _writes(keys, latency_ms, seed, workload, stores, through=True)
    query_ms = max(latency_ms, _demo.STAMPEDE_MIN_LATENCY_MS)
    hot_ttl = ttl if ttl is not None else max(HOT_MIN_TTL, 12 * query_ms / 1000)
    with ProductDB(keys, query_ms / 1000, seed) as slow_db:
        say(f"hot key, @cached, ttl {hot_ttl:g} s x {windows} windows")
        hot = _hot_key(slow_db, workload[0], stores, hot_ttl, windows, ahead=False)
        say(f"hot key, @memo.refresh_ahead, ttl {hot_ttl:g} s x {windows} windows")
        ahead = _hot_key(slow_db, workload[0], stores, hot_ttl, windows, ahead=True)
    return PatternResults(bypass, through, hot, ahead, hot_ttl, windows, query_ms)


class _WritableDB(ProductDB):
    """ProductDB with price updates, counted apart from the reads."""

    def __init__(self, size: int, latency: float, seed: int) -> None:
        super().__init__(size, latency, seed)
        self.writes = 0

    def update(self, product_id: int, price: float) -> Product | None:
        """Set a product's price and return the updated row, after the simulated latency."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.writes += 1
            with self._connection:
                self._connection.execute(
                    "UPDATE products SET price = ? WHERE id = ?", (price, product_id)
                )
            row = self._connection.execute(
                "SELECT id, name, price FROM products WHERE id = ?", (product_id,)
            ).fetchone()
        return None if row is None else Product(*row)


def _writes(
    keys: int,
    latency_ms: float,
    seed: int,
    workload: Sequence[int],
    stores: Stores,
    *,
    through: bool,
) -> WriteResult:
    """Read the workload, updating one product's price every WRITE_EVERY calls."""
    db = _WritableDB(keys, latency_ms / 1000, seed)
    with db:
        load_product = memo.cached(ttl=TTL, store=stores(db))(_demo._loader(db))

        def update_price(product_id: int, price: float) -> Product | None:
            return db.update(product_id, price)

        update = memo.write_through(load_product)(update_price) if through else update_price
        rng, truth, stale = random.Random(seed), {}, 0
        clock, latencies = time.perf_counter, []
        start = clock()
        for i, product_id in enumerate(workload, 1):
            if i % WRITE_EVERY == 0:  # update the product about to be read
                truth[product_id] = round(rng.uniform(2, 500), 2)
                update(product_id, truth[product_id])
            began = clock()
            product = load_product(product_id)
            latencies.append(clock() - began)
            stale += product is not None and truth.get(product_id, product.price) != product.price
        wall = clock() - start
        name, label = ("write-through", "write-through") if through else _BYPASS
        scenario = _demo._result(
            name, label, db, stats=load_product.stats, latencies=latencies, wall=wall
        )
        return WriteResult(scenario, db.writes, stale)


_BYPASS = ("cached-writes", "@cached, updates bypass it")


def _hot_key(
    db: ProductDB, product_id: int, stores: Stores, ttl: float, windows: int, *, ahead: bool
) -> HotKeyResult:
    """Read one key in a loop for `windows` TTLs: every expiry is a recompute.

    The first window is the warm-up: the cold miss, and (refresh-ahead) the first background
    refresh, which starts memo's refresher threads in this process.
    """
    db.reset_calls()
    store = stores(db)
    if ahead:
        decorator = memo.refresh_ahead(ttl=ttl, refresh_at=REFRESH_AT, store=store)
    else:
        decorator = memo.cached(ttl=ttl, store=store)
    load_product = decorator(_demo._loader(db))
    stats = load_product.stats
    gc.collect()  # a full collection now, not as a pause in the middle of the windows
    clock, latencies = time.perf_counter, []
    start = clock()
    warm_end, end = start + ttl, start + ttl * windows
    warm_calls = warm_misses = 0
    while (began := clock()) < end:
        load_product(product_id)
        latencies.append(clock() - began)
        if began < warm_end:
            warm_calls, warm_misses = len(latencies), stats.misses
        time.sleep(HOT_PAUSE)
    _settle(db)
    wall = clock() - start
    name = "refresh-ahead" if ahead else "cached-hot"
    kind = "refresh-ahead" if ahead else "@cached"
    label = f"{kind} ttl={ttl:g}s (hot key)"
    scenario = _demo._result(name, label, db, stats=stats, latencies=latencies, wall=wall)
    return HotKeyResult(
        scenario,
        recomputes=max(scenario.db_calls - 1, 0),
        waited=stats.misses - warm_misses,
        warmup_calls=warm_calls,
        max_after_warmup_ms=max(latencies[warm_calls:], default=0.0) * 1000,
    )


def _settle(db: ProductDB, timeout: float = 2.0) -> None:
    """Wait for a background refresh still running, so its query is counted."""

    deadline = time.monotonic() + max(timeout, 4 * db.latency)
    while REFRESHER.pending() and time.monotonic() < deadline:
        time.sleep(0.005)


# -- the report ------------------------------------------------------------------------------


def _ordered(result: DemoResult, patterns: PatternResults) -> list[ScenarioResult]:
    """Table order: the workload scenarios, the patterns, then the stampede."""
    first = [s for s in result.scenarios if not s.name.startswith("stampede")]
    last = [s for s in result.scenarios if s.name.startswith("stampede")]
    return [*first, *patterns.scenarios, *last]


def format_report(
    result: DemoResult, patterns: PatternResults, scenarios: Sequence[ScenarioResult]
) -> str:
    """The whole report as printed by `memo demo` (ends with a newline)."""
    lines = [
        *_header(result),
        "",
        format_table(scenarios),
        SPARED,
        "",
        *_summary(result),
        *_pattern_lines(patterns),
    ]
    return "\n".join(lines) + "\n"


def _pattern_lines(p: PatternResults) -> list[str]:
    through, bypass = p.write_through, p.bypass
    hot, ahead = p.hot_cached, p.refresh_ahead
    return [
        f"write-through, {plural(through.writes, 'update')} among {through.scenario.calls:,} "
        f"reads: {plural(through.stale, 'stale read')} and "
        f"{plural(through.scenario.db_calls, 'DB read')};",
        f"  with the updates bypassing @cached: {plural(bypass.stale, 'stale read')}.",
        f"hot key, ttl {p.ttl:g} s over {p.windows} windows, {p.query_ms:g} ms query, after "
        "the first window (warm-up):",
        f"  @cached: {plural(hot.waited, 'caller')} waited for a recompute, slowest call "
        f"{hot.max_after_warmup_ms:.3f} ms;",
        f"  refresh-ahead: {plural(ahead.waited, 'caller')} waited, slowest call "
        f"{ahead.max_after_warmup_ms:.3f} ms, {plural(ahead.recomputes, 'recompute')} "
        "in the background.",
    ]


def _plot_title(result: DemoResult) -> str:
    return (
        f"memo demo: latency per call ({result.latency_ms:g} ms query, "
        f"{result.calls:,} calls, seed {result.seed}; {result.store.split(',')[0]})"
    )
