"""Suite `array`: the L1 hit of a function called with a 1 MB numpy array, next to joblib.hash.

A hit on `f(array)` must key the array: dtype, shape and its 1 MB of bytes, hashed with
xxh3-128 (`memo.register_key`'s built-in numpy encoder). joblib.hash of the same array
(md5 over the pickled buffer) is what joblib.Memory pays for the same question. Two floors
are shown for reference: copying the bytes out (`tobytes()`), and xxh3 over the buffer alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xxhash

import memo
from bench import _harness as h
from bench._report import SuiteResult, Table, Target, verdict
from bench._settings import Settings

__all__ = ["run"]

MEMO = "memo hit: f(array)"
JOBLIB = "joblib.hash(array)"
SIZE = 1 << 20  # bytes
TARGET = Target(JOBLIB, 0.5)


def _array() -> Any:
    import numpy  # bench-only dependency, imported when the suite runs

    return numpy.arange(SIZE // 8, dtype=numpy.float64)  # 1 MB exactly


def _loop(call: Callable[[], object]) -> h.SyncLoop:
    def loop(n: int) -> None:
        for _ in range(n):
            call()

    return loop


def _cases(array: Any) -> tuple[dict[str, h.SyncLoop], Any]:
    import joblib

    @memo.cached(store=memo.MemoryStore())
    def total(values: Any) -> float:
        return float(values.sum())

    total(array)  # the miss; every timed call is a hit
    cases = {
        MEMO: _loop(lambda: total(array)),
        JOBLIB: _loop(lambda: joblib.hash(array)),
        "array.tobytes()": _loop(array.tobytes),
        "xxh3_128 over the array's buffer": _loop(lambda: xxhash.xxh3_128_digest(array)),
    }
    return cases, total


def run(settings: Settings) -> SuiteResult:
    """Time the cases interleaved and lay them out in microseconds per call."""
    cases, total = _cases(_array())
    number = 5 if settings.quick else 20
    timings = h.time_sync(cases, repeats=settings.repeats, number=number, inner=settings.inner)
    by_name = {t.name: t for t in timings}
    memo_t, joblib_t = by_name[MEMO], by_name[JOBLIB]
    title = (
        f"1 MB numpy array argument -- us/call, median of {settings.repeats} interleaved "
        f"repeats, each the best of {settings.inner} batches x {number} calls"
    )
    table = Table(title, ["case", "us/call", "min..max", "memo/case", "target", "verdict"])
    for t in timings:
        ratio = memo_t.median / t.median
        row = [t.name, f"{t.median / 1e3:.1f}", f"{t.low / 1e3:.1f}..{t.high / 1e3:.1f}"]
        if t is memo_t:
            row += ["", "", ""]
        elif t is joblib_t:
            row += [f"{ratio:.2f}", TARGET.describe(), verdict(ratio, TARGET.limit)]
        else:
            row += [f"{ratio:.2f}", "(floor)", ""]
        table.rows.append(row)
    stats = total.stats
    if not (stats.misses == 1 and stats.l1_hits > 0):
        table.notes.append(f"WARNING: {stats.misses} misses, {stats.l1_hits} L1 hits")
    table.notes.append("memo/case < 1 means memo is faster.")
    data = {t.name: {"median_ns": t.median, "samples_ns": t.samples} for t in timings}
    data["ratio_memo_over_joblib"] = memo_t.median / joblib_t.median
    return SuiteResult([table], {"cases": data})
