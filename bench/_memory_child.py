"""One memory measurement in a fresh process: `python -m bench._memory_child LIB MODE N`.

Fills N entries `f(i, "x")` for i in range(N), the function returning one shared object, and
prints one JSON line: bytes grown (MODE `tracemalloc`: traced Python heap; MODE `rss`: resident
set from /proc/self/statm) and whether the oldest entry survived (nothing evicted).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench._peers import SYNC_PEERS, make_sync

__all__ = ["main", "measure"]


def _rss() -> int:
    """Resident set size in bytes (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _build(lib: str, entries: int) -> Callable[..., Any]:
    """The decorated function, sized so that `entries` fit with room to spare."""
    if lib == "memo":
        import memo

        memo.configure(l1_maxsize=2 * entries)
    return SYNC_PEERS[lib](make_sync(constant=True), 2 * entries)


def _kept(lib: str, f: Any) -> bool:
    """Whether the oldest entry (i=0) is still cached, by the library's own bookkeeping."""
    if lib == "cachetools":
        import cachetools.keys

        return cachetools.keys.hashkey(0, "x") in f.cache
    hits: Callable[[], int] = (
        (lambda: f.stats.l1_hits) if lib == "memo" else (lambda: f.cache_info().hits)
    )
    before = hits()
    f(0, "x")
    return hits() > before


def _top_sites(entries: int, count: int = 6) -> list[tuple[str, float]]:
    """Where the traced growth was allocated: (file:line, bytes per entry), largest first."""
    stats = tracemalloc.take_snapshot().statistics("lineno")[:count]
    return [
        (f"{os.path.basename(s.traceback[0].filename)}:{s.traceback[0].lineno}", s.size / entries)
        for s in stats
    ]


def _fill(f: Callable[..., Any], entries: int) -> None:
    """The measured work: the caller creates the int keys, the cache keeps them."""
    for i in range(entries):
        f(i, "x")


def measure(lib: str, mode: str, entries: int) -> dict[str, Any]:
    """Grow the cache by `entries` and report the growth."""
    f = _build(lib, entries)
    f(-1, "x")  # first call: lazily built structures are not counted per entry
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
    probe: Callable[[], int] = (
        (lambda: tracemalloc.get_traced_memory()[0]) if mode == "tracemalloc" else _rss
    )
    before = probe()
    _fill(f, entries)
    gc.collect()
    grown = probe() - before
    top = _top_sites(entries) if mode == "tracemalloc" else []
    tracemalloc.stop()
    return {
        "lib": lib,
        "mode": mode,
        "entries": entries,
        "bytes": grown,
        "bytes_per_entry": grown / entries,
        "oldest_kept": _kept(lib, f),
        "top_sites": top,
    }


def main(argv: list[str]) -> None:
    """Entry point: LIB MODE N -> one JSON line on stdout."""
    lib, mode, entries = argv
    print(json.dumps(measure(lib, mode, int(entries))))


if __name__ == "__main__":
    main(sys.argv[1:])
