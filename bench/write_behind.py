"""Suite `write_behind`: what a write costs its caller, write-behind against write-through.

Both writers make their result `get_user(user_id)`'s value (memory mode: L1 only). The
write-through writer upserts the row into a SQLite file and commits, once per write, as a
request handler would; the write-behind writer only builds the value, and its flusher
upserts whole batches (`executemany` + one commit). Reported:

- per-write call latency of each (median over repeats of the mean over a run of calls on
  1,000 keys), and write-through / write-behind (target: >= 20x). Two SQLite set-ups for
  write-through: the default rollback journal with `synchronous=FULL` (a durable commit,
  the target's baseline) and WAL with `synchronous=NORMAL` (no fsync per commit: the
  cheapest commit SQLite offers, shown for honesty).
- the flusher's sustained writes/s: a queue of distinct keys filled while the sink is held,
  then drained by `memo.flush()`, for batch_size 100 and 1,000.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import memo
from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings

__all__ = ["run"]

TARGET_RATIO = 20.0
KEYS = 1_000
SCHEMA = "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, version INTEGER)"
UPSERT = (
    "INSERT INTO users (id, name, version) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "name = excluded.name, version = excluded.version WHERE users.version < excluded.version"
)


def _connect(path: Path, *, wal: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(SCHEMA)
    conn.commit()
    return conn


def _reader() -> Any:
    @memo.cached(ttl=300)
    def get_user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "db"}

    return get_user


def _write_through(path: Path, *, wal: bool) -> Callable[[int, str], Any]:
    conn = _connect(path, wal=wal)
    versions = iter(range(1, 1 << 62))

    @memo.write_through(_reader())
    def update_user(user_id: int, name: str) -> dict[str, Any]:
        conn.execute(UPSERT, (user_id, name, next(versions)))
        conn.commit()
        return {"id": user_id, "name": name}

    return update_user


def _saver(path: Path, gate: threading.Event | None = None) -> Callable[[list[memo.Write]], None]:
    conn = _connect(path)

    def save_users(batch: list[memo.Write]) -> None:
        if gate is not None:
            gate.wait()
        rows = [(w.arguments["user_id"], w.value["name"], w.version) for w in batch]
        conn.executemany(UPSERT, rows)
        conn.commit()

    return save_users


def _write_behind(path: Path, batch_size: int = 100, gate: threading.Event | None = None) -> Any:
    @memo.write_behind(
        _reader(),
        flush=_saver(path, gate),
        batch_size=batch_size,
        interval=0.05,
        queue_size=10_000_000,
    )
    def update_user(user_id: int, name: str) -> dict[str, Any]:
        return {"id": user_id, "name": name}

    return update_user


def _per_call_us(writer: Callable[[int, str], Any], calls: int, start: int) -> float:
    """Mean microseconds per call over `calls` calls on rotating keys."""
    begin = time.perf_counter_ns()
    for i in range(start, start + calls):
        writer(i % KEYS, "n")
    return (time.perf_counter_ns() - begin) / calls / 1000


def _latencies(directory: Path, settings: Settings) -> dict[str, list[float]]:
    """us/write per repeat for each case, the cases interleaved."""
    behind = _write_behind(directory / "behind.db")
    cases: dict[str, tuple[Callable[[int, str], Any], int]] = {
        "write_behind": (behind, 2_000 if settings.quick else 5_000),
        "write_through (rollback journal, synchronous=FULL)": (
            _write_through(directory / "full.db", wal=False),
            50 if settings.quick else 100,
        ),
        "write_through (WAL, synchronous=NORMAL)": (
            _write_through(directory / "wal.db", wal=True),
            500 if settings.quick else 2_000,
        ),
    }
    for writer, calls in cases.values():  # warm-up: first commits, the flusher thread
        _per_call_us(writer, min(calls, 100), 0)
    memo.flush(60)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for repeat in range(settings.repeats):
        for name, (writer, calls) in cases.items():
            samples[name].append(_per_call_us(writer, calls, repeat * calls))
            memo.flush(60)  # the next case does not pay for this one's backlog
    return samples


def _throughput(directory: Path, batch_size: int, writes: int, rounds: int) -> list[float]:
    """Writes/s the flusher delivers draining `writes` queued distinct keys."""
    results: list[float] = []
    for round_ in range(rounds):
        gate = threading.Event()
        writer = _write_behind(directory / f"drain-{batch_size}-{round_}.db", batch_size, gate)
        for i in range(writes):
            writer(i, "n")
        start = time.perf_counter()
        gate.set()
        if not memo.flush(120):
            raise RuntimeError("write_behind bench: the flusher did not drain in 120 s")
        results.append(writes / (time.perf_counter() - start))
    return results


def run(settings: Settings) -> SuiteResult:
    """Both measurements in a temporary directory; two tables."""
    memo.configure()
    with tempfile.TemporaryDirectory(prefix="memo-bench-wb-") as tmp:
        directory = Path(tmp)
        samples = _latencies(directory, settings)
        writes = 5_000 if settings.quick else 20_000
        rounds = 2 if settings.quick else 3
        drains = {b: _throughput(directory, b, writes, rounds) for b in (100, 1_000)}
    memo.configure()
    return SuiteResult(
        [_latency_table(samples), _throughput_table(drains, writes)],
        {"latency_us": samples, "flusher_writes_per_s": {str(b): v for b, v in drains.items()}},
    )


def _latency_table(samples: dict[str, list[float]]) -> Table:
    behind = statistics.median(samples["write_behind"])
    table = Table(
        "Write latency seen by the caller, us/write (L1 only; SQLite file on local disk)",
        ["writer", "us/write", "min..max", "x write_behind", "target", "verdict"],
    )
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / behind
        durable = name.startswith("write_through (rollback")
        table.rows.append(
            [
                name,
                f"{median:.1f}",
                f"{min(values):.1f}..{max(values):.1f}",
                f"{ratio:.1f}x",
                f">= {TARGET_RATIO:.0f}x" if durable else "",
                verdict(TARGET_RATIO, ratio) if durable else "",
            ]
        )
    table.notes = [
        "x write_behind: how many times longer a write takes the caller than with "
        "@write_behind (write_through's commit per write against a queued write).",
        "write_behind's figure includes its share of the CPU the flusher thread uses meanwhile "
        "(batch_size=100, interval=0.05 s, executemany + one commit per batch).",
    ]
    return table


def _throughput_table(drains: dict[int, list[float]], writes: int) -> Table:
    table = Table(
        f"Flusher sustained throughput: {writes:,} queued writes drained to SQLite",
        ["batch_size", "writes/s (median)", "per round"],
    )
    for batch_size, values in drains.items():
        table.rows.append(
            [
                str(batch_size),
                f"{statistics.median(values):,.0f}",
                " ".join(f"{v:,.0f}" for v in values),
            ]
        )
    table.notes = ["each batch: executemany of an upsert by version, then one commit."]
    return table
