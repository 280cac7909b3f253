"""The handles every cached function has, whatever its colour: `cache_key`, `stats` and
`cache_info`.

The handles that do I/O (`invalidate`, `invalidate_all`, `refresh`, `warm`) take the
function's colour: `AsyncHandles` in `_async/handles.py`, written once, and `SyncHandles`,
generated from it by scripts/unasync.py. `_runtime/wrapper.py` combines them with the
binding mixins.
"""

from __future__ import annotations

from typing import Any

from memo._clock import CLOCK
from memo._policy.stats import CacheInfo, Stats
from memo._runtime.core import Core

__all__ = ["Handles"]


class Handles:
    """Pure handles of a cached function; `_memo_core`/`_memo_args` come from the class."""

    __slots__ = ()

    def _memo_core(self) -> Core:
        raise NotImplementedError

    def _memo_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        raise NotImplementedError

    def cache_key(self, *args: Any, **kwargs: Any) -> str:
        """The exact key this call is stored under in Redis (pure, no I/O)."""
        return self._memo_core().cache_key(self._memo_args(args), kwargs)

    @property
    def stats(self) -> Stats:
        """This function's counters (live)."""
        return self._memo_core().plan.stats

    def cache_info(self) -> CacheInfo:
        """hits, misses, maxsize and currsize, as `functools.lru_cache`'s `cache_info()`
        (pure: counts this process's L1 entries of the function, reads no Redis).

        A call that waited for a concurrent identical call's value counts as a hit, as in
        async-lru: it did not run the function (`stats` counts it as a miss and a wait)."""
        core = self._memo_core()
        stats = core.plan.stats
        waited = min(stats.waits, stats.misses)
        return CacheInfo(
            stats.hits + waited, stats.misses - waited, _maxsize(core.store), _currsize(core)
        )


def _maxsize(store: Any) -> int | None:
    """The bound of the store's in-process tier (None: the store has none)."""
    memory = getattr(store, "memory", store)
    maxsize = getattr(memory, "maxsize", None)
    return maxsize if isinstance(maxsize, int) else None


def _currsize(core: Core) -> int:
    """Live L1 entries under the function's current token (L1 keys start with it)."""
    token, now = core.token, CLOCK.monotonic()
    return sum(
        1
        for key, entry in list(core.l1.items())
        if type(key) is tuple and key and key[0] == token and entry.expires > now
    )
