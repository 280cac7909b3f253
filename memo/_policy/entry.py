"""What a tier hands back for a hit: the value and the little metadata the policies need."""

from __future__ import annotations

from typing import Any

__all__ = ["FOREVER", "Entry", "RemoteEntry"]


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
