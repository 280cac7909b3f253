"""Suite `typed`: an L2 hit on a dataclass result, typed (no secret) against signed pickle.

A function annotated `-> User` (a dataclass with a nested dataclass, a datetime, a list and a
dict; ~300 bytes of JSON) over a bare `memo.RedisStore` (no L1: every timed call is an L2
hit). Three stores hold the same value: no secret, json (the default: typed json payload,
xxh3 checksum, msgspec decode); no secret, serializer='msgpack' (typed msgpack); and a
secret with pickle, the default when signed (HMAC-SHA256, `pickle.loads`). The target:
typed at most 1.0x signed pickle. A second table times the codec alone (`Codec.decode` of
the stored entry, no network), where the difference between the two lies. Interleaved in one
process by the harness; the suite starts its own `redis-server` and stops it at the end.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable
from typing import Any

from bench import _harness as h
from bench._report import SuiteResult, Table, verdict
from bench._settings import Settings
from bench.l2_hit import redis_server

__all__ = ["User", "run"]

TTL = 300
SECRET = "bench-secret"
TARGET = 1.0  # typed / signed pickle
CALLS_PER_BATCH = 400
BASE = "pickle"
NAMES = {
    "json": "typed json, no secret (default)",
    "msgpack": "typed msgpack, no secret",
    "pickle": "pickle, signed (secret=)",
}


@dataclasses.dataclass
class Friend:
    """A nested dataclass."""

    id: int
    name: str


@dataclasses.dataclass
class User:
    """The cached result."""

    id: int
    name: str
    email: str
    joined: datetime.datetime
    roles: list[str]
    score: float
    active: bool
    friends: list[Friend]
    prefs: dict[str, int]


VALUE = User(
    12345,
    "Ada Lovelace",
    "ada@example.com",
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    ["admin", "editor"],
    97.5,
    True,
    [Friend(1, "Charles"), Friend(2, "Mary")],
    {"theme": 1, "lang": 2},
)


def get_user(a: int, b: str = "x") -> User:
    """The function every store caches (module level: its annotation resolves)."""
    return VALUE


STORES: list[Any] = []


def _store(url: str, case: str) -> Any:
    import memo

    namespace = f"bench{uuid.uuid4().hex[:8]}"
    if case == "pickle":
        store = memo.RedisStore(url, namespace=namespace, secret=SECRET)
    else:
        store = memo.RedisStore(url, namespace=namespace, serializer=case)
    STORES.append(store)
    return store


def _functions(url: str) -> dict[str, Callable[..., Any]]:
    import memo

    made = {case: memo.cached(ttl=TTL, store=_store(url, case))(get_user) for case in NAMES}
    for case, function in made.items():
        function(1)  # the miss that stores the entry
        assert function(1) == VALUE and type(function(1)) is User, case
    return made


def _decoders(made: dict[str, Any]) -> dict[str, h.SyncLoop]:
    """Codec.decode of each store's stored entry, alone (no network)."""
    loops: dict[str, h.SyncLoop] = {}
    for case, function in made.items():
        store = STORES[list(NAMES).index(case)]
        key = function.cache_key(1)
        data = store.backend.client.get(key)
        codec = store.entries.codec_for(key)
        assert codec.decode(key, data).value == VALUE

        def loop(n: int, decode: Any = codec.decode, key: str = key, data: bytes = data) -> None:
            for _ in range(n):
                decode(key, data)

        loops[case] = loop
    return loops


def _table(title: str, timings: list[h.Timing], note: str) -> tuple[Table, dict[str, Any]]:
    by_name = {t.name: t for t in timings}
    base = by_name[BASE]
    table = Table(title, ["case", "us/call", "min..max", "case/pickle", "per-repeat", "verdict"])
    for t in timings:
        cells = [
            NAMES[t.name],
            f"{t.median / 1000:.2f}",
            f"{t.low / 1000:.2f}..{t.high / 1000:.2f}",
        ]
        if t is base:
            table.rows.append([*cells, "", "", ""])
            continue
        ratio = t.median / base.median
        paired = [s / b for s, b in zip(t.samples, base.samples, strict=True)]
        spread = f"{min(paired):.2f}..{max(paired):.2f}"
        table.rows.append([*cells, f"{ratio:.2f}", spread, verdict(ratio, TARGET)])
    table.notes = [note, f"target: typed <= {TARGET:.2f}x signed pickle"]
    data = {
        "median_ns": {t.name: t.median for t in timings},
        "ratios": {t.name: t.median / base.median for t in timings if t is not base},
    }
    return table, data


def run(settings: Settings) -> SuiteResult:
    """Start a server, time the L2 hits and the codec alone, stop the server."""
    result = SuiteResult(data={"calls_per_batch": CALLS_PER_BATCH, "repeats": settings.repeats})
    shape = {"repeats": settings.repeats, "inner": min(settings.inner, 3)}
    with redis_server() as server:
        try:
            made = _functions(server.url)
            loops = {case: h.positional_loop(fn) for case, fn in made.items()}
            hits = h.time_sync(loops, **shape, number=CALLS_PER_BATCH)
            decodes = h.time_sync(_decoders(made), **shape, number=settings.number // 4)
            for fn in made.values():
                assert fn.stats.l1_hits == 0 and fn.stats.errors == 0, fn.stats
        finally:
            while STORES:
                STORES.pop().close()
    for name, timings, note in (
        ("l2_hit", hits, "an L2 hit through the cached function: one GET, check, decode"),
        ("decode", decodes, "Codec.decode of the stored entry alone (no network)"),
    ):
        title = (
            f"typed storage, {name}: get_user(1) -> User dataclass -- us/call, median of "
            f"{settings.repeats} interleaved repeats"
        )
        table, data = _table(title, timings, note)
        result.tables.append(table)
        result.data[name] = data
    return result
