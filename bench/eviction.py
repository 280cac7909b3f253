"""Suite `eviction`: L1's miss ratio beside libCacheSim's policies, on four synthetic traces.

Each trace (`bench/_traces.py`: 50k objects, seeded) is replayed through a fresh
`memo.MemoryStore(maxsize=1000)` the way the runtime uses it (`get`; on a miss, `set`) and
through libCacheSim's LRU, Sieve, S3-FIFO, W-TinyLFU and ARC at 1,000 slots (PyPI
`libcachesim`, a bench-only dependency). The target (issue 11): memo's miss ratio within 1.05x
of the best of them on every trace. A miss ratio is a count, not a timing: the load of the
machine does not move it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings
from bench._traces import SLOTS, traces

__all__ = ["memo_miss_ratio", "run"]

TARGET = 1.05
POLICIES = ("LRU", "Sieve", "S3FIFO", "WTinyLFU", "ARC")


def memo_miss_ratio(trace: list[int], slots: int = SLOTS) -> float:
    """Replay trace through a MemoryStore: get, and set on a miss (the value is the key)."""
    import memo
    from memo._keys.key import CacheKey

    store = memo.MemoryStore(maxsize=slots)
    get, put = store.get, store.set
    misses = 0
    for obj in trace:
        key = CacheKey((0, obj), "")  # the runtime's L1 keys: (function token, *values)
        if get(key) is None:
            misses += 1
            put(key, obj, None)
    return misses / len(trace)


def libcachesim_miss_ratio(policy: str, trace: list[int], slots: int = SLOTS) -> float:
    """Replay trace through libCacheSim's policy with `slots` unit-size objects."""
    import libcachesim

    cache: Any = getattr(libcachesim, policy)(slots)
    request = libcachesim.Request()
    request.obj_size = 1
    get: Callable[[Any], bool] = cache.get
    misses = 0
    for obj in trace:
        request.obj_id = obj
        if not get(request):
            misses += 1
    return misses / len(trace)


def _row(name: str, ratios: dict[str, float]) -> list[str]:
    best_name = min(POLICIES, key=ratios.__getitem__)
    relative = ratios["memo"] / ratios[best_name]
    return [
        name,
        *(f"{ratios[p]:.4f}" for p in POLICIES),
        f"{ratios['memo']:.4f}",
        f"{relative:.3f}x {best_name}",
        verdict(relative, TARGET),
    ]


def run(settings: Settings) -> SuiteResult:
    """Every trace through memo and every libCacheSim policy; one table."""
    length = 100_000 if settings.quick else 200_000
    results: dict[str, dict[str, float]] = {}
    for name, trace in traces(length).items():
        ratios = {policy: libcachesim_miss_ratio(policy, trace) for policy in POLICIES}
        ratios["memo"] = memo_miss_ratio(trace)
        results[name] = ratios
    title = f"L1 miss ratio, {SLOTS:,} slots, traces of {length:,} requests over 50,000 objects"
    header = ["trace", *POLICIES, "memo", "memo / best", f"<= {TARGET:.2f}x"]
    table = Table(title, header, [_row(name, ratios) for name, ratios in results.items()])
    table.notes = [
        "memo: memo.MemoryStore(maxsize=1000) through get/set; others: libCacheSim (PyPI "
        "libcachesim) with default parameters, unit-size objects",
        "traces (bench/_traces.py, seeded): Zipf 0.8; Zipf 1.0; Zipf 1.0 with 2,000 one-hit "
        "keys every 10,000 requests; Zipf 1.0 half-and-half with a loop over 1,200 keys",
        "lower is better; a miss ratio is a count, so machine load does not change it",
    ]
    return SuiteResult([table], {"length": length, "slots": SLOTS, "miss_ratios": results})
