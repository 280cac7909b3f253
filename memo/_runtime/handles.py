"""The handles every cached function has, whatever its colour: `cache_key` and `stats`.

The handles that do I/O (`invalidate`, `invalidate_all`, `refresh`, `warm`) take the
function's colour: `AsyncHandles` in `_async/handles.py`, written once, and `SyncHandles`,
generated from it by scripts/unasync.py. `_runtime/wrapper.py` combines them with the
binding mixins.
"""

from __future__ import annotations

from typing import Any

from memo._policy.stats import Stats
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
