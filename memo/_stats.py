"""Per-function counters, kept as plain attributes so the hit path pays one increment."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Stats"]


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
    compute_time: float = 0.0

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

    def reset(self) -> None:
        """Zero every counter."""
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))())

    def snapshot(self) -> Stats:
        """A copy that later calls do not change."""
        return Stats(*(getattr(self, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        """Counters plus `hits` and `hit_rate`, for printing and exporting."""
        out: dict[str, float] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["hits"] = self.hits
        out["hit_rate"] = self.hit_rate
        return out
