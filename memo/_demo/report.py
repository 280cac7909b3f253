"""The demo's printed report: a header, an aligned plain-text table and a few closing lines."""

from __future__ import annotations

from collections.abc import Sequence

from memo._demo.workload import DemoResult, ScenarioResult, plural

__all__ = ["SPARED", "format_report", "format_table"]

# (title, right-aligned?) per column, in order
_COLUMNS = (
    ("scenario", False),
    ("calls", True),
    ("DB calls", True),
    ("misses", True),
    ("waits", True),
    ("spared", True),
    ("p50 ms", True),
    ("p95 ms", True),
    ("p99 ms", True),
    ("wall s", True),
)
_NONE = "-"
SPARED = (
    "spared: the calls answered without a query, from the cache or by waiting for another "
    "caller's query (single-flight)"
)


def format_report(result: DemoResult) -> str:
    """The whole report as printed by `memo demo` (ends with a newline)."""
    lines = [*_header(result), "", format_table(result.scenarios), SPARED, "", *_summary(result)]
    return "\n".join(lines) + "\n"


def format_table(scenarios: Sequence[ScenarioResult]) -> str:
    """One aligned row per scenario under a header and a rule (no trailing newline)."""
    rows = [[title for title, _ in _COLUMNS], *(_cells(s) for s in scenarios)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    rule = ["-" * width for width in widths]
    return "\n".join(_line(row, widths) for row in (rows[0], rule, *rows[1:]))


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (
        cell.rjust(width) if right else cell.ljust(width)
        for cell, width, (_, right) in zip(cells, widths, _COLUMNS, strict=True)
    )
    return "  ".join(padded).rstrip()


def _cells(s: ScenarioResult) -> list[str]:
    stats = s.stats
    return [
        s.label,
        f"{s.calls:,}",
        f"{s.db_calls:,}",
        _NONE if stats is None else f"{stats.misses:,}",
        _NONE if stats is None else f"{stats.waits:,}",
        _NONE if s.spared is None else f"{s.spared:.1%}",
        f"{s.p50_ms:.3f}",
        f"{s.p95_ms:.3f}",
        f"{s.p99_ms:.3f}",
        f"{s.wall_s:.3f}",
    ]


def _header(result: DemoResult) -> list[str]:
    return [
        f"memo demo: {result.keys:,} products in SQLite (in memory), "
        f"{result.latency_ms:g} ms simulated latency per query",
        f"workload: {result.calls:,} calls over {result.keys:,} ids, Zipf-skewed "
        f"(seed {result.seed}): {result.distinct_keys:,} distinct ids",
        f"store: {result.store}",
    ]


def _summary(result: DemoResult) -> list[str]:
    uncached, cached = result["uncached"], result["cached"]
    slow, fast = result["uncached-async"], result["cached-async"]
    locked, unlocked = result["stampede-lock"], result["stampede-nolock"]
    saved = uncached.db_calls - cached.db_calls
    return [
        f"speed-up, sync: {result.speedup:.1f}x ({uncached.wall_s:.3f} s -> "
        f"{cached.wall_s:.3f} s wall); {saved:,} of {uncached.db_calls:,} database calls saved.",
        f"speed-up, async ({plural(result.tasks, 'task')}): {result.async_speedup:.1f}x "
        f"({slow.wall_s:.3f} s -> {fast.wall_s:.3f} s wall).",
        f"stampede, one cold key, {result.stampede_latency_ms:g} ms query, "
        f"{plural(result.threads, 'thread')}: {plural(locked.db_calls, 'DB call')} with "
        f"lock=True, {plural(unlocked.db_calls, 'DB call')} "
        "with lock=False.",
        _agreement(result),
    ]


def _agreement(result: DemoResult) -> str:
    disagree = [s.label for s in result.scenarios if not s.counters_agree]
    if not disagree:
        return (
            "memo's counters agree with the database in every cached scenario "
            "(misses - waits = DB calls)."
        )
    return (
        "memo's counters (misses - waits) differ from the database's count in: "
        + ", ".join(disagree)
        + " (Stats increments take no lock, so heavy thread contention can undercount)."
    )
