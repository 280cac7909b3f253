"""The typed face of `@memo.cached` and `memo.stats()`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol, TypeVar, overload

from memo import _decorators
from memo._config import settings
from memo._keys import KeyFunction
from memo._protocol import Store
from memo._stats import Stats
from memo._types import AsyncMemoized, Memoized, P

__all__ = ["cached", "stats"]

R = TypeVar("R")


class CachedDecorator(Protocol):
    """What `@memo.cached(...)` with options returns."""

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, function: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncMemoized[P, R]: ...

    @overload
    def __call__(self, function: Callable[P, R], /) -> Memoized[P, R]: ...


@overload
def cached(  # type: ignore[overload-overlap]
    function: Callable[P, Coroutine[Any, Any, R]], /
) -> AsyncMemoized[P, R]: ...


@overload
def cached(function: Callable[P, R], /) -> Memoized[P, R]: ...


@overload
def cached(
    *,
    ttl: float | datetime.timedelta | None = None,
    jitter: float = 0.0,
    key: str | KeyFunction | None = None,
    ignore: Iterable[str] = (),
    version: int | str = 1,
    tags: Iterable[str] = (),
    cache_none: bool = True,
    none_ttl: float | datetime.timedelta | None = None,
    condition: Callable[[Any], bool] | None = None,
    store: Store | None = None,
    lock: bool = True,
    lock_timeout: float = 10.0,
    l1_copy: bool = False,
) -> CachedDecorator: ...


def cached(function: Any = None, /, **options: Any) -> Any:
    """Memoize a sync or `async def` function: cache-aside over the configured store.

    Options: `ttl` (seconds or timedelta; None keeps entries until evicted), `jitter`
    (fraction: each TTL drawn from [ttl·(1-jitter), ttl]), `key` (callable or template),
    `ignore` (parameter names left out of the key), `version`, `tags` (templates such as
    'user:{user_id}'), `cache_none`/`none_ttl` (negative caching), `condition` (cache only
    results it accepts), `store`, `lock` (single-flight, on by default), `lock_timeout`
    (how long a waiter waits before computing itself), `l1_copy` (L1 keeps pickled bytes
    and every hit gets a fresh copy).
    """
    return _decorators.cached(function, **options)


def stats() -> dict[str, Stats]:
    """A snapshot of every decorated function's counters, by `module.qualname`."""
    out: dict[str, Stats] = {}
    for core in settings.all_cores():
        name = core.plan.name.removesuffix("()")
        snapshot = core.plan.stats.snapshot()
        out[name] = out[name] + snapshot if name in out else snapshot
    return out
