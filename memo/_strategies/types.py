"""Typed views of decorated functions: parameter and return types survive decoration.

`Memoized[P, R]` and `AsyncMemoized[P, R]` describe what `@memo.cached` returns. Their
`__get__` overloads drop the first parameter when a method is read from an instance, so
`obj.method(...)`, `obj.method.cache_key(...)` and `obj.method.invalidate(...)` type-check.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, overload

from memo._policy.stats import CacheInfo, Stats
from memo._runtime.warm import WarmReport

__all__ = ["AsyncMemoized", "Memoized"]

P = ParamSpec("P")
P2 = ParamSpec("P2")
R_co = TypeVar("R_co", covariant=True)
R2 = TypeVar("R2")
S = TypeVar("S")


class Memoized(Protocol[P, R_co]):
    """A sync function decorated with `@memo.cached`."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def cache_key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The exact Redis key of this call (pure, no I/O)."""
        ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Remove this call's entry; True if one was there."""
        ...

    def invalidate_all(self) -> None:
        """Forget every entry of this function."""
        ...

    def cache_info(self) -> CacheInfo:
        """hits, misses, maxsize, currsize, as functools.lru_cache's."""
        ...

    def cache_clear(self) -> None:
        """Forget every entry of this function and zero its counters (lru_cache's)."""
        ...

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Recompute, store and return."""
        ...

    def warm(
        self,
        calls: Iterable[Any],
        *,
        concurrency: int = 8,
        batch_size: int = 100,
        progress: bool | None = None,
    ) -> WarmReport:
        """Fill the cache for many calls; counts of warmed, skipped and failed."""
        ...

    @property
    def stats(self) -> Stats:
        """This function's counters."""
        ...

    @property
    def uncached(self) -> Callable[P, R_co]:
        """The original function."""
        ...

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Memoized[P, R_co]: ...

    @overload
    def __get__(
        self: Memoized[Concatenate[S, P2], R2], instance: S, owner: type[Any] | None = None
    ) -> Memoized[P2, R2]: ...


class AsyncMemoized(Protocol[P, R_co]):
    """An `async def` function decorated with `@memo.cached`; I/O handles are awaitable."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]: ...

    def cache_key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The exact Redis key of this call (pure, no I/O)."""
        ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, bool]:
        """Remove this call's entry; True if one was there."""
        ...

    def invalidate_all(self) -> Coroutine[Any, Any, None]:
        """Forget every entry of this function."""
        ...

    def cache_info(self) -> CacheInfo:
        """hits, misses, maxsize, currsize, as functools.lru_cache's."""
        ...

    def cache_clear(self) -> Coroutine[Any, Any, None]:
        """Forget every entry of this function and zero its counters (lru_cache's)."""
        ...

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]:
        """Recompute, store and return."""
        ...

    def warm(
        self,
        calls: Iterable[Any],
        *,
        concurrency: int = 8,
        batch_size: int = 100,
        progress: bool | None = None,
    ) -> Coroutine[Any, Any, WarmReport]:
        """Fill the cache for many calls; counts of warmed, skipped and failed."""
        ...

    @property
    def stats(self) -> Stats:
        """This function's counters."""
        ...

    @property
    def uncached(self) -> Callable[P, Coroutine[Any, Any, R_co]]:
        """The original function."""
        ...

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> AsyncMemoized[P, R_co]: ...

    @overload
    def __get__(
        self: AsyncMemoized[Concatenate[S, P2], R2], instance: S, owner: type[Any] | None = None
    ) -> AsyncMemoized[P2, R2]: ...
