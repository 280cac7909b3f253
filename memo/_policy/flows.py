"""The caching policy, written once and free of I/O.

A policy is a generator that yields storage operations and receives their results, the way
httpx writes auth flows: `_runtime/drivers.py` runs it with blocking calls for sync functions and
with awaits for `async def` ones. Everything about *what* to do on a hit, a miss, a
concurrent miss or a failure lives here; only *how* to do it exists in two colours.
"""

from __future__ import annotations

import logging
import math
import pickle
import random
import secrets
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from memo._clock import CLOCK
from memo._errors import SerializationError
from memo._policy.adaptive import Adaptive
from memo._policy.entry import CacheKey, Entry
from memo._policy.stats import Stats
from memo._runtime.flight import Outcome

__all__ = [
    "LEAD",
    "Claim",
    "Compute",
    "Land",
    "Lead",
    "Lookup",
    "Plan",
    "Put",
    "Release",
    "Remove",
    "Wait",
    "hit",
    "miss_flow",
    "prepare",
    "refresh_flow",
    "write_flow",
]


# -- operations a policy yields ------------------------------------------------------------


@dataclass(slots=True)
class Lookup:
    """Read key from the store → Entry | None: only its in-process tier if local_only, past
    it (the shared tier) if fresh."""

    key: CacheKey
    local_only: bool = False
    fresh: bool = False


@dataclass(slots=True)
class Put:
    """Write value under key for ttl seconds → whether it was written.

    token: write only while holding that lease; mode "nx": only if no entry is there;
    soft: seconds until a hit should start a background refresh (None: never).
    """

    key: CacheKey
    value: Any
    ttl: float | None
    delta: float
    tags: tuple[str, ...]
    token: str = ""
    mode: str = "set"
    soft: float | None = None


@dataclass(slots=True)
class Claim:
    """Take the key's lease across processes → True, False (held elsewhere), None (no L2)."""

    key: CacheKey
    token: str


@dataclass(slots=True)
class Wait:
    """Sleep until the key is filled by its lease holder, or timeout → None."""

    key: CacheKey
    timeout: float


@dataclass(slots=True)
class Release:
    """Give a lease back after a failed compute → None."""

    key: CacheKey
    token: str


@dataclass(slots=True)
class Remove:
    """Delete key → bool (whether a live entry was removed)."""

    key: CacheKey


@dataclass(slots=True)
class Compute:
    """Run the user's function → (value, seconds it took); its exception is thrown back."""


@dataclass(slots=True)
class Lead:
    """Join the key's in-process flight → LEAD, an Outcome to adopt, or None (compute alone)."""

    key: CacheKey
    timeout: float


@dataclass(slots=True)
class Land:
    """End the flight this caller leads, handing outcome (None: followers compute) → None."""

    key: CacheKey
    outcome: Outcome | None


LEAD: Any = object()
Flow = Generator[Any, Any, Any]


# -- what a decorated function decided at decoration -----------------------------------


@dataclass(slots=True)
class Plan:
    """The options of one cached function, validated, in the form the policy reads."""

    name: str
    ttl: float | None
    jitter: float = 0.0
    cache_none: bool = True
    none_ttl: float | None = None
    condition: Callable[[Any], bool] | None = None
    lock: bool = True
    lock_timeout: float = 10.0
    l1_copy: bool = False
    tags: Callable[[tuple[Any, ...]], tuple[str, ...]] | None = None
    refresh_at: float | None = None  # refresh-ahead: fraction of the TTL
    stale_ttl: float | None = None  # served this long past the TTL while one caller refreshes
    early_beta: float | None = None  # XFetch's β
    adaptive: Adaptive | None = None
    stats: Stats = field(default_factory=Stats)
    warned: set[str] = field(default_factory=set)

    refreshes: bool = field(init=False, default=False)  # hits may start background refreshes

    def __post_init__(self) -> None:
        self.refreshes = bool(self.refresh_at or self.stale_ttl or self.early_beta)

    def ttl_for(self, value: Any, key: CacheKey | None = None) -> float | None:
        """This result's TTL: none_ttl for None, adaptive per key, jitter below nominal."""
        if value is None and self.none_ttl is not None:
            ttl: float | None = self.none_ttl
        elif self.adaptive is not None and key is not None:
            ttl = self.adaptive.ttl(key.local)
        else:
            ttl = self.ttl
        if ttl is not None and self.jitter:
            ttl *= 1.0 - random.random() * self.jitter
        return ttl

    def lifetimes(self, value: Any, key: CacheKey) -> tuple[float | None, float | None]:
        """(how long the entry lives, when a hit should start refreshing it), in seconds."""
        ttl = self.ttl_for(value, key)
        if ttl is None or not self.refreshes:
            return ttl, None
        stale = self.stale_ttl or 0.0
        soft = ttl * self.refresh_at if self.refresh_at else ttl
        return ttl + stale, soft

    def soft_rule(self) -> tuple[float, float] | None:
        """lifetimes() as (fraction, minus) of the stored lifetime, for entries read from L2."""
        if not self.refreshes:
            return None
        stale = self.stale_ttl or 0.0
        fraction = self.refresh_at or 1.0
        return fraction, fraction * stale

    def due(self, entry: Entry, now: float) -> bool:
        """Whether a hit on entry at now should start a background refresh.

        Early refresh is XFetch (Vattani et al., VLDB 2015): refresh when
        now - δ·β·ln(rand()) ≥ expiry, so keys that are slow to compute refresh earlier
        and the chance grows as expiry nears, one caller at a time.
        """
        if self.early_beta:
            return now - entry.delta * self.early_beta * math.log(_unit()) >= entry.soft
        return now >= entry.soft

    def should_store(self, value: Any) -> bool:
        """Negative caching and `condition=` decide whether a result is kept."""
        if value is None and not self.cache_none:
            return False
        return self.condition is None or bool(self.condition(value))

    def pack(self, value: Any) -> Any:
        """With l1_copy, the bytes L1 keeps instead of the object; else the object."""
        if not self.l1_copy:
            return value
        try:
            return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self.warn_once(
                "l1_copy",
                f"{self.name}: l1_copy=True cannot pickle a {type(value).__qualname__} "
                f"result ({exc}); it is not cached. Return a picklable value or drop l1_copy.",
            )
            return _UNPACKABLE

    def unpack(self, stored: Any) -> Any:
        """The value a caller receives from what L1 holds (a fresh copy with l1_copy)."""
        return pickle.loads(stored) if self.l1_copy else stored

    def log_once(self, topic: str, message: str) -> None:
        """A warning on logger "memo" the first time topic comes up for this function."""
        if topic not in self.warned:
            self.warned.add(topic)
            log.warning(message)

    def warn_once(self, topic: str, message: str) -> None:
        """A RuntimeWarning the first time topic comes up for this function."""
        if topic not in self.warned:
            self.warned.add(topic)
            warnings.warn(message, RuntimeWarning, stacklevel=6)


_UNPACKABLE: Any = object()
log = logging.getLogger("memo")


def _unit() -> float:
    """A uniform draw in (0, 1]: ln(0) must never happen."""
    return 1.0 - random.random()


# -- the policies -------------------------------------------------------------------------

_WAIT_SLICE = 1.0  # a waiter looks again at least this often, in case the holder died


def miss_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """A lookup found nothing: single-flight in the process, a lease across processes.

    (The lookup itself is the caller's, in its colour, so that a hit never pays for a
    generator; `hit()` is what a found entry goes through.)
    """
    plan.stats.misses += 1
    if not plan.lock:
        return (yield from _compute_and_store(plan, key, normalised))
    joined = yield Lead(key, plan.lock_timeout)
    if joined is not LEAD:
        plan.stats.waits += 1
        if joined is not None:
            return joined.unwrap()
        return (yield from _compute_and_store(plan, key, normalised))
    return (yield from _lead(plan, key, normalised))


def refresh_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """Recompute, store and return, whatever the store holds."""
    plan.stats.refreshes += 1
    return (yield from _compute_and_store(plan, key, normalised))


def hit(plan: Plan, entry: Entry) -> Any:
    """A lookup found entry: count it by tier and hand out the value."""
    if entry.remote:
        plan.stats.l2_hits += 1
    else:
        plan.stats.l1_hits += 1
    return plan.unpack(entry.value)


def _lead(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    # A leader that finished between our lookup and our election has stored its value.
    entry = yield Lookup(key, local_only=True)
    if entry is not None:
        plan.stats.waits += 1  # served by another caller's compute, as a follower would be
        yield Land(key, Outcome(plan.unpack(entry.value)))
        return plan.unpack(entry.value)
    try:
        value = yield from _claim_and_compute(plan, key, normalised)
    except Exception as exc:
        yield Land(key, Outcome(error=exc))
        raise
    except BaseException:
        # Cancelled or interrupted: followers must not inherit that; they compute alone.
        yield Land(key, None)
        raise
    yield Land(key, Outcome(value))
    return value


def _claim_and_compute(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """Compute under the key's lease; or wait for its holder, bounded by lock_timeout."""
    token = secrets.token_hex(8)
    claimed = yield Claim(key, token)
    deadline = CLOCK.monotonic() + plan.lock_timeout
    waited = False
    for _ in range(math.ceil(plan.lock_timeout / _WAIT_SLICE) + 1):
        remaining = deadline - CLOCK.monotonic()
        if claimed is not False or remaining <= 0:
            break
        yield Wait(key, min(remaining, _WAIT_SLICE))
        waited = True
        entry = yield Lookup(key)
        if entry is not None:
            plan.stats.waits += 1
            return plan.unpack(entry.value)
        claimed = yield Claim(key, token)
    if claimed is True:
        if waited:  # the holder may have stored it between our last look and our claim
            entry = yield Lookup(key)
            if entry is not None:
                yield Release(key, token)
                plan.stats.waits += 1
                return plan.unpack(entry.value)
        try:
            return (yield from _compute_and_store(plan, key, normalised, token))
        except BaseException:
            yield Release(key, token)
            raise
    # No L2 answer (None): write as usual. Waited past the bound (False): compute here,
    # but never overwrite what the lease holder may store meanwhile.
    mode = "set" if claimed is None else "nx"
    return (yield from _compute_and_store(plan, key, normalised, "", mode))


def _compute_and_store(
    plan: Plan, key: CacheKey, normalised: tuple[Any, ...], token: str = "", mode: str = "set"
) -> Flow:
    value, delta = yield Compute()
    plan.stats.compute_time += delta
    yield from _store(plan, key, normalised, value, delta=delta, token=token, mode=mode)
    return value


def background_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """A refresh started by a hit: one per key across processes; a failure keeps the entry."""
    token = secrets.token_hex(8)
    claimed = yield Claim(key, token)
    if claimed is not True:
        # Held elsewhere (another process refreshes it), or Redis did not answer: the entry
        # is still served, and a later hit asks again. Never a second, unguarded compute.
        return None
    current = yield Lookup(key, fresh=True)
    if current is not None and not plan.due(current, CLOCK.monotonic()):
        yield Release(key, token)  # refreshed meanwhile (by another process): nothing to do
        return None
    try:
        yield from _compute_and_store(plan, key, normalised, token)
    except BaseException as exc:  # cancelled too: a lease must never outlive its refresh
        yield Release(key, token)
        if not isinstance(exc, Exception):
            raise
        plan.stats.error(type(exc).__name__)
        plan.log_once(
            "refresh",
            f"{plan.name}: background refresh failed ({exc!r}); "
            "the cached value is kept until it expires",
        )
        return None
    plan.stats.refreshes += 1
    return None


def prepare(
    plan: Plan, key: CacheKey, normalised: tuple[Any, ...], value: Any, delta: float
) -> tuple[CacheKey, Any, float | None, float, tuple[str, ...], float | None] | None:
    """The (key, value, ttl, delta, tags, soft) a batch write stores, or None if not kept."""
    if not plan.should_store(value):
        return None
    stored = plan.pack(value)
    if stored is _UNPACKABLE:
        return None
    tags = plan.tags(normalised) if plan.tags is not None else ()
    ttl, soft = plan.lifetimes(value, key)
    return key, stored, ttl, delta, tags, soft


def write_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...], value: Any) -> Flow:
    """Make value this call's entry (write-through); drop the entry if options refuse value."""
    if not (yield from _store(plan, key, normalised, value, delta=0.0, token="", mode="set")):
        yield Remove(key)


def _store(
    plan: Plan,
    key: CacheKey,
    normalised: tuple[Any, ...],
    value: Any,
    *,
    delta: float,
    token: str,
    mode: str,
) -> Flow:
    """Put value under key if the options keep it; whether it was handed to the store."""
    if not plan.should_store(value):
        return False
    stored = plan.pack(value)
    if stored is _UNPACKABLE:
        return False
    tags = plan.tags(normalised) if plan.tags is not None else ()
    ttl, soft = plan.lifetimes(value, key)
    try:
        written = yield Put(key, stored, ttl, delta, tags, token, mode, soft)
        if token and not written:
            yield Release(key, token)  # a write that did not land must not hold the lease
    except SerializationError as exc:
        plan.warn_once(
            "serialize",
            f"{plan.name}: its result cannot be stored in Redis ({exc}); it stays in "
            "this process's L1 only. Return a value the serializer supports, or "
            "configure a secret= so pickle can be used.",
        )
    return True
