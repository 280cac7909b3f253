"""Suite `l2`: the cost of an L2 hit (L1 bypassed), memo against raw redis-py and its peers.

memo runs over a bare `memo.RedisStore` (no L1), so every timed call is an L2 hit: one GET,
the HMAC check and the unpickling of a ~200-byte dict. The floor is the same GET and
`pickle.loads` written by hand with redis-py (sync) and `redis.asyncio` (async); memo's
target is at most 1.10x of it. Beside it, the floor under redis-py's client: the GET sent and
read on one held connection with its public methods, no pool checkout, retry or reply
callback (memo sends its commands on kept connections too: `memo/_redis/_async/link.py`).
dogpile.cache, cashews and aiocache read the same value from
the same server beside them (no targets). Every case is timed interleaved in one process by
the harness; then the Redis commands one hit costs are counted with `INFO commandstats`
deltas over a run of hits (after a warm-up call, so connection set-up is excluded).

The suite starts its own `redis-server` on a free loopback port and stops it at the end.
"""

from __future__ import annotations

import asyncio
import pickle
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import _harness as h
from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings

__all__ = ["command_stats", "count_commands", "redis_server", "run"]

TTL = 300
SECRET = "bench-secret"
TARGET = 1.10  # memo / raw GET + pickle.loads (issue 11, item 5)
CALLS_PER_BATCH = 400  # an L2 hit costs ~50-150 us: ~20-60 ms per batch
COUNTED_HITS = 2_000
SETTLE = 0.2  # seconds for background connections (memo's events) to come up before counting
RAW_KEY = "memo:bench:raw"
VALUE: dict[str, Any] = {
    "id": 12345,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "roles": ["admin", "editor"],
    "score": 97.5,
    "active": True,
    "bio": "Mathematician and writer, known for her work on the Analytical Engine.",
}  # pickles to ~200 bytes
MEMO = "memo"
SYNC_NAMES = {
    "memo": "memo.cached(store=RedisStore) -- L2 only",
    "raw": "redis-py r.get(key) + pickle.loads",
    "conn": "redis-py connection: send_packed_command + read_response + loads",
    "dogpile": "dogpile.cache region (dogpile.cache.redis)",
}
ASYNC_NAMES = {
    "memo": "memo.cached(store=RedisStore) async -- L2 only",
    "raw": "redis.asyncio await r.get(key) + pickle.loads",
    "conn": "redis.asyncio connection: send_packed_command + read_response + loads",
    "cashews": "cashews @cache(ttl) on redis://",
    "aiocache": "aiocache @cached(Cache.REDIS, PickleSerializer)",
}


# -- the server and INFO commandstats ----------------------------------------------------------


@contextmanager
def redis_server() -> Iterator[Any]:
    """A private redis-server on a free port (tests.support.redis_servers), stopped after."""
    from tests.support.redis_servers import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def command_stats(server: Any) -> dict[str, int]:
    """`INFO commandstats` as {command: calls}, over a fresh raw socket (no client set-up)."""
    text = str(server.command("INFO", "commandstats"))
    calls: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, fields = line.partition(":")
        if not sep or not name.startswith("cmdstat_"):
            continue
        for item in fields.split(","):
            key, _, number = item.partition("=")
            if key == "calls":
                calls[name.removeprefix("cmdstat_")] = int(number)
    return calls


def count_commands(server: Any, before: dict[str, int]) -> dict[str, int]:
    """Commands run since `before`, by name, without the INFO calls that measured them."""
    after = command_stats(server)
    delta = {name: calls - before.get(name, 0) for name, calls in after.items()}
    return {name: calls for name, calls in sorted(delta.items()) if calls and name != "info"}


@dataclass
class Count:
    """Commands per hit for one case."""

    hits: int
    commands: dict[str, int] = field(default_factory=dict)

    @property
    def per_hit(self) -> float:
        """All commands over hits."""
        return sum(self.commands.values()) / self.hits

    def describe(self) -> str:
        """E.g. 'get 1.00' or 'get 1.00, ping 0.0005'."""
        parts = [f"{name} {_rate(calls / self.hits)}" for name, calls in self.commands.items()]
        return ", ".join(parts) or "none"


def _rate(value: float) -> str:
    """Two decimals, or four for the rare background command (a PING every second)."""
    return f"{value:.2f}" if value >= 0.01 else f"{value:.4f}"


# -- the functions under test ---------------------------------------------------------------------


def _memo_store(url: str) -> Any:
    """An L2-only store: `memo.RedisStore` used directly as `store=` (no L1 in front)."""
    import memo

    store = memo.RedisStore(url, namespace=f"bench{uuid.uuid4().hex[:8]}", secret=SECRET)
    STORES.append(store)
    return store


STORES: list[Any] = []  # memo stores made by this suite, closed after each group


def _memo_sync(url: str) -> Callable[..., Any]:
    import memo

    def f(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Any] = memo.cached(ttl=TTL, store=_memo_store(url))(f)
    return decorated


def _memo_async(url: str) -> Callable[..., Awaitable[Any]]:
    import memo

    async def g(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Awaitable[Any]] = memo.cached(ttl=TTL, store=_memo_store(url))(g)
    return decorated


def _raw_sync(url: str) -> Callable[..., Any]:
    import redis

    client = redis.Redis.from_url(url)
    client.set(RAW_KEY, pickle.dumps(VALUE, pickle.HIGHEST_PROTOCOL), ex=TTL)
    get: Callable[[str], Any] = client.get
    loads = pickle.loads

    def raw(a: int, b: str = "x") -> Any:
        return loads(get(RAW_KEY))

    return raw


def _conn_sync(url: str) -> Callable[..., Any]:
    """The floor under redis-py's client: one connection held, the GET packed once, sent and
    read with the connection's public methods (no pool checkout, retry or callbacks)."""
    import redis

    client = redis.Redis.from_url(url)
    client.set(RAW_KEY, pickle.dumps(VALUE, pickle.HIGHEST_PROTOCOL), ex=TTL)
    connection: Any = client.connection_pool.get_connection()
    packed = connection.pack_command("GET", RAW_KEY)
    send, read = connection.send_packed_command, connection.read_response
    loads = pickle.loads

    def conn(a: int, b: str = "x") -> Any:
        send(packed)
        return loads(read())

    return conn


def _conn_async(url: str) -> Callable[..., Awaitable[Any]]:
    """`_conn_sync` with redis.asyncio's connection (connected on the first call)."""
    import redis.asyncio

    pool: Any = redis.asyncio.ConnectionPool.from_url(url)
    connection: Any = pool.make_connection()
    packed = connection.pack_command("GET", RAW_KEY)
    loads = pickle.loads

    async def conn(a: int, b: str = "x") -> Any:
        await connection.send_packed_command(packed)
        return loads(await connection.read_response())

    return conn


def _raw_async(url: str) -> Callable[..., Awaitable[Any]]:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    get: Callable[[str], Awaitable[Any]] = client.get
    loads = pickle.loads

    async def raw(a: int, b: str = "x") -> Any:
        return loads(await get(RAW_KEY))

    return raw


def _dogpile(url: str) -> Callable[..., Any]:
    from dogpile.cache import make_region

    region = make_region().configure(
        "dogpile.cache.redis",
        expiration_time=TTL,
        arguments={"url": url, "redis_expiration_time": TTL + 30, "distributed_lock": False},
    )

    def f(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Any] = region.cache_on_arguments()(f)
    return decorated


def _cashews(url: str) -> Callable[..., Awaitable[Any]]:
    from cashews import Cache

    cache = Cache()
    cache.setup(url)

    async def g(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Awaitable[Any]] = cache(ttl=TTL)(g)
    return decorated


def _aiocache(url: str) -> Callable[..., Awaitable[Any]]:
    from urllib.parse import urlsplit

    from aiocache import Cache, cached  # type: ignore[import-untyped]
    from aiocache.serializers import PickleSerializer  # type: ignore[import-untyped]

    parts = urlsplit(url)

    async def g(a: int, b: str = "x") -> Any:
        return VALUE

    decorated: Callable[..., Awaitable[Any]] = cached(
        ttl=TTL,
        cache=Cache.REDIS,
        serializer=PickleSerializer(),
        endpoint=parts.hostname,
        port=parts.port,
        namespace="bench-aiocache",
    )(g)
    return decorated


SYNC_MAKERS: dict[str, Callable[[str], Callable[..., Any]]] = {
    "memo": _memo_sync,
    "raw": _raw_sync,
    "conn": _conn_sync,
    "dogpile": _dogpile,
}
ASYNC_MAKERS: dict[str, Callable[[str], Callable[..., Awaitable[Any]]]] = {
    "memo": _memo_async,
    "raw": _raw_async,
    "conn": _conn_async,
    "cashews": _cashews,
    "aiocache": _aiocache,
}


# -- counting commands per hit ---------------------------------------------------------------------


def _count_sync(server: Any, fn: Callable[..., Any], hits: int) -> Count:
    """Warm up (the miss and the connection), then count the commands of `hits` hits."""
    fn(1, "x")
    fn(1, "x")
    time.sleep(SETTLE)
    before = command_stats(server)
    for _ in range(hits):
        fn(1, "x")
    return Count(hits, count_commands(server, before))


def _count_async(server: Any, fn: Callable[..., Awaitable[Any]], hits: int) -> Count:
    """`_count_sync` in a fresh event loop."""

    async def main() -> Count:
        await fn(1, "x")
        await fn(1, "x")
        await asyncio.sleep(SETTLE)
        before = command_stats(server)
        for _ in range(hits):
            await fn(1, "x")
        return Count(hits, count_commands(server, before))

    return asyncio.run(main())


# -- tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One table: sync or async, its cases and their printed names."""

    title: str
    names: dict[str, str]
    is_async: bool


GROUPS = (
    Group('L2 hit, sync: f(1, "x")', SYNC_NAMES, is_async=False),
    Group('L2 hit, async: await g(1, "x")', ASYNC_NAMES, is_async=True),
)


def _time(group: Group, url: str, settings: Settings) -> tuple[list[h.Timing], Any]:
    """Build fresh functions for the group and time them; also return memo's function."""
    shape = {
        "repeats": settings.repeats,
        "number": CALLS_PER_BATCH,
        "inner": min(settings.inner, 3),
    }
    if group.is_async:
        afns = {name: ASYNC_MAKERS[name](url) for name in group.names}
        aloops = {name: h.async_positional_loop(fn) for name, fn in afns.items()}
        return h.time_async(aloops, **shape), afns[MEMO]
    fns = {name: SYNC_MAKERS[name](url) for name in group.names}
    loops = {name: h.positional_loop(fn) for name, fn in fns.items()}
    return h.time_sync(loops, **shape), fns[MEMO]


def _counts(group: Group, server: Any) -> dict[str, Count]:
    """Commands per hit of every case, each with fresh functions."""
    if group.is_async:
        return {
            name: _count_async(server, ASYNC_MAKERS[name](server.url), COUNTED_HITS)
            for name in group.names
        }
    return {
        name: _count_sync(server, SYNC_MAKERS[name](server.url), COUNTED_HITS)
        for name in group.names
    }


def _ratio_range(memo: h.Timing, peer: h.Timing) -> str:
    """Spread of the paired per-repeat ratios."""
    ratios = [m / p for m, p in zip(memo.samples, peer.samples, strict=True)]
    return f"{min(ratios):.2f}..{max(ratios):.2f}"


def _row(timing: h.Timing, memo: h.Timing, names: dict[str, str], count: Count) -> list[str]:
    """case | us/call | min..max | memo/case | per-repeat | cmds/hit | target | verdict."""
    cells = [
        names[timing.name],
        f"{timing.median / 1000:.1f}",
        f"{timing.low / 1000:.1f}..{timing.high / 1000:.1f}",
    ]
    if timing is memo:
        return [*cells, "", "", f"{count.per_hit:.2f}", "", ""]
    ratio = memo.median / timing.median
    goal = f"<= {TARGET:.2f}x" if timing.name == "raw" else "(beside)"
    mark = verdict(ratio, TARGET) if timing.name == "raw" else ""
    ratio_cells = [f"{ratio:.2f}", _ratio_range(memo, timing)]
    return [*cells, *ratio_cells, f"{count.per_hit:.2f}", goal, mark]


def _check(memo_fn: Any) -> list[str]:
    """A warning if memo did not answer the timed calls as L2 hits (the figures would be void)."""
    stats = memo_fn.stats
    if stats.misses == 1 and stats.l1_hits == 0 and stats.l2_hits > 0 and stats.errors == 0:
        return []
    return [f"WARNING: memo stats {stats.as_dict()}: expected 1 miss and only L2 hits"]


def _table(group: Group, server: Any, settings: Settings) -> tuple[Table, dict[str, Any]]:
    """Time and count one group and lay it out."""
    timings, memo_fn = _time(group, server.url, settings)
    counts = _counts(group, server)
    by_name = {t.name: t for t in timings}
    memo = by_name[MEMO]
    title = (
        f"{group.title} -- us/call, median of {settings.repeats} interleaved repeats, each "
        f"the best of {min(settings.inner, 3)} batches x {CALLS_PER_BATCH} calls; "
        "~200-byte dict"
    )
    header = [
        "case",
        "us/call",
        "min..max",
        "memo/case",
        "per-repeat",
        "cmds/hit",
        "target",
        "verdict",
    ]
    table = Table(title, header)
    table.rows = [_row(t, memo, group.names, counts[t.name]) for t in timings]
    memo_count = counts[MEMO]
    table.notes = [
        *_check(memo_fn),
        f"memo: {memo_count.per_hit:.2f} commands per hit ({memo_count.describe()} per hit, "
        f"INFO commandstats delta over {memo_count.hits:,} hits, INFO itself excluded)",
        *(f"{group.names[n]}: {c.describe()} per hit" for n, c in counts.items() if n != MEMO),
        "memo/case < 1 means memo is faster; memo reads a signed entry (HMAC-SHA256) and "
        "unpickles it, the raw case unpickles an unsigned one.",
    ]
    data = {
        "cases": {
            t.name: {
                "median_ns": t.median,
                "min_ns": t.low,
                "max_ns": t.high,
                "samples_ns": t.samples,
            }
            for t in timings
        },
        "ratios": {t.name: memo.median / t.median for t in timings if t.name != MEMO},
        "commands_per_hit": {name: c.per_hit for name, c in counts.items()},
        "commands": {name: c.commands for name, c in counts.items()},
    }
    return table, data


def run(settings: Settings) -> SuiteResult:
    """Start a server, run both groups, stop the server."""
    result = SuiteResult(data={"calls_per_batch": CALLS_PER_BATCH, "repeats": settings.repeats})
    with redis_server() as server:
        for group in GROUPS:
            try:
                table, data = _table(group, server, settings)
            finally:
                _close_stores()
            result.tables.append(table)
            result.data["async" if group.is_async else "sync"] = data
    return result


def _close_stores() -> None:
    """Stop the memo stores' background threads (events subscription) and close them."""
    while STORES:
        STORES.pop().close()
