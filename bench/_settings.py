"""Run-wide settings every suite receives."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """How hard to measure: `--quick` trades precision for a smoke-test run time.

    `number` is calls per timed batch, `inner` the batches per repeat (the best one counts),
    `entries` the memory suite's fill (the target is stated at 100k; `--quick` fills 25k, so
    its bytes/entry are indicative only).
    """

    repeats: int = 15
    number: int = 10_000
    inner: int = 5
    entries: int = 100_000
    quick: bool = False

    @classmethod
    def make(cls, *, quick: bool, repeats: int | None = None) -> Settings:
        """Defaults for a normal or a `--quick` run; `repeats` overrides either."""
        base = cls(repeats=5, inner=3, entries=25_000, quick=True) if quick else cls()
        return base if repeats is None else dataclasses.replace(base, repeats=repeats)
