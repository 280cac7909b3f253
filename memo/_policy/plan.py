"""What a decorated function decided at decoration, in the form the policy reads."""

from __future__ import annotations

import copy
import logging
import math
import pickle
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memo._keys.key import CacheKey
from memo._policy.adaptive import Adaptive
from memo._policy.entry import Entry
from memo._policy.stats import Stats

__all__ = ["UNPACKABLE", "L1Copy", "Plan", "log"]


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
    # Where this function's recent L1 misses ended: > 0 computed, < 0 found in the shared
    # tier (bounded, so it follows a change of workload within a few calls).
    miss_bias: int = field(init=False, default=0)
    # Whether an L1 miss should skip its own Redis GET and leave the lookup to the leader's
    # Fetch, which asks for the entry and the lease in one round trip: a miss then costs two
    # round trips instead of three, but an L2 hit pays a script instead of a GET. So it is
    # done while this function's L1 misses were mostly misses in Redis too. A field kept in
    # step with miss_bias, read on every miss without a call.
    fetch_first: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.refreshes = bool(self.refresh_at or self.stale_ttl or self.early_beta)
        self._decide_fetch()

    def found_remote(self) -> None:
        """An L1 miss found its entry in the shared tier."""
        if self.miss_bias > -_BIAS_BOUND:
            self.miss_bias -= 1
            self._decide_fetch()

    def computed(self) -> None:
        """An L1 miss found nothing in the shared tier either."""
        if self.miss_bias < _BIAS_BOUND:
            self.miss_bias += 1
            self._decide_fetch()

    def _decide_fetch(self) -> None:
        self.fetch_first = self.miss_bias >= 0 and self.lock and not self.refreshes

    def lifetimes(self, value: Any, key: CacheKey) -> tuple[float | None, float | None]:
        """(how long the entry lives, when a hit should start refreshing it), in seconds.

        The TTL: none_ttl for None, adaptive per key, jitter below nominal.
        """
        if value is None and self.none_ttl is not None:
            ttl: float | None = self.none_ttl
        elif self.adaptive is not None:
            ttl = self.adaptive.ttl(key.local)
        else:
            ttl = self.ttl
        if ttl is not None and self.jitter:
            ttl *= 1.0 - random.random() * self.jitter
        if ttl is None or not self.refreshes:
            return ttl, None
        stale = self.stale_ttl or 0.0
        soft = ttl * self.refresh_at if self.refresh_at else ttl
        return ttl + stale, soft

    def due(self, entry: Entry, now: float) -> bool:
        """Whether a hit on entry at now should start a background refresh.

        Early refresh is XFetch (Vattani et al., VLDB 2015): refresh when
        now - δ·β·ln(rand()) ≥ expiry, so keys that are slow to compute refresh earlier
        and the chance grows as expiry nears, one caller at a time.
        """
        if self.early_beta:
            return now - entry.delta * self.early_beta * math.log(_unit()) >= entry.soft
        return now >= entry.soft

    def storable(self, value: Any) -> Any:
        """What L1 keeps of a result (pack), or UNPACKABLE when negative caching or
        `condition=` refuse it (one call on every miss, not two)."""
        if value is None and not self.cache_none:
            return UNPACKABLE
        if self.condition is not None and not self.condition(value):
            return UNPACKABLE
        return self.pack(value) if self.l1_copy else value

    def pack(self, value: Any) -> Any:
        """With l1_copy, the pickled copy L1 keeps instead of the object; else the object."""
        if not self.l1_copy:
            return value
        try:
            return L1Copy(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            self.warn_once(
                "l1_copy",
                f"{self.name}: l1_copy=True cannot pickle a {type(value).__qualname__} "
                f"result ({exc}); it is not cached. Return a picklable value or drop l1_copy.",
            )
            return UNPACKABLE

    def unpack(self, stored: Any) -> Any:
        """The value a caller receives from what a tier holds (a fresh copy with l1_copy).

        Only an `L1Copy`, made by this process, is unpickled. A value read from Redis was
        decoded by the store's codec (pickle only when signed); under l1_copy it is copied
        in memory, never taken for pickle bytes: unsigned bytes from Redis are not trusted.
        """
        if not self.l1_copy:
            return stored
        if type(stored) is L1Copy:
            return pickle.loads(stored.data)
        return copy.deepcopy(stored)

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


UNPACKABLE: Any = object()


class L1Copy:
    """l1_copy's pickled result, as this process made it: what L1 keeps so that each caller
    gets a copy of its own. The shared tier is handed the value instead (`restore()`)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def restore(self) -> Any:
        """The value again (this process's own bytes: safe to unpickle)."""
        return pickle.loads(self.data)


_BIAS_BOUND = 4
log = logging.getLogger("memo")


def _unit() -> float:
    """A uniform draw in (0, 1]: ln(0) must never happen."""
    return 1.0 - random.random()
