"""Suite `l1`: the cost of an L1 hit, memo against its peers, interleaved in one process.

Three groups, each its own table: `f(1, "x")`, `f(a=1, b="x")` and `await g(1, "x")`. Every
peer wraps the same body (`return a`), is warmed (its first call is the miss) and then timed
only on hits. Ratios are memo's median over the peer's median: below 1 means memo is faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import _harness as h
from bench._peers import ASYNC_PEERS, MAXSIZE, SYNC_PEERS, make_async, make_sync
from bench._report import SuiteResult, Table, Target, verdict
from bench._settings import Settings

__all__ = ["run"]

MEMO = "memo"
PLAIN = "plain call (no cache)"
NAMES = {
    "memo": "memo.cached(ttl=300)",
    "lru_cache": "functools.lru_cache",
    "cachetools": "cachetools.cached(TTLCache, lock)",
    "cachebox": "cachebox.cached(TTLCache, postprocess=None)",
    "async-lru": "async_lru.alru_cache(ttl=300)",
}


@dataclass(frozen=True)
class Group:
    """One table: a call shape, the peers it runs and memo's targets against them."""

    call: str
    peers: tuple[str, ...]
    targets: tuple[Target, ...]
    is_async: bool = False
    keyword: bool = False


GROUPS = (
    Group(
        'f(1, "x")',
        ("memo", "lru_cache", "cachetools", "cachebox"),
        (Target("cachetools", 0.5), Target("cachebox", 1.5)),
    ),
    Group(
        'f(a=1, b="x")',
        ("memo", "cachebox", "cachetools", "lru_cache"),
        (Target("cachebox", 1.2),),
        keyword=True,
    ),
    Group('await g(1, "x")', ("memo", "async-lru"), (Target("async-lru", 0.5),), is_async=True),
)


def _timings(group: Group, settings: Settings) -> tuple[list[h.Timing], Any]:
    """Build the group's functions and time them; also return memo's function."""
    if group.is_async:
        amake = h.async_keyword_loop if group.keyword else h.async_positional_loop
        afns = {name: ASYNC_PEERS[name](make_async(), MAXSIZE) for name in group.peers}
        aloops = {PLAIN: amake(make_async()), **{n: amake(fn) for n, fn in afns.items()}}
        return h.time_async(aloops, **_shape(settings)), afns[MEMO]
    make = h.keyword_loop if group.keyword else h.positional_loop
    fns = {name: SYNC_PEERS[name](make_sync(), MAXSIZE) for name in group.peers}
    loops = {PLAIN: make(make_sync()), **{n: make(fn) for n, fn in fns.items()}}
    return h.time_sync(loops, **_shape(settings)), fns[MEMO]


def _shape(settings: Settings) -> dict[str, int]:
    """The harness's repeat/batch arguments."""
    return {"repeats": settings.repeats, "number": settings.number, "inner": settings.inner}


def _ratio_range(memo: h.Timing, peer: h.Timing) -> str:
    """Spread of the per-repeat ratios (the repeats are paired: same round, same conditions)."""
    ratios = [m / p for m, p in zip(memo.samples, peer.samples, strict=True)]
    return f"{min(ratios):.2f}..{max(ratios):.2f}"


def _row(timing: h.Timing, memo: h.Timing, target: Target | None) -> list[str]:
    """One printed row; the ratio columns stay empty on memo's own row."""
    cells = [
        NAMES.get(timing.name, timing.name),
        f"{timing.median:.1f}",
        f"{timing.low:.1f}..{timing.high:.1f}",
    ]
    if timing is memo or timing.name == PLAIN:
        return [*cells, "", "", "", ""]
    ratio = memo.median / timing.median
    goal = target.describe() if target else "(reference)"
    mark = verdict(ratio, target.limit) if target else ""
    return [*cells, f"{ratio:.2f}", _ratio_range(memo, timing), goal, mark]


def _check(memo_fn: Any) -> list[str]:
    """Notes if memo did not answer every timed call from L1 (the benchmark would be void)."""
    stats = memo_fn.stats
    if stats.misses == 1 and stats.l1_hits > 0:
        return []
    return [f"WARNING: memo stats show {stats.misses} misses, {stats.l1_hits} L1 hits"]


def _table(group: Group, settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Time one group and lay it out."""
    timings, memo_fn = _timings(group, settings)
    by_name = {t.name: t for t in timings}
    memo = by_name[MEMO]
    targets = {t.peer: t for t in group.targets}
    title = (
        f"L1 hit: {group.call} -- ns/call, median of {settings.repeats} interleaved repeats, "
        f"each the best of {settings.inner} batches x {settings.number:,} calls"
    )
    header = ["case", "ns/call", "min..max", "memo/case", "per-repeat", "target", "verdict"]
    table = Table(title, header)
    table.rows = [_row(t, memo, targets.get(t.name)) for t in timings]
    table.notes = [*_check(memo_fn), *_notes(group)]
    return table, _data(group, timings, memo)


def _notes(group: Group) -> list[str]:
    """What to keep in mind when reading the group."""
    notes = ["memo/case < 1 means memo is faster; empty-loop cost subtracted from every row."]
    if "lru_cache" in group.peers:
        notes.append("functools.lru_cache has no TTL and no lock: the floor, shown for reference.")
    return notes


def _data(group: Group, timings: list[h.Timing], memo: h.Timing) -> dict[str, Any]:
    """The group's numbers for --json."""
    cases = {
        t.name: {"median_ns": t.median, "min_ns": t.low, "max_ns": t.high, "samples_ns": t.samples}
        for t in timings
    }
    ratios = {t.name: memo.median / t.median for t in timings if t.name not in (MEMO, PLAIN)}
    targets = {
        t.peer: {"limit": t.limit, "ratio": ratios[t.peer], "pass": ratios[t.peer] <= t.limit}
        for t in group.targets
    }
    return {"call": group.call, "cases": cases, "ratios": ratios, "targets": targets}


def run(settings: Settings) -> SuiteResult:
    """Run every group; one table each."""
    result = SuiteResult(data=_shape(settings))
    groups: list[dict[str, Any]] = []
    for group in GROUPS:
        table, data = _table(group, settings)
        result.tables.append(table)
        groups.append(data)
    result.data["groups"] = groups
    return result
