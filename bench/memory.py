"""Suite `memory`: bytes per L1 entry at 100k entries, one fresh subprocess per measurement.

A second table gives the resident set per entry at 1k, 100k and 1M entries (1M in a full run
only), memo beside lru_cache, cachetools and cachebox: RSS is the figure the target names.

Two figures per library, each from its own process (side by side, one per core): the traced
Python heap (tracemalloc, exact for caches made of Python objects) and the resident set (RSS,
the only one that sees memory allocated outside Python's allocator, as cachebox's Rust tables
are). The value is one shared object, so every byte counted is the cache's own cost plus the
key objects it keeps alive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings

__all__ = ["run"]

LIBS = ("memo", "lru_cache", "cachetools", "cachebox")
MODES = ("tracemalloc", "rss")
TARGET_BYTES = 400.0  # memo's RSS, issue 11 item 3
MEANINGFUL = {"cachebox": "rss", "memo": "rss"}  # others: tracemalloc
SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 25_000)
INT_BYTES = 32  # one int >= 257 (28 bytes) in its pymalloc size class


def _child(lib: str, mode: str, entries: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and parse its JSON line."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}
    argv = [sys.executable, "-m", "bench._memory_child", lib, mode, str(entries)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(lib: str, figures: dict[str, dict[str, Any]]) -> list[str]:
    """library | tracemalloc | rss | meaningful | target | verdict."""
    chosen = MEANINGFUL.get(lib, "tracemalloc")
    value = figures[chosen]["bytes_per_entry"]
    ok = all(f["oldest_kept"] for f in figures.values())
    target = f"<= {TARGET_BYTES:.0f} B" if lib == "memo" else ""
    mark = verdict(value, TARGET_BYTES) if lib == "memo" else ""
    return [
        lib if ok else f"{lib} (EVICTED!)",
        f"{figures['tracemalloc']['bytes_per_entry']:.0f}",
        f"{figures['rss']['bytes_per_entry']:.0f}",
        f"{chosen}: {value:.0f}",
        target,
        mark,
    ]


def _notes(entries: int, memo_sites: list[list[Any]]) -> list[str]:
    """How to read the table."""
    ints = (entries - 257) * INT_BYTES / entries
    sites = ", ".join(f"{site} {size:.0f} B" for site, size in memo_sites)
    return [
        f"every figure includes ~{ints:.0f} B/entry for the int key objects (i >= 257): the "
        "caller's range() creates them and the cache's key keeps them alive",
        "tracemalloc sees only Python's allocator: exact for memo, lru_cache and cachetools, "
        "blind to cachebox's Rust tables (its figure is just the key tuples and ints)",
        "RSS sees everything but also allocator slack and arena/page granularity; it is the "
        "figure for cachebox, and for memo, whose target (<= 400 B) is stated in RSS",
        f"memo's largest tracemalloc sites (per entry): {sites}",
    ]


def _by_size(settings: Settings) -> tuple[Table, dict[str, dict[str, float]]]:
    """RSS bytes per entry at each size, every library; two children at a time."""
    sizes = QUICK_SIZES if settings.quick else SIZES
    jobs = [(lib, size) for size in sizes for lib in LIBS]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = list(pool.map(lambda job: _child(job[0], "rss", job[1]), jobs))
    figures: dict[str, dict[str, float]] = {lib: {} for lib in LIBS}
    for (lib, size), measured in zip(jobs, done, strict=True):
        figures[lib][str(size)] = measured["bytes_per_entry"]
    header = ["library", *(f"{size:,} entries" for size in sizes)]
    rows = [[lib, *(f"{figures[lib][str(size)]:.0f}" for size in sizes)] for lib in LIBS]
    table = Table("L1 memory by size: RSS bytes per entry beyond the value", header, rows)
    table.notes = [
        "RSS at 1k entries is within a few pages of noise (a page is 4 KiB: 4 B/entry)",
        "memo allocates its frequency sketch (32 B per slot) only once the store is full; "
        "these stores are half full, as in the table above",
    ]
    return table, figures


def run(settings: Settings) -> SuiteResult:
    """Measure every library in both modes; one table, then RSS by size."""
    entries = settings.entries
    jobs = [(lib, mode) for lib in LIBS for mode in MODES]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = pool.map(lambda job: _child(job[0], job[1], entries), jobs)
        figures: dict[str, dict[str, dict[str, Any]]] = {lib: {} for lib in LIBS}
        for (lib, mode), measured in zip(jobs, done, strict=True):
            figures[lib][mode] = measured
    title = f"L1 memory: bytes per entry beyond the value, {entries:,} entries f(i, 'x')"
    header = ["library", "tracemalloc B", "RSS B", "meaningful", "target", "verdict"]
    table = Table(title, header, [_row(lib, figures[lib]) for lib in LIBS])
    table.notes = _notes(entries, figures["memo"]["tracemalloc"]["top_sites"])
    sized, by_size = _by_size(settings)
    return SuiteResult([table, sized], {"entries": entries, "libraries": figures, "rss": by_size})
