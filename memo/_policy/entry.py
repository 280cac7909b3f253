"""What a tier hands back for a hit: the value and the little metadata the policies need."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["CacheKey", "Entry"]


FOREVER = float("inf")


class Entry:
    """A cached value with its L1 deadlines (monotonic seconds) and compute time δ.

    `expires`: after it the entry is gone. `soft`: after it a hit still returns the value
    but starts one background refresh (refresh-ahead, early refresh, stale-while-refresh);
    the shared `FOREVER` for functions that never refresh. `used` is L1's second-chance
    bit: a hit sets it, eviction passes over a set entry once.
    """

    __slots__ = ("delta", "expires", "soft", "used", "value")
    remote = False  # read from L2 (RemoteEntry sets it), for the l1/l2 hit counters

    def __init__(
        self, value: Any, expires: float, delta: float = 0.0, soft: float = FOREVER
    ) -> None:
        self.value = value
        self.expires = expires
        self.delta = delta
        self.soft = soft
        self.used = False

    def __repr__(self) -> str:
        return f"Entry(value={self.value!r}, expires={self.expires!r}, delta={self.delta!r})"


class RemoteEntry(Entry):
    """An entry read from L2; `expires` is already turned into an L1 (monotonic) deadline."""

    __slots__ = ("created",)
    remote = True

    def __init__(self, value: Any, expires: float, delta: float, created: float) -> None:
        super().__init__(value, expires, delta)
        self.created = created


class CacheKey:
    """Both names of one cached call: the L1 key and, built only when a tier asks, the Redis key."""

    __slots__ = ("_make_remote", "_remote", "error", "failed", "local", "outage", "soft_rule")

    def __init__(self, local: Hashable, make_remote: Any, soft_rule: Any = None) -> None:
        self.local = local
        self._make_remote = make_remote
        self._remote: str | None = None
        self.failed = False  # set by a tier that degraded on this key (counted as an error)
        self.error = ""  # the class of that tier's error, for the per-class counters
        self.outage = False  # the server looked down: the rest of this call skips Redis
        # (fraction, minus) of a refreshing function: an entry read from L2 becomes soft at
        # created + fraction·(expires - created) - minus, the same rule its writer used.
        self.soft_rule: tuple[float, float] | None = soft_rule

    @property
    def remote(self) -> str:
        """The Redis key; computing it hashes the canonical encoding, so it is done once."""
        if self._remote is None:
            self._remote = self._make_remote()
        return self._remote

    def __repr__(self) -> str:
        return f"CacheKey({self.local!r})"
