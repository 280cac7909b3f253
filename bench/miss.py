"""Suite `miss`: the cost of a cache miss, L1 only and L1+L2 over a real Redis.

Every timed call passes an argument never seen before (a counter per case), to a function
whose body returns at once, so the figures are the caches' own work on a miss: building the
key, finding nothing, storing the result (and, over Redis, the round trips).

- L1 only: `memo.cached(ttl=300)` over the default in-process store against a plain call,
  `cachetools.cached(TTLCache, lock=Lock())` and `cachebox.cached(TTLCache)`, ns per miss.
  Every cache holds 10,000 entries at most and is filled before timing, so each miss also
  evicts one entry (the steady state of a cache that sees new keys).
- L1+L2: `memo.cached(store=TieredStore(MemoryStore(), RedisStore(url)))`, sync and
  `async def`, with `lock=True` (the default single-flight: a lease per key in Redis) and
  `lock=False`, against a hand-written redis-py GET (a miss) + SET of the pickled value
  (`redis.asyncio` for async), us per miss. Then, with fresh functions, the Redis commands
  one miss costs (`INFO commandstats` delta, which also counts what a Lua script runs) and
  its round trips (requests written: redis-py's sync `send_packed_command`, asyncio's
  `StreamWriter.writelines`; one per command sent alone, one per pipeline; counted on the
  calling thread, background threads listed apart).

Only memo's public API is used, so the suite also runs against older source trees. The L2
keyspace stays small: unique keys with a 60 s TTL, and the private server is flushed
(untimed) after the warm-up round and after every repeat, so it never holds more than one
repeat's misses (cases x batches x calls, under 2,000 by default).
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import _harness as h
from bench._peers import MAXSIZE, SYNC_PEERS, TTL, make_sync
from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings
from bench.l2_hit import ASYNC_MAKERS as L2_ASYNC_PEERS
from bench.l2_hit import SYNC_MAKERS as L2_SYNC_PEERS
from bench.l2_hit import VALUE, command_stats, count_commands, redis_server

__all__ = ["counting_round_trips", "run"]

SECRET = "bench-secret"
L2_TTL = 60  # seconds: short, so that a key the flushes miss soon goes away by itself
L1_CALLS_PER_BATCH = 500  # an L1 miss costs ~1-40 us: a few ms per batch
L2_INNER = 3
SETTLE = 0.2  # seconds for background connections (memo's events) to come up before counting
RAW_PREFIX = "memo:bench:rawmiss:"
SPAN = 10**9  # each case's arguments start at its own multiple of this: never shared
PLAIN = "plain"
RAW = "raw"
L1_NAMES = {
    PLAIN: "plain call (no cache)",
    "memo": "memo.cached(ttl=300)",
    "memo_nolock": "memo.cached(ttl=300, lock=False) (beside)",
    "cachetools": "cachetools.cached(TTLCache, lock)",
    "cachebox": "cachebox.cached(TTLCache, postprocess=None)",
}
L2_SYNC_NAMES = {
    "memo_lock": "memo L1+L2, lock=True (default)",
    "memo_nolock": "memo L1+L2, lock=False",
    RAW: "redis-py r.get(k) + r.set(k, pickle.dumps(v), ex=60)",
    "dogpile": "dogpile.cache region (dogpile.cache.redis) (beside)",
}
L2_ASYNC_NAMES = {
    "memo_lock": "memo L1+L2 async, lock=True (default)",
    "memo_nolock": "memo L1+L2 async, lock=False",
    RAW: "redis.asyncio await get(k) + await set(k, dumps(v), ex=60)",
    "cashews": "cashews @cache(ttl) on redis:// (beside)",
    "aiocache": "aiocache @cached(Cache.REDIS, PickleSerializer) (beside)",
}
PEERS = ("dogpile", "cashews", "aiocache")  # no single flight over Redis: shown beside
TARGETS = {"memo_lock": 1.4, "memo_nolock": 1.2}  # x raw GET + SET (issue 11, item 4)


def l2_calls(settings: Settings) -> int:
    """Calls per L2 batch: an L2 miss costs ~0.2-1.5 ms, so ~30-200 ms per batch."""
    return 100 if settings.quick else 120


def counted_misses(settings: Settings) -> int:
    """Misses whose commands and round trips are counted, per case."""
    return 200 if settings.quick else 500


# -- loops: one new argument per call, the same shape for every case ------------------------


def _counter(index: int) -> Iterator[int]:
    """Arguments for one case: a range of its own, so no two cases ever share a key."""
    return itertools.count((index + 1) * SPAN)


def miss_loop(f: Callable[..., Any], arguments: Iterator[int]) -> h.SyncLoop:
    """`for _ in range(n): f(next(arguments), "x")`."""
    take = arguments.__next__

    def loop(n: int) -> None:
        for _ in range(n):
            f(take(), "x")

    return loop


def async_miss_loop(g: Callable[..., Awaitable[Any]], arguments: Iterator[int]) -> h.AsyncLoop:
    """`for _ in range(n): await g(next(arguments), "x")`."""
    take = arguments.__next__

    async def loop(n: int) -> None:
        for _ in range(n):
            await g(take(), "x")

    return loop


# -- counting round trips -----------------------------------------------------------------------


@dataclass
class Sends:
    """redis-py sends seen while counting: on the calling thread and on any other."""

    caller: int = 0
    background: int = 0


@contextmanager
def counting_round_trips() -> Iterator[Sends]:
    """Count the writes of requests: `send_packed_command` of redis-py's sync connections, and
    `StreamWriter.writelines` under asyncio (where redis-py's send ends, and memo's own send
    of a command: `memo/_redis/wire.py`).

    A command alone goes in one such call and a whole pipeline in one, then the replies are
    read: a call is a round trip. The patch is on the classes, so it sees memo's own clients
    as they are, and it is undone on exit.
    """
    import asyncio

    import redis.connection

    sends = Sends()
    caller = threading.get_ident()

    def tally() -> None:
        if threading.get_ident() == caller:
            sends.caller += 1
        else:
            sends.background += 1

    patched: list[tuple[type, bool, Any]] = []
    targets = (
        (redis.connection.Connection, "send_packed_command"),
        (asyncio.StreamWriter, "writelines"),
    )
    for cls, name in targets:
        original = getattr(cls, name)

        def wrapper(self: Any, *args: Any, _orig: Any = original, **kw: Any) -> Any:
            tally()
            return _orig(self, *args, **kw)

        patched.append((cls, name, name in cls.__dict__, original))
        setattr(cls, name, wrapper)
    try:
        yield sends
    finally:
        for cls, name, own, original in reversed(patched):
            if own:
                setattr(cls, name, original)
            else:
                delattr(cls, name)


# -- L1 only ---------------------------------------------------------------------------------------


def _fill(fn: Callable[..., Any], arguments: Iterator[int]) -> None:
    """MAXSIZE misses, untimed: the cache is full before timing, as in a steady state."""
    for _ in range(MAXSIZE):
        fn(next(arguments), "x")


def _memo_nolock(fn: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """memo.cached(ttl=300, lock=False): no single flight, to show what it costs a miss."""
    import memo

    decorated: Callable[..., Any] = memo.cached(ttl=TTL, lock=False)(fn)
    return decorated


L1_MAKERS = {**SYNC_PEERS, "memo_nolock": _memo_nolock}


def _l1_table(settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Time the L1 misses and lay them out."""
    import memo

    memo.configure(store=memo.MemoryStore(MAXSIZE))  # a fresh, empty in-process default
    try:
        fns = {
            PLAIN: make_sync(),
            **{n: L1_MAKERS[n](make_sync(), MAXSIZE) for n in L1_NAMES if n != PLAIN},
        }
        arguments = {name: _counter(i) for i, name in enumerate(fns)}
        for name, fn in fns.items():
            if name != PLAIN:
                _fill(fn, arguments[name])
        loops = {name: miss_loop(fn, arguments[name]) for name, fn in fns.items()}
        shape = {"repeats": settings.repeats, "number": L1_CALLS_PER_BATCH, "inner": settings.inner}
        timings = h.time_sync(loops, **shape)
        warnings = [*_check_l1(fns["memo"]), *_check_l1(fns["memo_nolock"])]
    finally:
        memo.configure()  # leave a fresh default store to the suites that follow
    by_name = {t.name: t for t in timings}
    memo_t = by_name["memo"]
    title = (
        f'L1 miss: f(new, "x") -- ns/miss, median of {settings.repeats} interleaved repeats, '
        f"each the best of {settings.inner} batches x {L1_CALLS_PER_BATCH:,} calls"
    )
    header = ["case", "ns/miss", "min..max", "memo/case", "per-repeat"]
    table = Table(title, header)
    for t in timings:
        cells = [L1_NAMES[t.name], f"{t.median:.1f}", f"{t.low:.1f}..{t.high:.1f}"]
        if t.name in ("memo", PLAIN):
            table.rows.append([*cells, "", ""])
        else:
            ratio = memo_t.median / t.median
            table.rows.append([*cells, f"{ratio:.2f}", _ratio_range(memo_t, t)])
    table.notes = [
        *warnings,
        f"every cache holds at most {MAXSIZE:,} entries and was filled before timing: each "
        "miss builds a key, finds nothing, runs the body and stores the result, evicting one.",
        "memo's default lock=True keeps concurrent misses of one key to one run of the body "
        "(single flight); the lock=False row shows what that costs an uncontended miss.",
        "the plain call pays the loop and the counter that makes each argument new too; the "
        "empty loop is subtracted from every row. memo/case < 1 means memo is faster.",
    ]
    return table, {"cases": _cases(timings), "ratios": _ratios(timings, "memo", (PLAIN,))}


def _check_l1(fn: Any) -> list[str]:
    """A warning if one of memo's functions did not see misses only."""
    stats = fn.stats
    if stats.hits == 0 and stats.misses > 0 and stats.errors == 0:
        return []
    return [f"WARNING: memo stats {stats.as_dict()}: expected misses only"]


# -- L1 + L2 ---------------------------------------------------------------------------------------


STORES: list[Any] = []  # memo stores made by this suite, closed after each group


def _tiered(url: str) -> Any:
    """`TieredStore(MemoryStore(), RedisStore(url))` in a namespace of its own."""
    import memo

    remote = memo.RedisStore(url, namespace=f"bench{uuid.uuid4().hex[:8]}", secret=SECRET)
    store = memo.TieredStore(memo.MemoryStore(), remote)
    STORES.append(store)
    return store


def _memo_sync(url: str, *, lock: bool) -> Callable[..., Any]:
    import memo

    def f(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Any] = memo.cached(ttl=L2_TTL, store=_tiered(url), lock=lock)(f)
    return decorated


def _memo_async(url: str, *, lock: bool) -> Callable[..., Awaitable[Any]]:
    import memo

    async def g(a: int, b: str = "x") -> Any:
        return VALUE

    store = _tiered(url)
    decorated: Callable[..., Awaitable[Any]] = memo.cached(ttl=L2_TTL, store=store, lock=lock)(g)
    return decorated


CLIENTS: list[Any] = []  # raw clients made by this suite, closed after each group


def _raw_sync(url: str) -> Callable[..., Any]:
    import redis

    client = redis.Redis.from_url(url)
    CLIENTS.append(client)
    get: Callable[[str], Any] = client.get
    put, dumps = client.set, pickle.dumps

    def raw(a: int, b: str = "x") -> Any:
        key = f"{RAW_PREFIX}{a}:{b}"
        found = get(key)
        if found is not None:
            return pickle.loads(found)
        put(key, dumps(VALUE, pickle.HIGHEST_PROTOCOL), ex=L2_TTL)
        return VALUE

    return raw


def _raw_async(url: str) -> Callable[..., Awaitable[Any]]:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    get: Callable[[str], Awaitable[Any]] = client.get
    put, dumps = client.set, pickle.dumps

    async def raw(a: int, b: str = "x") -> Any:
        key = f"{RAW_PREFIX}{a}:{b}"
        found = await get(key)
        if found is not None:
            return pickle.loads(found)
        await put(key, dumps(VALUE, pickle.HIGHEST_PROTOCOL), ex=L2_TTL)
        return VALUE

    return raw


SYNC_MAKERS: dict[str, Callable[[str], Callable[..., Any]]] = {
    "memo_lock": lambda url: _memo_sync(url, lock=True),
    "memo_nolock": lambda url: _memo_sync(url, lock=False),
    RAW: _raw_sync,
    "dogpile": L2_SYNC_PEERS["dogpile"],
}
ASYNC_MAKERS: dict[str, Callable[[str], Callable[..., Awaitable[Any]]]] = {
    "memo_lock": lambda url: _memo_async(url, lock=True),
    "memo_nolock": lambda url: _memo_async(url, lock=False),
    RAW: _raw_async,
    "cashews": L2_ASYNC_PEERS["cashews"],
    "aiocache": L2_ASYNC_PEERS["aiocache"],
}


@dataclass
class Count:
    """Redis commands and round trips per miss for one case."""

    misses: int
    commands: dict[str, int] = field(default_factory=dict)
    sends: Sends = field(default_factory=Sends)

    @property
    def commands_per_miss(self) -> float:
        """All commands the server ran (scripts' inner ones included) over misses."""
        return sum(self.commands.values()) / self.misses

    @property
    def round_trips(self) -> float:
        """Sends on the calling thread over misses."""
        return self.sends.caller / self.misses

    def describe(self) -> str:
        """E.g. 'get 1.00, set 1.00'."""
        parts = [f"{name} {_rate(calls / self.misses)}" for name, calls in self.commands.items()]
        return ", ".join(parts) or "none"


def _rate(value: float) -> str:
    """Two decimals, or four for a rare background command."""
    return f"{value:.2f}" if value >= 0.01 else f"{value:.4f}"


def _count_sync(
    server: Any, fn: Callable[..., Any], misses: int, arguments: Iterator[int]
) -> Count:
    """Warm up (connections, scripts), then count the commands and sends of `misses` misses."""
    fn(next(arguments), "x")
    fn(next(arguments), "x")
    time.sleep(SETTLE)
    before = command_stats(server)
    with counting_round_trips() as sends:
        for _ in range(misses):
            fn(next(arguments), "x")
    return Count(misses, count_commands(server, before), sends)


def _count_async(
    server: Any, fn: Callable[..., Awaitable[Any]], misses: int, arguments: Iterator[int]
) -> Count:
    """`_count_sync` in a fresh event loop."""

    async def main() -> Count:
        await fn(next(arguments), "x")
        await fn(next(arguments), "x")
        await asyncio.sleep(SETTLE)
        before = command_stats(server)
        with counting_round_trips() as sends:
            for _ in range(misses):
                await fn(next(arguments), "x")
        return Count(misses, count_commands(server, before), sends)

    return asyncio.run(main())


@dataclass(frozen=True)
class Group:
    """One table: sync or async."""

    title: str
    names: dict[str, str]
    is_async: bool


GROUPS = (
    Group('L1+L2 miss, sync: f(new, "x")', L2_SYNC_NAMES, is_async=False),
    Group('L1+L2 miss, async: await g(new, "x")', L2_ASYNC_NAMES, is_async=True),
)


def _time_l2(
    group: Group, server: Any, settings: Settings
) -> tuple[list[h.Timing], dict[str, Any]]:
    """Build fresh functions and time them, flushing the server between repeats."""

    def flush() -> None:
        server.command("FLUSHDB")

    shape = {
        "repeats": settings.repeats,
        "number": l2_calls(settings),
        "inner": min(settings.inner, L2_INNER),
    }
    if group.is_async:
        afns = {name: ASYNC_MAKERS[name](server.url) for name in group.names}
        aloops = {
            name: async_miss_loop(fn, _counter(i)) for i, (name, fn) in enumerate(afns.items())
        }
        return h.time_async(aloops, flush, **shape), afns
    fns = {name: SYNC_MAKERS[name](server.url) for name in group.names}
    loops = {name: miss_loop(fn, _counter(i)) for i, (name, fn) in enumerate(fns.items())}
    return h.time_sync(loops, flush, **shape), fns


def _counts(group: Group, server: Any, misses: int) -> dict[str, Count]:
    """Commands and round trips per miss of every case, each with fresh functions."""
    counts: dict[str, Count] = {}
    for i, name in enumerate(group.names):
        arguments = _counter(len(group.names) + i)  # fresh ranges: never timed before
        if group.is_async:
            afn = ASYNC_MAKERS[name](server.url)
            counts[name] = _count_async(server, afn, misses, arguments)
        else:
            counts[name] = _count_sync(server, SYNC_MAKERS[name](server.url), misses, arguments)
    server.command("FLUSHDB")
    return counts


def _check_l2(fns: dict[str, Any]) -> list[str]:
    """Warnings if memo's timed calls were not all misses, or hit errors."""
    warnings = []
    for name, fn in fns.items():
        if name == RAW or name in PEERS:
            continue
        stats = fn.stats
        if stats.hits or stats.errors or not stats.misses:
            warnings.append(f"WARNING: {name} stats {stats.as_dict()}: expected misses only")
    return warnings


def _l2_row(t: h.Timing, raw: h.Timing, names: dict[str, str], count: Count) -> list[str]:
    """case | us/miss | min..max | x raw | per-repeat | cmds/miss | round trips/miss | target."""
    cells = [names[t.name], f"{t.median / 1000:.1f}", f"{t.low / 1000:.1f}..{t.high / 1000:.1f}"]
    ratio_cells = ["", ""]
    if t is not raw:
        ratio_cells = [f"{t.median / raw.median:.2f}", _ratio_range(t, raw)]
    target = TARGETS.get(t.name)
    marks = (
        ["", ""] if target is None else [f"<= {target}x", verdict(t.median / raw.median, target)]
    )
    counts = [f"{count.commands_per_miss:.2f}", f"{count.round_trips:.2f}"]
    return [*cells, *ratio_cells, *counts, *marks]


def _l2_table(group: Group, server: Any, settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Time and count one group and lay it out."""
    timings, fns = _time_l2(group, server, settings)
    warnings = _check_l2(fns)
    counts = _counts(group, server, counted_misses(settings))
    raw = next(t for t in timings if t.name == RAW)
    inner = min(settings.inner, L2_INNER)
    title = (
        f"{group.title} -- us/miss, median of {settings.repeats} interleaved repeats, each the "
        f"best of {inner} batches x {l2_calls(settings)} calls; ~200-byte dict"
    )
    header = [
        "case",
        "us/miss",
        "min..max",
        "x raw",
        "per-repeat",
        "cmds/miss",
        "rt/miss",
        "target",
        "verdict",
    ]
    table = Table(title, header)
    table.rows = [_l2_row(t, raw, group.names, counts[t.name]) for t in timings]
    table.notes = [
        *warnings,
        *(f"{group.names[n]}: {c.describe()} per miss" for n, c in counts.items()),
        f"cmds/miss: INFO commandstats delta over {counted_misses(settings):,} misses of fresh "
        "functions (INFO excluded); it counts what a Lua script runs as well as the EVALSHA.",
        "rt/miss: round trips, i.e. requests written (redis-py's send_packed_command, or "
        "asyncio's StreamWriter.writelines) on the calling thread "
        "(one per command sent alone, one per pipeline) over the same misses"
        + _background_note(counts),
        "x raw > 1 means slower than the raw GET + SET; memo also builds the key, signs the "
        "entry (HMAC-SHA256), fills its L1 and publishes the write to other processes.",
    ]
    data = {
        "cases": _cases(timings),
        "ratios_to_raw": {t.name: t.median / raw.median for t in timings if t is not raw},
        "commands_per_miss": {n: c.commands_per_miss for n, c in counts.items()},
        "round_trips_per_miss": {n: c.round_trips for n, c in counts.items()},
        "background_sends": {n: c.sends.background for n, c in counts.items()},
        "commands": {n: c.commands for n, c in counts.items()},
    }
    return table, data


def _background_note(counts: dict[str, Count]) -> str:
    """Sends other threads made while counting (memo's events or lease keeper), if any."""
    extra = {n: c.sends.background for n, c in counts.items() if c.sends.background}
    if not extra:
        return "; no sends from other threads meanwhile."
    listed = ", ".join(f"{n} {k}" for n, k in extra.items())
    return (
        "; sends from other threads meanwhile (memo's events connections; not counted "
        f"above), in all: {listed}."
    )


# -- shared ----------------------------------------------------------------------------------------


def _ratio_range(top: h.Timing, bottom: h.Timing) -> str:
    """Spread of the paired per-repeat ratios."""
    ratios = [a / b for a, b in zip(top.samples, bottom.samples, strict=True)]
    return f"{min(ratios):.2f}..{max(ratios):.2f}"


def _cases(timings: list[h.Timing]) -> dict[str, Any]:
    return {
        t.name: {"median_ns": t.median, "min_ns": t.low, "max_ns": t.high, "samples_ns": t.samples}
        for t in timings
    }


def _ratios(timings: list[h.Timing], top: str, skip: tuple[str, ...]) -> dict[str, float]:
    by_name = {t.name: t for t in timings}
    return {t.name: by_name[top].median / t.median for t in timings if t.name not in (top, *skip)}


def _close() -> None:
    """Stop the memo stores' background threads and close every client."""
    while STORES:
        STORES.pop().close()
    while CLIENTS:
        CLIENTS.pop().close()


def run(settings: Settings) -> SuiteResult:
    """The L1 table, then a private server for the two L1+L2 tables."""
    result = SuiteResult(
        data={
            "l1_calls_per_batch": L1_CALLS_PER_BATCH,
            "l2_calls_per_batch": l2_calls(settings),
            "counted_misses": counted_misses(settings),
            "repeats": settings.repeats,
        }
    )
    table, data = _l1_table(settings)
    result.tables.append(table)
    result.data["l1"] = data
    with redis_server() as server:
        for group in GROUPS:
            try:
                table, data = _l2_table(group, server, settings)
            finally:
                _close()
            result.tables.append(table)
            result.data["l2_async" if group.is_async else "l2_sync"] = data
    return result
