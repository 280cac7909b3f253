"""Suite `stampede`: 4 processes x 8 threads miss one cold key together; memo runs it once.

Four spawned processes each configure memo on one private redis-server (L1 over L2, with a
secret), warm up (events subscription, connections) and wait. Each round the parent hands
them a fresh key; their 32 threads wait on one cross-process barrier, whose last party is
the parent itself, and call `slow(k)`: 50 ms of work that counts its runs in shared memory.
Reported per round: how many runs (target: 1), when the last caller was done relative to
the first call (target: <= 100 ms), and the Redis commands per caller from
`INFO commandstats` deltas taken just before the barrier opens and after every caller is
done (target: <= 4). The figures are medians over the rounds.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import threading
import time
import traceback
import uuid
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from typing import Any

import memo
from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings
from bench.l2_hit import command_stats, count_commands, redis_server

__all__ = ["run", "serve", "slow"]

PROCESSES = 4
THREADS = 8
COMPUTE_SECONDS = 0.05
SECRET = "bench-secret"
TARGET_SPAN_MS = 100.0
TARGET_COMMANDS = 4.0
TIMEOUT = 30.0
CTX = multiprocessing.get_context("spawn")


class _Runs:
    """This process's handle on the shared run counter (set by `serve`)."""

    counter: Synchronized[int] | None = None


@memo.cached(ttl=300)
def slow(k: int) -> dict[str, int]:
    """50 ms of work; counts its runs across the processes."""
    time.sleep(COMPUTE_SECONDS)
    counter = _Runs.counter
    assert counter is not None
    with counter.get_lock():
        counter.value += 1
    return {"k": k, "pid": os.getpid()}


# -- in each worker process ------------------------------------------------------------------------


def _warm() -> None:
    """The events subscription up (L1 is used once it is) and the client connected."""
    from memo._runtime.settings import settings

    store = settings.store
    assert isinstance(store, memo.TieredStore)
    store.redis.events.ensure_started()
    deadline = time.monotonic() + TIMEOUT
    while not store.redis.events.healthy and time.monotonic() < deadline:
        time.sleep(0.005)
    store.redis.client.ping()


def _round(barrier: Barrier, k: int) -> dict[str, Any]:
    """THREADS threads call slow(k) as the barrier opens: (start, end) per caller, values."""
    times: list[tuple[float, float]] = []
    values: list[Any] = []
    errors: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            barrier.wait(TIMEOUT)
            start = time.monotonic()
            value = slow(k)
            end = time.monotonic()
            with lock:
                times.append((start, end))
                values.append(value)
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    return {"times": times, "values": values, "errors": errors}


def serve(
    conn: Connection, url: str, namespace: str, barrier: Barrier, counter: Synchronized[int]
) -> None:
    """A worker's main: configure memo, warm up, then run rounds until told to stop."""
    try:
        _Runs.counter = counter
        memo.configure(redis_url=url, namespace=namespace, secret=SECRET)
        _warm()
        conn.send(("ready", None))
        while True:
            message = conn.recv()
            if message is None:
                break
            conn.send(("done", _round(barrier, message)))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        memo.configure()


# -- in the parent ---------------------------------------------------------------------------------


def _expect(conn: Connection, kind: str) -> Any:
    """The next message of a worker, which must be `kind`."""
    if not conn.poll(TIMEOUT * 2):
        raise RuntimeError(f"stampede worker: no {kind!r} within {TIMEOUT * 2:.0f} s")
    got, payload = conn.recv()
    if got != kind:
        raise RuntimeError(f"stampede worker failed:\n{payload}")
    return payload


def _one_round(
    server: Any, conns: list[Connection], barrier: Barrier, counter: Any, k: int
) -> dict[str, Any]:
    """Release 32 callers on a cold key; what happened."""
    runs_before = counter.value
    for conn in conns:
        conn.send(k)
    time.sleep(0.05)  # let the threads reach the barrier (they wait for the parent anyway)
    before = command_stats(server)
    barrier.wait(TIMEOUT)
    outcomes = [_expect(conn, "done") for conn in conns]
    commands = count_commands(server, before)
    errors = [e for o in outcomes for e in o["errors"]]
    if errors:
        raise RuntimeError("stampede caller failed:\n" + errors[0])
    times = [t for o in outcomes for t in o["times"]]
    values = [v for o in outcomes for v in o["values"]]
    first = min(start for start, _ in times)
    last = max(end for _, end in times)
    callers = PROCESSES * THREADS
    return {
        "runs": counter.value - runs_before,
        "callers": len(times),
        "same_value": all(v == values[0] for v in values),
        "span_ms": (last - first) * 1000,
        "commands_per_caller": sum(commands.values()) / callers,
        "commands": commands,
    }


def _rounds(server: Any, rounds: int) -> list[dict[str, Any]]:
    """Start the workers, run a warm-up round and `rounds` measured ones, stop the workers."""
    namespace = f"stampede{uuid.uuid4().hex[:8]}"
    barrier = CTX.Barrier(PROCESSES * THREADS + 1)
    counter = CTX.Value("i", 0)
    pipes = [CTX.Pipe() for _ in range(PROCESSES)]
    workers = [
        CTX.Process(
            target=serve, args=(child, server.url, namespace, barrier, counter), daemon=True
        )
        for _, child in pipes
    ]
    conns = [parent for parent, _ in pipes]
    for worker in workers:
        worker.start()
    try:
        for conn in conns:
            _expect(conn, "ready")
        _one_round(server, conns, barrier, counter, -1)  # warm-up: connection pools fill
        return [_one_round(server, conns, barrier, counter, k) for k in range(rounds)]
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
                worker.join(5)


def _breakdown(rounds: list[dict[str, Any]]) -> str:
    """Commands per caller by name, over every round."""
    totals: dict[str, int] = {}
    for r in rounds:
        for name, calls in r["commands"].items():
            totals[name] = totals.get(name, 0) + calls
    callers = PROCESSES * THREADS * len(rounds)
    return ", ".join(f"{name} {calls / callers:.2f}" for name, calls in sorted(totals.items()))


def run(settings: Settings) -> SuiteResult:
    """Start a server, run the rounds, stop the server; one table."""
    count = 3 if settings.quick else 5
    with redis_server() as server:
        rounds = _rounds(server, count)
    runs = [r["runs"] for r in rounds]
    spans = [r["span_ms"] for r in rounds]
    per_caller = [r["commands_per_caller"] for r in rounds]
    title = (
        f"Stampede: {PROCESSES} processes x {THREADS} threads on a cold key, "
        f"{COMPUTE_SECONDS * 1000:.0f} ms function, L1+L2 -- median of {count} rounds"
    )
    table = Table(title, ["measure", "median", "per round", "target", "verdict"])
    runs_ok = all(r == 1 for r in runs)
    table.rows = [
        [
            "runs of the function",
            f"{statistics.median(runs):g}",
            " ".join(map(str, runs)),
            "1",
            "PASS" if runs_ok else "MISS",
        ],
        [
            "last caller done, ms after first call",
            f"{statistics.median(spans):.1f}",
            " ".join(f"{s:.1f}" for s in spans),
            f"<= {TARGET_SPAN_MS:.0f}",
            verdict(statistics.median(spans), TARGET_SPAN_MS),
        ],
        [
            "Redis commands per caller",
            f"{statistics.median(per_caller):.2f}",
            " ".join(f"{c:.2f}" for c in per_caller),
            f"<= {TARGET_COMMANDS:.0f}",
            verdict(statistics.median(per_caller), TARGET_COMMANDS),
        ],
    ]
    table.notes = [
        f"every caller got the value: {all(r['callers'] == PROCESSES * THREADS for r in rounds)}"
        f"; all the same: {all(r['same_value'] for r in rounds)}",
        f"commands per caller by name: {_breakdown(rounds)} (INFO excluded; commandstats "
        "also counts what a Lua script runs: memo's write script is evalsha + get, del, set, "
        "publish; anything in the window counts, connection set-up and PINGs included)",
        f"last caller done X ms after the first call: the function alone takes "
        f"{COMPUTE_SECONDS * 1000:.0f} ms; warm processes (subscribed, connected), cold key",
    ]
    return SuiteResult([table], {"rounds": rounds})
