"""`f.warm(calls)` in one colour; the batching, keys and report are in `_runtime/warm.py`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from memo._runtime.disabled import is_disabled
from memo._runtime.pools import TaskPool
from memo._runtime.warm import (
    Call,
    WarmReport,
    advance_bar,
    batches,
    check,
    close_bar,
    failures,
    keyed,
    progress_bar,
    to_store,
)

if TYPE_CHECKING:
    from memo._runtime.core import Core

__all__ = ["awarm"]


async def awarm(
    core: Core,
    calls: Iterable[Any],
    *,
    concurrency: int,
    batch_size: int,
    progress: bool | None,
    prefix: tuple[Any, ...] = (),
) -> WarmReport:
    """Warm a cached function's cache; see `_runtime/warm.py`."""
    check(core, concurrency, batch_size)
    if is_disabled():
        return WarmReport()  # inside memo.disabled() nothing is read or written
    report, bar = WarmReport(), progress_bar(calls, progress, core.plan.name)
    async with TaskPool(concurrency) as pool:
        for batch in batches(calls, batch_size, prefix):
            prepared, failed = keyed(core, batch)
            entries = await core.store.aget_many([key for key, _, _ in prepared])
            todo = [item for item, entry in zip(prepared, entries, strict=True) if entry is None]
            outcomes = await pool.map(
                lambda call: _timed(core.function, call), [c for *_, c in todo]
            )
            items = to_store(core, todo, outcomes)
            await core.store.aset_many(items)
            report += WarmReport(len(items), len(prepared) - len(todo), failed + failures(outcomes))
            advance_bar(bar, len(batch))
    close_bar(bar)
    return report


async def _timed(function: Callable[..., Awaitable[Any]], call: Call) -> tuple[bool, Any, float]:
    """(True, value, seconds) of one call, or (False, its exception, 0.0)."""
    start = time.perf_counter()
    try:
        value = await function(*call[0], **call[1])
    except Exception as exc:
        return False, exc, 0.0
    return True, value, time.perf_counter() - start
