"""Suite `scaling`: how memo's costs grow with processes, entries and callers; with a plot.

Three tables, then a PNG with the three curves (`--plot FILE`, default `bench-scaling.png` in
the working directory; `python -m bench` writes the default or `$BENCH_SCALING_PLOT`):

1. L2-hit throughput with 1, 2, 4 and 8 processes, each calling in a tight loop for a fixed
   time: memo over a bare `memo.RedisStore` (every call one GET, HMAC check, unpickling of a
   ~200-byte dict) against raw redis-py `GET` + `pickle.loads` of the same value, at the same
   process count, on one private redis-server. Calls/s summed over the processes; median
   over the repeats, memo and raw interleaved.
2. L1-hit cost at 1k, 100k and 1M entries: `memo.configure(l1_maxsize=...)`, filled by direct
   calls, then hits on keys drawn at random over the whole fill (ns/call, harness timing).
   The fill has a time budget; when it runs out the row says how many entries it holds.
3. Stampede as callers grow (8, 32, 128, 256) on a cold key with a 50 ms function, L1+L2:
   all threads in one process, and 4 processes x N/4 threads. Runs of the function (target
   1), the last caller done after the first call, Redis commands per caller (INFO
   commandstats deltas; idle workers' PINGs included).

The worker processes (spawned once, 8 of them) serve both the throughput and the stampede
rows; they start together at a wall-clock instant the parent sets (`time.time()`).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import pickle
import random
import statistics
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import memo
from bench import _harness as h
from bench._report import SuiteResult, Table
from bench._settings import Settings
from bench.l2_hit import SECRET, VALUE, command_stats, count_commands, redis_server

__all__ = ["main", "run", "slow", "work"]

PROCESSES = (1, 2, 4, 8)
ENTRIES = (1_000, 100_000, 1_000_000)
QUICK_ENTRIES = (1_000, 10_000, 100_000)
CALLERS = (8, 32, 128, 256)
STAMPEDE_PROCESSES = 4
COMPUTE_SECONDS = 0.05
FILL_BUDGET = 25.0  # seconds for filling L1 at one size
TIMEOUT = 30.0
LEAD = 0.3  # seconds between the parent's "go" and the common start instant
RAW_KEY = "memo:bench:scaling:raw"
DEFAULT_PLOT = "bench-scaling.png"
CTX = multiprocessing.get_context("spawn")


class _Runs:
    """This process's handle on the shared run counter (set by `work`)."""

    counter: Synchronized[int] | None = None


@memo.cached(ttl=300)
def slow(k: str) -> dict[str, Any]:
    """50 ms of work; counts its runs across the processes."""
    time.sleep(COMPUTE_SECONDS)
    counter = _Runs.counter
    assert counter is not None
    with counter.get_lock():
        counter.value += 1
    return {"k": k, "pid": os.getpid()}


# -- in each worker process ------------------------------------------------------------------------


def _sleep_until(instant: float) -> None:
    """Sleep until the wall clock reads `instant`."""
    time.sleep(max(0.0, instant - time.time()))


def _loop(call: Any, start_at: float, seconds: float) -> int:
    """Call `call()` from `start_at` for `seconds`; how many calls completed."""
    _sleep_until(start_at)
    end = start_at + seconds
    count = 0
    while time.time() < end:
        for _ in range(20):
            call()
        count += 20
    return count


def _stampede(k: str, threads: int, start_at: float) -> dict[str, Any]:
    """`threads` threads call slow(k) at `start_at`: (start, end) per caller, values, errors."""
    times: list[tuple[float, float]] = []
    values: list[Any] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads)

    def caller() -> None:
        try:
            ready.wait(TIMEOUT)
            _sleep_until(start_at)
            start = time.time()
            value = slow(k)
            end = time.time()
            with lock:
                times.append((start, end))
                values.append(value)
        except Exception:
            errors.append(traceback.format_exc())

    degraded = slow.stats.errors
    pool = [threading.Thread(target=caller) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(TIMEOUT * 2)
    degraded = slow.stats.errors - degraded
    return {"times": times, "values": values, "errors": errors, "degraded": degraded}


def work(conn: Connection, url: str, namespace: str, counter: Synchronized[int]) -> None:
    """A worker's main: set up memo (L1+L2) and the L2-only callers, then serve requests."""
    import redis

    from memo._runtime.settings import settings

    try:
        _Runs.counter = counter
        memo.configure(redis_url=url, namespace=namespace, secret=SECRET)
        l2_only = memo.RedisStore(url, namespace=f"{namespace}l2", secret=SECRET)

        def f(a: int) -> Any:
            return VALUE

        cached: Callable[[int], Any] = memo.cached(ttl=300, store=l2_only)(f)
        client = redis.Redis.from_url(url)
        get: Callable[[str], Any] = client.get
        loads = pickle.loads
        calls: dict[str, Callable[[], Any]] = {
            "memo": lambda: cached(1),
            "raw": lambda: loads(get(RAW_KEY)),
        }
        for call in calls.values():
            call()
        store = settings.store
        assert isinstance(store, memo.TieredStore)
        store.redis.events.ensure_started()
        store.redis.client.ping()
        conn.send(("ready", None))
        while (message := conn.recv()) is not None:
            if message[0] == "loop":
                _, kind, start_at, seconds = message
                conn.send(("done", _loop(calls[kind], start_at, seconds)))
            else:
                _, k, threads, start_at = message
                conn.send(("done", _stampede(k, threads, start_at)))
        l2_only.close()
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        memo.configure()


# -- in the parent ---------------------------------------------------------------------------------


class Workers:
    """`count` spawned workers on one server; requests go to the first n of them."""

    def __init__(self, server: Any, count: int) -> None:
        self.server = server
        self.counter = CTX.Value("i", 0)
        namespace = f"scaling{uuid.uuid4().hex[:8]}"
        pipes = [CTX.Pipe() for _ in range(count)]
        self.procs = [
            CTX.Process(target=work, args=(child, server.url, namespace, self.counter), daemon=True)
            for _, child in pipes
        ]
        self.conns = [parent for parent, _ in pipes]
        for proc in self.procs:
            proc.start()
        for conn in self.conns:
            self._expect(conn)

    @staticmethod
    def _expect(conn: Connection) -> Any:
        """The next reply of a worker, or the worker's traceback as an error."""
        if not conn.poll(TIMEOUT * 2):
            raise RuntimeError(f"scaling worker: no reply within {TIMEOUT * 2:.0f} s")
        kind, payload = conn.recv()
        if kind == "error":
            raise RuntimeError(f"scaling worker failed:\n{payload}")
        return payload

    def ask(self, n: int, *message: Any) -> list[Any]:
        """Send `message` to the first n workers; their replies."""
        for conn in self.conns[:n]:
            conn.send(message)
        return [self._expect(conn) for conn in self.conns[:n]]

    def close(self) -> None:
        """Tell the workers to stop; terminate stragglers."""
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def _throughput(workers: Workers, settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Calls/s of memo L2 hits and raw GET+loads at 1..8 processes, interleaved."""
    seconds = 0.5 if settings.quick else 1.0
    repeats = 1 if settings.quick else 3
    samples: dict[tuple[str, int], list[float]] = {}
    for repeat in range(repeats):
        for n in PROCESSES:
            kinds = ("memo", "raw") if (repeat + n) % 2 else ("raw", "memo")
            for kind in kinds:
                start_at = time.time() + LEAD
                counts = workers.ask(n, "loop", kind, start_at, seconds)
                samples.setdefault((kind, n), []).append(sum(counts) / seconds)
    rate = {key: statistics.median(values) for key, values in samples.items()}
    title = (
        f"L2-hit throughput: calls/s summed over N processes, {seconds:g} s per run, "
        f"median of {repeats} interleaved runs"
    )
    table = Table(title, ["processes", "memo calls/s", "raw calls/s", "memo/raw", "per process"])
    for n in PROCESSES:
        memo_rate, raw_rate = rate[("memo", n)], rate[("raw", n)]
        ratio = memo_rate / raw_rate
        cells = [f"{memo_rate:,.0f}", f"{raw_rate:,.0f}", f"{ratio:.2f}", f"{memo_rate / n:,.0f}"]
        table.rows.append([str(n), *cells])
    table.notes = [
        "memo: memo.cached(store=RedisStore) (no L1): GET + HMAC check + unpickle, ~200 B value;"
        " raw: redis-py r.get(key) + pickle.loads of the same value",
        "memo/raw > 1 means memo serves more calls/s; the redis-server and every process share "
        f"the machine's {os.cpu_count()} CPUs",
    ]
    data = {f"{kind}:{n}": rate[(kind, n)] for kind, n in rate}
    return table, data


def _l1_row(n: int, settings: Settings) -> tuple[int, float, h.Timing]:
    """Fill L1 with up to n entries (time budget), then time random hits; (held, fill s, t)."""
    memo.configure(l1_maxsize=n)

    def ident(k: int) -> int:
        return k

    f = memo.cached(ttl=300)(ident)
    start = time.perf_counter()
    filled = 0
    while filled < n and time.perf_counter() - start < FILL_BUDGET:
        for k in range(filled, min(n, filled + 1_000)):
            f(k)
        filled = min(n, filled + 1_000)
    fill_seconds = time.perf_counter() - start
    rng = random.Random(n)
    keys = [rng.randrange(filled) for _ in range(settings.number)]

    def loop(count: int) -> None:
        for k in keys:
            f(k)

    (timing,) = h.time_sync(
        {f"{n}": loop}, repeats=settings.repeats, number=settings.number, inner=settings.inner
    )
    misses = f.stats.misses
    assert misses == filled, f"L1 lost entries: {misses} misses for {filled} entries"
    memo.configure()
    return filled, fill_seconds, timing


def _l1(settings: Settings) -> tuple[Table, dict[str, Any]]:
    """L1 hit ns/call as the number of entries grows."""
    sizes = QUICK_ENTRIES if settings.quick else ENTRIES
    rows = [(n, *_l1_row(n, settings)) for n in sizes]
    base = rows[0][3].median
    title = (
        f"L1 hit cost by entries held: f(k), k random over the fill -- ns/call, median of "
        f"{settings.repeats} repeats x best of {settings.inner} batches x {settings.number:,}"
    )
    table = Table(title, ["l1_maxsize", "entries held", "ns/call", "min..max", "vs first", "fill"])
    for n, held, fill, t in rows:
        spread = f"{t.low:.0f}..{t.high:.0f}"
        cells = [f"{t.median:.0f}", spread, f"{t.median / base:.2f}", f"{fill:.1f} s"]
        table.rows.append([f"{n:,}", f"{held:,}", *cells])
    capped = [f"{n:,}" for n, held, _, _ in rows if held < n]
    table.notes = [
        "every timed call is an L1 hit (misses == entries filled, checked)",
        "loop overhead: an empty range loop is subtracted (the timed loop iterates a list)",
    ]
    if capped:
        table.notes.append(f"fill budget {FILL_BUDGET:.0f} s ran out at l1_maxsize {capped}")
    data = {
        str(n): {"held": held, "fill_s": fill, "median_ns": t.median} for n, held, fill, t in rows
    }
    return table, data


def _stampede_round(workers: Workers, procs: int, callers: int, k: str) -> dict[str, Any]:
    """`callers` threads over `procs` workers on the cold key k; what happened."""
    runs_before = workers.counter.value
    before = command_stats(workers.server)
    outcomes = workers.ask(procs, "stampede", k, callers // procs, time.time() + LEAD)
    commands = count_commands(workers.server, before)
    errors = [e for o in outcomes for e in o["errors"]]
    if errors:
        raise RuntimeError("stampede caller failed:\n" + errors[0])
    times = [t for o in outcomes for t in o["times"]]
    values = [v for o in outcomes for v in o["values"]]
    return {
        "runs": workers.counter.value - runs_before,
        "callers": len(times),
        "same_value": all(v == values[0] for v in values),
        "span_ms": (max(e for _, e in times) - min(s for s, _ in times)) * 1000,
        "commands_per_caller": sum(commands.values()) / callers,
        "degraded": sum(o["degraded"] for o in outcomes),
    }


def _stampedes(workers: Workers, settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Rounds per (layout, callers); medians."""
    rounds = 1 if settings.quick else 3
    title = (
        f"Stampede by callers: cold key, {COMPUTE_SECONDS * 1000:.0f} ms function, L1+L2 -- "
        f"median of {rounds} rounds"
    )
    header = ["layout", "callers", "runs", "last done, ms", "cmds/caller", "degraded", "all ok"]
    table = Table(title, header)
    data: dict[str, Any] = {}
    _stampede_round(workers, STAMPEDE_PROCESSES, 8, "warm-up")
    for procs in (1, STAMPEDE_PROCESSES):
        for callers in CALLERS:
            results = [
                _stampede_round(workers, procs, callers, uuid.uuid4().hex) for _ in range(rounds)
            ]
            layout = "1 process" if procs == 1 else f"{procs} processes"
            ok = all(r["callers"] == callers and r["same_value"] for r in results)
            span = statistics.median(r["span_ms"] for r in results)
            per_caller = statistics.median(r["commands_per_caller"] for r in results)
            runs = " ".join(str(r["runs"]) for r in results)
            degraded = " ".join(str(r["degraded"]) for r in results)
            cells = [runs, f"{span:.1f}", f"{per_caller:.2f}", degraded, str(ok)]
            table.rows.append([layout, str(callers), *cells])
            data[f"{procs}x{callers}"] = results
    table.notes = [
        "runs: one figure per round (target 1); last done: the last caller's return after "
        "the first call (the function alone takes 50 ms)",
        "cmds/caller: INFO commandstats delta over the round / callers (INFO excluded)",
        "degraded: callers whose call hit a Redis error and fell back (memo's stats.errors); "
        "redis-py 8's connection pool holds at most 100 connections per client by default, "
        "and memo treats its MaxConnectionsError as an outage",
    ]
    return table, data


def _plot(path: str, data: dict[str, Any]) -> None:
    """Three panels: throughput by processes, L1 ns by entries, stampede span by callers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.5))
    rates = data["throughput"]
    for kind, label in (("memo", "memo (L2 hit)"), ("raw", "redis-py GET + loads")):
        a.plot(PROCESSES, [rates[f"{kind}:{n}"] for n in PROCESSES], marker="o", label=label)
    a.set(xlabel="processes", ylabel="calls/s (sum)", title="L2-hit throughput", xticks=PROCESSES)
    a.set_ylim(bottom=0)
    a.legend()
    sizes = data["l1"]
    b.plot([v["held"] for v in sizes.values()], [v["median_ns"] for v in sizes.values()], "o-")
    b.set(xscale="log", xlabel="entries in L1", ylabel="ns/call", title="L1 hit cost")
    b.set_ylim(bottom=0)
    for procs in (1, STAMPEDE_PROCESSES):
        spans = [
            statistics.median(r["span_ms"] for r in data["stampede"][f"{procs}x{n}"])
            for n in CALLERS
        ]
        c.plot(CALLERS, spans, marker="o", label=f"{procs} process(es)")
    c.axhline(COMPUTE_SECONDS * 1000, color="grey", linestyle=":", label="the function alone")
    c.set(xscale="log", xlabel="callers", ylabel="last caller done, ms", title="Stampede")
    c.set_xticks(CALLERS, [str(n) for n in CALLERS])
    c.set_ylim(bottom=0)
    c.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(settings: Settings, plot: str | None = None) -> SuiteResult:
    """Start a server and the workers, run the three parts, write the plot."""
    path = plot or os.environ.get("BENCH_SCALING_PLOT") or DEFAULT_PLOT
    result = SuiteResult()
    with redis_server() as server:
        import redis

        client = redis.Redis.from_url(server.url)
        client.set(RAW_KEY, pickle.dumps(VALUE, pickle.HIGHEST_PROTOCOL))
        client.close()
        workers = Workers(server, max(PROCESSES))
        try:
            table, result.data["throughput"] = _throughput(workers, settings)
            result.tables.append(table)
            table, result.data["stampede"] = _stampedes(workers, settings)
            stampede_table = table
        finally:
            workers.close()
    table, result.data["l1"] = _l1(settings)
    result.tables += [table, stampede_table]
    _plot(path, result.data)
    result.tables[-1].notes.append(f"plot of the three curves written to {os.path.abspath(path)}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.scaling [--quick] [--plot FILE]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller L1 fills")
    parser.add_argument("--plot", metavar="FILE", default=DEFAULT_PLOT, help="PNG to write")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for table in run(Settings.make(quick=args.quick), plot=args.plot).tables:
        print(table.render(), end="\n\n")
    print(f"[suite scaling: {time.perf_counter() - start:.1f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
