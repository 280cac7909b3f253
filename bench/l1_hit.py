"""Suite `l1`: the cost of an L1 hit for every argument kind, memo against its peers.

One row per argument kind (bench/_kinds.py): memo.cached(ttl=300) against
cachetools.cached(TTLCache, lock=Lock()) and cachebox.cached(TTLCache, postprocess=None),
all with a TTL, thread-safe and (memo) counting hits; then the async kinds against
async_lru.alru_cache(ttl=300). Every peer wraps the same body, is warmed (its first call is
the miss) and is timed on hits only, interleaved in one process (bench/_harness.py). A
ratio is memo's median over the peer's median: below 1 means memo is faster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bench import _harness as h
from bench._kinds import ASYNC_KINDS, KINDS, Kind
from bench._report import SuiteResult, Table, Target, verdict
from bench._settings import Settings

__all__ = ["run"]

TTL = 300.0
MAXSIZE = 10_000
SYNC_TARGETS = (Target("cachetools", 0.6), Target("cachebox", 1.5))
ASYNC_TARGETS = (Target("async-lru", 0.5),)
Decorate = Callable[[Callable[..., Any], Kind], Callable[..., Any]]


def _memo(fn: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    import memo

    ignore = ("self",) if kind.owner == "method-ignore" else ()
    if "conn" in kind.params:
        ignore = ("conn",)
    decorated: Callable[..., Any] = memo.cached(ttl=TTL, ignore=ignore)(fn)
    return decorated


def _cachetools(fn: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    import cachetools
    import cachetools.keys

    cache: cachetools.TTLCache[Any, Any] = cachetools.TTLCache(MAXSIZE, TTL)
    key = kind.peer_key or cachetools.keys.hashkey
    return cachetools.cached(cache, key=key, lock=threading.Lock())(fn)


def _cachebox(fn: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    import cachebox

    options: dict[str, Any] = {"postprocess": None}
    if kind.peer_key is not None:
        options["key_maker"] = kind.peer_key
    decorated: Callable[..., Any] = cachebox.cached(cachebox.TTLCache(MAXSIZE, TTL), **options)(fn)
    return decorated


def _async_lru(fn: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    from async_lru import alru_cache

    decorated: Callable[..., Any] = alru_cache(maxsize=MAXSIZE, ttl=TTL)(fn)
    return decorated


SYNC_PEERS: dict[str, Decorate] = {
    "memo": _memo,
    "cachetools": _cachetools,
    "cachebox": _cachebox,
}
ASYNC_PEERS: dict[str, Decorate] = {"memo": _memo, "async-lru": _async_lru}


class _Keyed:
    """The instance methods are called on: keyed by `__memo_key__` (hashable by identity)."""

    def __memo_key__(self) -> str:
        return "instance"


def _namespace(kind: Kind, decorate: Decorate, *, is_async: bool) -> dict[str, Any]:
    """The objects the kind's call reads, with `f` (or `obj.f`, `K.f`) decorated."""
    namespace: dict[str, Any] = dict(kind.objects)
    colour = "async def" if is_async else "def"
    exec(f"{colour} f({kind.params}):\n    return 1\n", namespace)
    fn = decorate(namespace["f"], kind)
    if not kind.owner:
        namespace["f"] = fn
        return namespace
    member = classmethod(fn) if kind.owner == "classmethod" else fn
    namespace["K"] = owner = type("K", (_Keyed,), {"f": member})
    namespace["obj"] = owner()
    namespace["decorated"] = fn
    return namespace


def _loop(kind: Kind, decorate: Decorate, *, is_async: bool) -> tuple[Any, Any]:
    """A timed loop making the kind's call n times, and the decorated function."""
    namespace = _namespace(kind, decorate, is_async=is_async)
    colour = "async def" if is_async else "def"
    exec(f"{colour} loop(n):\n    for _ in range(n):\n        {kind.call}\n", namespace)
    return namespace["loop"], namespace.get("decorated", namespace["f"])


def _shape(settings: Settings) -> dict[str, int]:
    return {"repeats": settings.repeats, "number": settings.number, "inner": settings.inner}


def _time(kind: Kind, peers: dict[str, Decorate], settings: Settings, *, is_async: bool) -> Any:
    """{peer: Timing} for one kind, and memo's decorated function (to check its stats)."""
    loops, functions = {}, {}
    for name, decorate in peers.items():
        loops[name], functions[name] = _loop(kind, decorate, is_async=is_async)
    timer = h.time_async if is_async else h.time_sync
    timings = timer(loops, **_shape(settings))
    return {t.name: t for t in timings}, functions["memo"]


def _cells(memo: h.Timing, peer: h.Timing, target: Target) -> list[str]:
    ratios = [m / p for m, p in zip(memo.samples, peer.samples, strict=True)]
    ratio = memo.median / peer.median
    return [
        f"{peer.median:.0f}",
        f"{ratio:.2f}",
        f"{min(ratios):.2f}..{max(ratios):.2f}",
        verdict(ratio, target.limit),
    ]


def _table(
    title: str,
    kinds: tuple[Kind, ...],
    peers: dict[str, Decorate],
    targets: tuple[Target, ...],
    settings: Settings,
    *,
    is_async: bool,
) -> tuple[Table, list[dict[str, Any]]]:
    header = ["kind", "memo ns"]
    for target in targets:
        header += [
            f"{target.peer} ns",
            f"memo/{target.peer} ({target.describe()})",
            "per-repeat",
            "",
        ]
    table = Table(title, header)
    data = []
    for kind in kinds:
        by_name, memo_fn = _time(kind, peers, settings, is_async=is_async)
        memo = by_name["memo"]
        row = [kind.name, f"{memo.median:.0f}"]
        for target in targets:
            row += _cells(memo, by_name[target.peer], target)
        table.rows.append(row)
        stats = memo_fn.stats
        if stats.misses != 1 or stats.l1_hits == 0:
            table.notes.append(f"WARNING {kind.name}: {stats.misses} misses, {stats.l1_hits} hits")
        data.append(
            {
                "kind": kind.name,
                "ns": {name: t.median for name, t in by_name.items()},
                "ratios": {t.peer: memo.median / by_name[t.peer].median for t in targets},
            }
        )
    table.notes += _notes(table, data, targets)
    return table, data


def _notes(table: Table, data: list[dict[str, Any]], targets: tuple[Target, ...]) -> list[str]:
    """Best and worst kind against each peer, so no reader sees only the best case."""
    notes = ["ns/hit, median of interleaved repeats; memo/peer < 1 means memo is faster."]
    for target in targets:
        ranked = sorted(data, key=lambda row: row["ratios"][target.peer])
        best, worst = ranked[0], ranked[-1]
        notes.append(
            f"vs {target.peer}: best {best['kind']} {best['ratios'][target.peer]:.2f}, "
            f"worst {worst['kind']} {worst['ratios'][target.peer]:.2f}"
        )
    return notes


def run(settings: Settings) -> SuiteResult:
    """One table of sync kinds, one of async kinds."""
    result = SuiteResult(data=_shape(settings))
    sync_table, sync_data = _table(
        "L1 hit per argument kind (sync)",
        KINDS,
        SYNC_PEERS,
        SYNC_TARGETS,
        settings,
        is_async=False,
    )
    async_table, async_data = _table(
        "L1 hit per argument kind (async)",
        ASYNC_KINDS,
        ASYNC_PEERS,
        ASYNC_TARGETS,
        settings,
        is_async=True,
    )
    result.tables += [sync_table, async_table]
    result.data["sync"] = sync_data
    result.data["async"] = async_data
    return result
