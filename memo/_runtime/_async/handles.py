"""The handles of a cached function that do I/O, in the function's colour.

They are awaitable when the function is a coroutine function, plain calls otherwise; the
colour-free ones (`cache_key`, `stats`) are in `_runtime/handles.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memo._runtime._async.warm import awarm
from memo._runtime.handles import Handles
from memo._runtime.warm import WarmReport

__all__ = ["AsyncHandles"]


class AsyncHandles(Handles):
    """invalidate / invalidate_all / refresh / warm of a cached function."""

    __slots__ = ()

    async def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Remove this call's entry; True if one was there."""
        return await self._memo_core().ainvalidate(self._memo_args(args), kwargs)

    async def invalidate_all(self) -> None:
        """Forget every entry of this function."""
        await self._memo_core().ainvalidate_all()

    async def cache_clear(self) -> None:
        """`functools.lru_cache`'s cache_clear(): forget every entry of this function (as
        invalidate_all()) and zero its counters."""
        core = self._memo_core()
        await core.ainvalidate_all()
        core.plan.stats.reset()

    async def refresh(self, *args: Any, **kwargs: Any) -> Any:
        """Recompute this call, store the result and return it."""
        return await self._memo_core().arefresh(self._memo_args(args), kwargs)

    async def warm(
        self,
        calls: Iterable[Any],
        *,
        concurrency: int = 8,
        batch_size: int = 100,
        progress: bool | None = None,
    ) -> WarmReport:
        """Fill the cache for each call (a tuple of arguments, a dict of keyword arguments,
        or one argument); already cached calls are skipped. Returns warmed/skipped/failed.
        At most `concurrency` calls run at once (as threads or tasks, by the function's
        colour)."""
        return await awarm(
            self._memo_core(),
            calls,
            concurrency=concurrency,
            batch_size=batch_size,
            progress=progress,
            prefix=self._memo_args(()),
        )
