"""Per-function counters, kept as plain attributes so the hit path pays one increment."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

__all__ = ["CacheInfo", "Stats"]


class CacheInfo(NamedTuple):
    """What `f.cache_info()` returns, with `functools.lru_cache`'s fields and meaning: hits
    (in any tier) and misses since the last `cache_clear()`, the in-process tier's maxsize
    (None without one) and how many of its entries are this function's."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


@dataclass(slots=True)
class Stats:
    """Counters of one cached function (or, from `memo.stats()`, of several added up).

    Increments are plain attribute updates: exact in single-threaded code, and at worst
    an undercount by a few under heavy thread contention (no lock on the hit path).
    """

    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    errors: int = 0
    waits: int = 0
    refreshes: int = 0
    stale: int = 0
    compute_time: float = 0.0
    errors_by_class: Counter[str] = field(default_factory=Counter)

    @property
    def hits(self) -> int:
        """Hits in any tier."""
        return self.l1_hits + self.l2_hits

    @property
    def hit_rate(self) -> float:
        """hits / (hits + misses), 0.0 before the first call."""
        calls = self.hits + self.misses
        return self.hits / calls if calls else 0.0

    def __add__(self, other: Stats) -> Stats:
        return Stats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def error(self, kind: str) -> None:
        """Count one degraded call, by the class of the error behind it."""
        self.errors += 1
        self.errors_by_class[kind or "unknown"] += 1

    def reset(self) -> None:
        """Zero every counter."""
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))())

    def snapshot(self) -> Stats:
        """A copy that later calls do not change."""
        return replace(self, errors_by_class=Counter(self.errors_by_class))

    def as_dict(self) -> dict[str, Any]:
        """Counters plus `hits` and `hit_rate`, for printing and exporting."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["errors_by_class"] = dict(self.errors_by_class)
        out["hits"] = self.hits
        out["hit_rate"] = self.hit_rate
        return out
