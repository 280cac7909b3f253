"""`ttl=memo.adaptive(min=..., max=...)`: each key's TTL from how often it is read.

Every read of a key (hit or miss) updates a moving average of the interval between its
reads. A stored value then lives `factor` times that interval, within [min, max]: a key read
every 10 s keeps ~40 s (several hits per computation, and fresh within a few reads), a key
read once an hour gets `max`, and a key never seen before gets `min`. The read history is a
bounded cachetools LRU, so memory stays flat however many keys pass through.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable

import cachetools

from memo._clock import CLOCK
from memo._errors import ConfigurationError

__all__ = ["Adaptive", "adaptive"]

_SMOOTHING = 0.3  # weight of the newest interval in the moving average


class Adaptive:
    """An adaptive TTL policy; pass it as `ttl=` to `@memo.cached`."""

    def __init__(self, min: float, max: float, *, factor: float = 4.0, keys: int = 10_000):
        for name, value in (("min", min), ("max", max), ("factor", factor)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0 < value < math.inf)
            ):
                raise ConfigurationError(
                    f"memo.adaptive({name}={value!r}): a positive number of seconds is needed, "
                    "e.g. memo.adaptive(min=5, max=3600)."
                )
        if min > max:
            raise ConfigurationError(f"memo.adaptive(min={min}, max={max}): min must be <= max.")
        self.min = float(min)
        self.max = float(max)
        self.factor = float(factor)
        self._reads: cachetools.LRUCache[Hashable, tuple[float, float]] = cachetools.LRUCache(
            maxsize=keys
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"memo.adaptive(min={self.min}, max={self.max}, factor={self.factor})"

    def observe(self, key: Hashable) -> None:
        """A read of key happened now."""
        now = CLOCK.monotonic()
        with self._lock:
            last, average = self._reads.get(key, (now, math.nan))
            interval = now - last
            if interval > 0:
                average = (
                    interval
                    if math.isnan(average)
                    else (_SMOOTHING * interval + (1 - _SMOOTHING) * average)
                )
            self._reads[key] = (now, average)

    def ttl(self, key: Hashable) -> float:
        """The TTL for a value of key stored now."""
        with self._lock:
            average = self._reads.get(key, (0.0, math.nan))[1]
        if math.isnan(average):
            return self.min
        return max(self.min, min(self.max, self.factor * average))


def adaptive(min: float, max: float, *, factor: float = 4.0, keys: int = 10_000) -> Adaptive:
    """A TTL chosen per key from the observed interval between its reads, within [min, max]."""
    return Adaptive(min, max, factor=factor, keys=keys)
