"""Fleet-wide stats through Redis: every process publishes its counters, any process adds
them up (what `memo stats` shows).

Layout, in the RedisStore's namespace `ns` (only `memo:*` keys, no @dangerous command: no
KEYS, no SCAN):

- hash `memo:{ns}:stats:{process}`: one field per function (`module.qualname`), its counters
  as JSON; rewritten whole by each publish (one Lua script: DEL, HSET, PEXPIRE) and expiring
  after `ttl` (3 x the publishing interval), so a dead process drops out by itself;
- set `memo:{ns}:stats:processes`: the process ids (`hostname:pid`) that published; readers
  remove members whose hash has expired.

What a process publishes to a store: the counters of the functions that use that store (as
their own store or as the Redis tier of their TieredStore), not every `memo.stats()` entry,
so the fleet view of a namespace lists that namespace's functions only. A forked child
publishes only what it counted since the fork (its parent publishes the rest), and restarts
the publishers its parent ran.

Publishing is opt-in: `start_publishing(store, interval)` runs one daemon thread per store,
which stops on `Publisher.stop()`, when the store is closed (noticed within one interval)
or garbage-collected. `start_from_env(store)` is the hook for `configure()`:
`MEMO_STATS_INTERVAL` seconds (default 10; 0 turns it off). A failed publish (Redis down) is
swallowed and logged on logger "memo" at most once per interval.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from memo._errors import ConfigurationError
from memo._policy.stats import Stats
from memo._redis.coherence import pairs
from memo._redis.store import RedisStore
from memo._redis.transport import reply_text
from memo._runtime.settings import settings

if TYPE_CHECKING:
    from memo._runtime.core import Core
    from memo._stores.protocol import Store

__all__ = [
    "DEFAULT_INTERVAL",
    "EXITED",
    "aggregate",
    "checked_process",
    "errors_by_class",
    "inherited",
    "local_stats",
    "process_id",
    "processes_key",
    "publish",
    "read_fleet",
    "read_fleet_status",
    "redis_of",
    "stats_key",
]

log = logging.getLogger("memo")

DEFAULT_INTERVAL = 10.0
EXITED = "@exited"  # a field of the last publication of a process that has exited
_PROCESSES = "processes"
_COUNTERS = tuple(f.name for f in fields(Stats) if f.name != "errors_by_class")

# KEYS[1] the process's hash; ARGV[1] its TTL in ms, then function, JSON, function, JSON...
_WRITE = """
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if #ARGV > 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return (#ARGV - 1) / 2
"""
# KEYS[1] the set of processes; ARGV[1] the process id, ARGV[2] a TTL in ms that the set
# must at least have (it outlives every member's hash; a shorter TTL is never imposed).
_JOIN = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


# -- names ---------------------------------------------------------------------------------


def process_id() -> str:
    """This process, as the fleet knows it: hostname:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def stats_key(namespace: str, process: str) -> str:
    """The hash holding process's counters."""
    return f"memo:{namespace}:stats:{process}"


def processes_key(namespace: str) -> str:
    """The set listing the processes that published."""
    return f"memo:{namespace}:stats:{_PROCESSES}"


# -- counters as JSON ------------------------------------------------------------------------


def errors_by_class(stats: Stats) -> dict[str, int]:
    """stats.errors by error class; errors the breakdown does not account for are 'unknown'."""
    by_class = {kind: count for kind, count in stats.errors_by_class.items() if count > 0}
    rest = stats.errors - sum(by_class.values())
    if rest > 0:
        by_class["unknown"] = by_class.get("unknown", 0) + rest
    return by_class


def counters(stats: Stats) -> dict[str, Any]:
    """The JSON-ready counters of stats (no derived values: hits and hit_rate follow)."""
    out: dict[str, Any] = {name: getattr(stats, name) for name in _COUNTERS}
    out["errors_by_class"] = dict(stats.errors_by_class)
    return out


def stats_from(data: Mapping[str, Any]) -> Stats:
    """A Stats from published counters; unknown fields are ignored, missing ones are 0."""
    stats = Stats()
    for name in _COUNTERS:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(stats, name, type(getattr(stats, name))(value))
    by_class = data.get("errors_by_class")
    if isinstance(by_class, Mapping):
        stats.errors_by_class = Counter(
            {str(k): int(v) for k, v in by_class.items() if isinstance(v, int)}
        )
    return stats


def local_stats(store: Store) -> dict[str, Stats]:
    """Snapshots of this process's functions that use store, by `module.qualname`."""
    redis = redis_of(store)
    out: dict[str, Stats] = {}
    for core in settings.all_cores():
        if core.store is not redis and getattr(core.store, "redis", None) is not redis:
            continue
        name = core.plan.name.removesuffix("()")
        snapshot = _own_counts(core)
        out[name] = out[name] + snapshot if name in out else snapshot
    return out


# Counters a forked child inherited from its parent, by function: the parent publishes them
# already, so the child publishes only what it counted since the fork.
inherited: weakref.WeakKeyDictionary[Core, Stats] = weakref.WeakKeyDictionary()


def _own_counts(core: Core) -> Stats:
    """core's counters less those inherited at fork (all of them after a reset())."""
    snapshot = core.plan.stats.snapshot()
    base = inherited.get(core)
    if base is None:
        return snapshot
    if any(getattr(snapshot, name) < getattr(base, name) for name in _COUNTERS):
        inherited.pop(core, None)  # reset() since the fork: every count is this process's
        return snapshot
    own = Stats(errors_by_class=snapshot.errors_by_class - base.errors_by_class)
    for name in _COUNTERS:
        setattr(own, name, getattr(snapshot, name) - getattr(base, name))
    return own


# -- publishing and reading ------------------------------------------------------------------

_last_failure: weakref.WeakKeyDictionary[RedisStore, float] = weakref.WeakKeyDictionary()


# One publication at a time in this process, each taking its counts and writing them under
# the lock: a publication that counted less (the publisher thread's round, started just
# before a call) can then never land after one that counted more and overwrite it.
_publishing = threading.Lock()


def _new_lock_in_child() -> None:
    global _publishing
    _publishing = threading.Lock()  # a forked child may inherit it held by another thread


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def publish(
    store: Store,
    *,
    process: str | None = None,
    ttl: float = 3 * DEFAULT_INTERVAL,
    exited: bool = False,
) -> bool:
    """Write this process's counters for store's functions to Redis, expiring after ttl s.

    Never raises for Redis trouble: False when nothing was written (Redis down, its circuit
    breaker open, the store closed), with a warning on logger "memo" at most once per ttl/3.
    """
    redis = redis_of(store)
    process = checked_process(process)
    if ttl <= 0:
        raise ConfigurationError(f"publish(ttl={ttl!r}): the TTL must be positive seconds.")
    if redis.closed or redis.breaker.is_open:
        return False
    with _publishing:
        return _write_counts(redis, process, ttl, exited=exited)


def _write_counts(redis: RedisStore, process: str, ttl: float, *, exited: bool) -> bool:
    args: list[str | int] = [max(1, int(ttl * 1000))]
    for name, stats in sorted(local_stats(redis).items()):
        args += [name, json.dumps(counters(stats), separators=(",", ":"), sort_keys=True)]
    if exited and len(args) > 1:  # its counts still add up; it is no longer a live process
        args += [EXITED, "1"]
    try:
        pipe = redis.client.pipeline(transaction=False)
        pipe.execute_command("EVAL", _WRITE, 1, stats_key(redis.namespace, process), *args)
        if len(args) > 1:
            pipe.execute_command("EVAL", _JOIN, 1, processes_key(redis.namespace), process, args[0])
        pipe.execute()
    except Exception as exc:
        _log_failure(redis, exc, ttl / 3)
        return False
    return True


def read_fleet(store: Store) -> dict[str, dict[str, dict[str, Any]]]:
    """Every publishing process's counters: process -> function -> counters (see
    read_fleet_status for which of them have exited)."""
    return read_fleet_status(store)[0]


def read_fleet_status(store: Store) -> tuple[dict[str, dict[str, dict[str, Any]]], set[str]]:
    """Every process's published counters, and the processes that published them at exit.

    A process publishes a last time at exit, so its counts still add up until its hash
    expires; it is not live any more.

    Members of the process set whose hash has expired are removed from it. Redis errors
    propagate (this is a read for a person or a dashboard, not part of a cached call).
    """
    redis = redis_of(store)
    client, members_key = redis.client, processes_key(redis.namespace)
    members = sorted(reply_text(m) for m in client.execute_command("SMEMBERS", members_key) or ())
    if not members:
        return {}, set()
    pipe = client.pipeline(transaction=False)
    for process in members:
        pipe.execute_command("HGETALL", stats_key(redis.namespace, process))
    replies = pipe.execute()
    fleet: dict[str, dict[str, dict[str, Any]]] = {}
    exited: set[str] = set()
    gone = []
    for process, reply in zip(members, replies, strict=True):
        published = _decode_hash(reply)
        if published:
            fleet[process] = published
            if EXITED in {reply_text(name) for name, _ in pairs(reply)}:
                exited.add(process)
        elif not reply:
            gone.append(process)
    if gone:
        client.execute_command("SREM", members_key, *gone)
    return fleet, exited


def aggregate(fleet: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Stats]:
    """Counters of read_fleet() summed over processes, by function."""
    out: dict[str, Stats] = {}
    for functions in fleet.values():
        for name, data in functions.items():
            stats = stats_from(data)
            out[name] = out[name] + stats if name in out else stats
    return dict(sorted(out.items()))


# -- helpers -----------------------------------------------------------------------------------


def redis_of(store: Store) -> RedisStore:
    """The RedisStore itself, or a TieredStore's Redis tier."""
    redis = getattr(store, "redis", store)
    if not isinstance(redis, RedisStore):
        raise ConfigurationError(
            f"fleet stats need a memo.RedisStore or a memo.TieredStore, not {store!r}: "
            "an in-process store has no fleet."
        )
    return redis


def checked_process(process: str | None) -> str:
    if process is None:
        return process_id()
    if not process or process == _PROCESSES or any(c.isspace() for c in process):
        raise ConfigurationError(
            f"publish(process={process!r}): use a non-empty id without spaces other than "
            f"{_PROCESSES!r} (the default is hostname:pid)."
        )
    return process


def _log_failure(redis: RedisStore, exc: Exception, period: float) -> None:
    now = time.monotonic()
    last = _last_failure.get(redis)
    if last is not None and now - last < period:
        return
    _last_failure[redis] = now
    first_line = (str(exc).splitlines() or [""])[0][:200]
    log.warning(
        "could not publish stats to Redis %s (%s: %s); will try again",
        redis.name,
        type(exc).__name__,
        first_line,
    )


def _decode_hash(reply: Any) -> dict[str, dict[str, Any]]:
    """HGETALL's reply, each value parsed from JSON (unreadable fields are left out)."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw in pairs(reply):
        try:
            data = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if isinstance(data, dict):
            out[name] = data
    return out
