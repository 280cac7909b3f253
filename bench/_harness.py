"""Interleaved timing: every case runs once per repeat, in a rotated order, in one process.

Each repeat keeps a case's best of a few short interleaved batches (timeit's advice: slower
runs are other processes interfering); the reported figure is the median over the repeats.
A case is a *loop*: `loop(n)` makes `n` calls of one shape (`f(1, "x")`, `await g(1, "x")`),
built by the `*_loop` factories below so that every peer runs the very same bytecode and
differs only in the function it calls. Each batch is timed with `perf_counter_ns` with the
garbage collector off; the median cost of an empty loop of the same shape is subtracted, so
the figures are nanoseconds per call, not per loop iteration.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AsyncLoop",
    "SyncLoop",
    "Timing",
    "async_empty_loop",
    "async_keyword_loop",
    "async_positional_loop",
    "empty_loop",
    "keyword_loop",
    "positional_loop",
    "time_async",
    "time_sync",
]

SyncLoop = Callable[[int], None]
AsyncLoop = Callable[[int], Awaitable[None]]
EMPTY = "(empty loop)"


@dataclass(frozen=True)
class Timing:
    """One case's per-repeat costs in ns/call (empty loop already subtracted)."""

    name: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median ns/call over the repeats."""
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        """Fastest repeat, ns/call."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """Slowest repeat, ns/call."""
        return max(self.samples)


# -- loop factories: identical shapes for every peer ---------------------------------------


def positional_loop(f: Callable[..., Any]) -> SyncLoop:
    """`for _ in range(n): f(1, "x")`."""

    def loop(n: int) -> None:
        for _ in range(n):
            f(1, "x")

    return loop


def keyword_loop(f: Callable[..., Any]) -> SyncLoop:
    """`for _ in range(n): f(a=1, b="x")`."""

    def loop(n: int) -> None:
        for _ in range(n):
            f(a=1, b="x")

    return loop


def empty_loop(n: int) -> None:
    """The loop without the call: its cost is subtracted from every sync case."""
    for _ in range(n):
        pass


def async_positional_loop(g: Callable[..., Awaitable[Any]]) -> AsyncLoop:
    """`for _ in range(n): await g(1, "x")`."""

    async def loop(n: int) -> None:
        for _ in range(n):
            await g(1, "x")

    return loop


def async_keyword_loop(g: Callable[..., Awaitable[Any]]) -> AsyncLoop:
    """`for _ in range(n): await g(a=1, b="x")`."""

    async def loop(n: int) -> None:
        for _ in range(n):
            await g(a=1, b="x")

    return loop


async def async_empty_loop(n: int) -> None:
    """The async loop without the call: subtracted from every async case."""
    for _ in range(n):
        pass


# -- timing ------------------------------------------------------------------------------------


def _rotated(names: Sequence[str], repeat: int) -> list[str]:
    """The case order for one repeat: shifted by one each time, so no case is always first."""
    k = repeat % len(names)
    return [*names[k:], *names[:k]]


def _per_call(raw: dict[str, list[int]], number: int) -> list[Timing]:
    """ns/call per case, minus the empty loop's median cost."""
    empty = statistics.median(raw.pop(EMPTY)) / number
    return [
        Timing(name, tuple(ns / number - empty for ns in samples)) for name, samples in raw.items()
    ]


def _batch(loop: SyncLoop, number: int) -> int:
    """One timed batch with the collector off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        loop(number)
        return time.perf_counter_ns() - start
    finally:
        if was_enabled:
            gc.enable()


async def _abatch(loop: AsyncLoop, number: int) -> int:
    """One timed async batch with the collector off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        await loop(number)
        return time.perf_counter_ns() - start
    finally:
        if was_enabled:
            gc.enable()


def time_sync(
    cases: dict[str, SyncLoop],
    between: Callable[[], None] | None = None,
    /,
    *,
    repeats: int,
    number: int,
    inner: int = 5,
) -> list[Timing]:
    """Time every case `repeats` times, interleaved; one warm-up round first.

    A repeat is `inner` interleaved passes of one batch per case, keeping each case's best
    batch: on a shared machine a neighbour's burst then costs a pass, not a whole sample.
    `between`, if given, runs untimed after the warm-up round and after every repeat (e.g.
    to delete what the batches wrote, keeping a server's keyspace bounded).
    """
    loops = {EMPTY: empty_loop, **cases}
    names = list(loops)
    for name in names:
        _batch(loops[name], number)
    raw: dict[str, list[int]] = {name: [] for name in names}
    for repeat in range(repeats):
        if between is not None:
            between()
        best = dict.fromkeys(names, sys.maxsize)
        for turn in range(inner):
            for name in _rotated(names, repeat * inner + turn):
                best[name] = min(best[name], _batch(loops[name], number))
        for name in names:
            raw[name].append(best[name])
    if between is not None:
        between()
    return _per_call(raw, number)


def time_async(
    cases: dict[str, AsyncLoop],
    between: Callable[[], None] | None = None,
    /,
    *,
    repeats: int,
    number: int,
    inner: int = 5,
) -> list[Timing]:
    """`time_sync` for coroutine loops, all inside one running event loop (`between` is
    called from the loop: it blocks it, untimed)."""

    async def main() -> list[Timing]:
        loops = {EMPTY: async_empty_loop, **cases}
        names = list(loops)
        for name in names:
            await _abatch(loops[name], number)
        raw: dict[str, list[int]] = {name: [] for name in names}
        for repeat in range(repeats):
            if between is not None:
                between()
            best = dict.fromkeys(names, sys.maxsize)
            for turn in range(inner):
                for name in _rotated(names, repeat * inner + turn):
                    best[name] = min(best[name], await _abatch(loops[name], number))
            for name in names:
                raw[name].append(best[name])
        if between is not None:
            between()
        return _per_call(raw, number)

    return asyncio.run(main())
