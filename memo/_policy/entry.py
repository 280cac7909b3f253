"""What a tier hands back for a hit: the value and the little metadata the policies need."""

from __future__ import annotations

from typing import Any

__all__ = ["FOREVER", "Entry", "RemoteEntry", "localize"]


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
        # Entry's fields set here, not through super().__init__: one call less per L2 hit.
        self.value = value
        self.expires = expires
        self.delta = delta
        self.soft = FOREVER
        self.used = False
        self.created = created


def localize(
    value: Any,
    created: float,
    expires: float | None,
    delta: float,
    soft: float | None,
    *,
    now_wall: float,
    now: float,
) -> RemoteEntry | None:
    """An entry read from L2 on this process's clock, or None once its TTL has passed.

    The writer stamped wall-clock deadlines; each becomes `now` plus the time it has left, so
    the soft deadline (when a hit should refresh) is the writer's, whatever this clock says.
    """
    remaining = None if expires is None else expires - now_wall
    if remaining is not None and remaining <= 0:
        return None
    entry = RemoteEntry(value, FOREVER if remaining is None else now + remaining, delta, created)
    if soft is not None:
        entry.soft = now + (soft - now_wall)
    return entry
