"""The caching policy, written once and free of I/O.

A policy is a generator that yields storage operations and receives their results, the way
httpx writes auth flows: `_drivers.py` runs it with blocking calls for sync functions and
with awaits for `async def` ones. Everything about *what* to do on a hit, a miss, a
concurrent miss or a failure lives here; only *how* to do it exists in two colours.
"""

from __future__ import annotations

import math
import pickle
import random
import secrets
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from memo._clock import CLOCK
from memo._entry import CacheKey, Entry
from memo._errors import SerializationError
from memo._flight import Outcome
from memo._stats import Stats

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
    "cached_flow",
    "refresh_flow",
]


# -- operations a policy yields ------------------------------------------------------------


@dataclass(slots=True)
class Lookup:
    """Read key from the store (only its in-process tier if local_only) → Entry | None."""

    key: CacheKey
    local_only: bool = False


@dataclass(slots=True)
class Put:
    """Write value under key for ttl seconds → whether it was written.

    token: write only while holding that lease; mode "nx": only if no entry is there.
    """

    key: CacheKey
    value: Any
    ttl: float | None
    delta: float
    tags: tuple[str, ...]
    token: str = ""
    mode: str = "set"


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
    stats: Stats = field(default_factory=Stats)
    warned: set[str] = field(default_factory=set)

    def ttl_for(self, value: Any) -> float | None:
        """This result's TTL: none_ttl for None, jitter drawn below the nominal TTL."""
        ttl = self.none_ttl if value is None and self.none_ttl is not None else self.ttl
        if ttl is not None and self.jitter:
            ttl *= 1.0 - random.random() * self.jitter
        return ttl

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

    def warn_once(self, topic: str, message: str) -> None:
        """A RuntimeWarning the first time topic comes up for this function."""
        if topic not in self.warned:
            self.warned.add(topic)
            warnings.warn(message, RuntimeWarning, stacklevel=6)


_UNPACKABLE: Any = object()


# -- the policies -------------------------------------------------------------------------

_WAIT_SLICE = 1.0  # a waiter looks again at least this often, in case the holder died


def cached_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """Cache-aside read with single-flight in the process and a lease across processes."""
    entry = yield Lookup(key)
    if entry is not None:
        return _hit(plan, entry)
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


def _hit(plan: Plan, entry: Entry) -> Any:
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
    for _ in range(math.ceil(plan.lock_timeout / _WAIT_SLICE) + 1):
        remaining = deadline - CLOCK.monotonic()
        if claimed is not False or remaining <= 0:
            break
        yield Wait(key, min(remaining, _WAIT_SLICE))
        entry = yield Lookup(key)
        if entry is not None:
            plan.stats.waits += 1
            return plan.unpack(entry.value)
        claimed = yield Claim(key, token)
    if claimed is True:
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
    if plan.should_store(value):
        stored = plan.pack(value)
        if stored is not _UNPACKABLE:
            tags = plan.tags(normalised) if plan.tags is not None else ()
            try:
                yield Put(key, stored, plan.ttl_for(value), delta, tags, token, mode)
            except SerializationError as exc:
                plan.warn_once(
                    "serialize",
                    f"{plan.name}: its result cannot be stored in Redis ({exc}); it stays in "
                    "this process's L1 only. Return a value the serializer supports, or "
                    "configure a secret= so pickle can be used.",
                )
    return value
