"""`f.warm(calls)`: fill the cache ahead of traffic, through the function's own key path.

Calls are taken in batches: one pipelined lookup per batch skips what is already cached,
the rest run with bounded concurrency (threads for sync functions, tasks for async ones),
and their results go back in one pipelined write. A failing call is counted, not raised.
On a terminal, a progress bar shows (tqdm, the `progress` extra) when it is installed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memo._errors import ConfigurationError, KeyBuildError
from memo._keys.key import CacheKey
from memo._policy.flows import prepare
from memo._runtime.disabled import is_disabled

if TYPE_CHECKING:
    from memo._runtime.core import Core

__all__ = ["WarmReport", "awarm", "warm"]

Call = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class WarmReport:
    """What `f.warm(...)` did: calls computed and stored, already cached, and failed."""

    warmed: int = 0
    skipped: int = 0
    failed: int = 0

    def __add__(self, other: WarmReport) -> WarmReport:
        return WarmReport(
            self.warmed + other.warmed, self.skipped + other.skipped, self.failed + other.failed
        )


def warm(
    core: Core,
    calls: Iterable[Any],
    *,
    concurrency: int,
    batch_size: int,
    progress: bool | None,
    prefix: tuple[Any, ...] = (),
) -> WarmReport:
    """Warm a sync function's cache; see the module docstring."""
    _check(core, concurrency, batch_size)
    if is_disabled():
        return WarmReport()  # inside memo.disabled() nothing is read or written
    report, bar = WarmReport(), _bar(calls, progress, core.plan.name)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="memo-warm") as pool:
        for batch in _batches(calls, batch_size, prefix):
            prepared, failed = _keys(core, batch)
            entries = core.store.get_many([key for key, _, _ in prepared])
            todo = [item for item, entry in zip(prepared, entries, strict=True) if entry is None]
            outcomes = list(pool.map(lambda item: _run(core, item[2]), todo))
            report += _store(core, todo, outcomes, len(prepared) - len(todo), failed)
            _advance(bar, len(batch))
    _close(bar)
    return report


async def awarm(
    core: Core,
    calls: Iterable[Any],
    *,
    concurrency: int,
    batch_size: int,
    progress: bool | None,
    prefix: tuple[Any, ...] = (),
) -> WarmReport:
    """Warm an async function's cache; see the module docstring."""
    _check(core, concurrency, batch_size)
    if is_disabled():
        return WarmReport()
    report, bar = WarmReport(), _bar(calls, progress, core.plan.name)
    limit = asyncio.Semaphore(concurrency)

    async def run(call: Call) -> tuple[bool, Any, float]:
        async with limit:
            start = time.perf_counter()
            try:
                value = await core.function(*call[0], **call[1])
            except Exception as exc:
                return False, exc, 0.0
            return True, value, time.perf_counter() - start

    for batch in _batches(calls, batch_size, prefix):
        prepared, failed = _keys(core, batch)
        entries = await core.store.aget_many([key for key, _, _ in prepared])
        todo = [item for item, entry in zip(prepared, entries, strict=True) if entry is None]
        outcomes = await asyncio.gather(*(run(item[2]) for item in todo))
        items = _items(core, todo, outcomes)
        await core.store.aset_many(items)
        report += WarmReport(len(items), len(prepared) - len(todo), failed + _failures(outcomes))
        _advance(bar, len(batch))
    _close(bar)
    return report


def _check(core: Core, concurrency: int, batch_size: int) -> None:
    for name, value in (("concurrency", concurrency), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(
                f"{core.plan.name}.warm({name}={value!r}): a positive int is needed."
            )


def _batches(calls: Iterable[Any], size: int, prefix: tuple[Any, ...]) -> Iterator[list[Call]]:
    iterator = iter(calls)
    while batch := list(itertools.islice(iterator, size)):
        yield [_as_call(item, prefix) for item in batch]


def _as_call(item: Any, prefix: tuple[Any, ...]) -> Call:
    """A tuple is positional arguments, a dict keyword arguments, anything else one argument;
    prefix is a bound method's self (or cls)."""
    if isinstance(item, tuple):
        return prefix + item, {}
    if isinstance(item, Mapping):
        return prefix, dict(item)
    return (*prefix, item), {}


def _keys(core: Core, batch: list[Call]) -> tuple[list[tuple[CacheKey, Any, Call]], int]:
    """(key, normalised, call) for each call whose key can be built; how many could not."""
    prepared, failed = [], 0
    for args, kwargs in batch:
        try:
            normalised, values = core.keys.split(args, kwargs)
            prepared.append((core.key_for(values), normalised, (args, kwargs)))
        except (KeyBuildError, TypeError):
            failed += 1
    return prepared, failed


def _run(core: Core, call: Call) -> tuple[bool, Any, float]:
    start = time.perf_counter()
    try:
        value = core.function(*call[0], **call[1])
    except Exception as exc:
        return False, exc, 0.0
    return True, value, time.perf_counter() - start


def _items(
    core: Core, todo: list[tuple[CacheKey, Any, Call]], outcomes: list[tuple[bool, Any, float]]
) -> list[Any]:
    items = []
    for (key, normalised, _), (ok, value, delta) in zip(todo, outcomes, strict=True):
        if ok:
            core.plan.stats.compute_time += delta
            item = prepare(core.plan, key, normalised, value, delta)
            if item is not None:
                items.append(item)
    return items


def _failures(outcomes: list[tuple[bool, Any, float]]) -> int:
    return sum(not ok for ok, _, _ in outcomes)


def _store(
    core: Core,
    todo: list[tuple[CacheKey, Any, Call]],
    outcomes: list[tuple[bool, Any, float]],
    skipped: int,
    failed: int,
) -> WarmReport:
    items = _items(core, todo, outcomes)
    core.store.set_many(items)
    return WarmReport(len(items), skipped, failed + _failures(outcomes))


def _bar(calls: Iterable[Any], progress: bool | None, name: str) -> Any:
    """A tqdm bar when asked (progress=True) or on a terminal (progress=None), if installed."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    try:
        from tqdm import tqdm  # noqa: PLC0415 - the optional `progress` extra
    except ImportError:
        return None
    total = len(calls) if isinstance(calls, Sized) else None
    return tqdm(total=total, desc=f"warming {name}", unit="call", file=sys.stderr)


def _advance(bar: Any, count: int) -> None:
    if bar is not None:
        bar.update(count)


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()
