"""What a tier hands back for a hit: the value and the little metadata the policies need."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["CacheKey", "Entry"]


class Entry:
    """A cached value with its L1 deadline (monotonic seconds) and compute time δ.

    `used` is L1's second-chance bit: a hit sets it, eviction passes over a set entry once.
    """

    __slots__ = ("delta", "expires", "used", "value")
    remote = False  # read from L2 (RemoteEntry sets it), for the l1/l2 hit counters

    def __init__(self, value: Any, expires: float, delta: float = 0.0) -> None:
        self.value = value
        self.expires = expires
        self.delta = delta
        self.used = False

    def __repr__(self) -> str:
        return f"Entry(value={self.value!r}, expires={self.expires!r}, delta={self.delta!r})"


class CacheKey:
    """Both names of one cached call: the L1 key and, built only when a tier asks, the Redis key."""

    __slots__ = ("_make_remote", "_remote", "failed", "local")

    def __init__(self, local: Hashable, make_remote: Any) -> None:
        self.local = local
        self._make_remote = make_remote
        self._remote: str | None = None
        self.failed = False  # set by a tier that degraded on this key (counted as an error)

    @property
    def remote(self) -> str:
        """The Redis key; computing it hashes the canonical encoding, so it is done once."""
        if self._remote is None:
            self._remote = self._make_remote()
        return self._remote

    def __repr__(self) -> str:
        return f"CacheKey({self.local!r})"
