"""The typed face of `@memo.cached` and `memo.stats()`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol, TypeVar, overload

from memo._errors import ConfigurationError
from memo._keys.builder import KeyFunction
from memo._policy.adaptive import Adaptive
from memo._policy.stats import Stats
from memo._runtime.settings import settings
from memo._stores.protocol import Store
from memo._strategies import build as _decorators
from memo._strategies.types import AsyncMemoized, Memoized, P

__all__ = ["cached", "refresh_ahead", "stats"]

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
    ttl: float | datetime.timedelta | Adaptive | None = None,
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
    early_refresh: float | None = None,
    stale_ttl: float | datetime.timedelta | None = None,
) -> CachedDecorator: ...


def cached(function: Any = None, /, **options: Any) -> Any:
    """Memoize a sync or `async def` function: cache-aside over the configured store.

    Options: `ttl` (seconds or timedelta; None keeps entries until evicted), `jitter`
    (fraction: each TTL drawn from [ttl·(1-jitter), ttl]), `key` (callable or template),
    `ignore` (parameter names left out of the key), `version`, `tags` (templates such as
    'user:{user_id}'), `cache_none`/`none_ttl` (negative caching), `condition` (cache only
    results it accepts), `store`, `lock` (single-flight, on by default), `lock_timeout`
    (how long a waiter waits before computing itself), `l1_copy` (L1 keeps pickled bytes
    and every hit gets a fresh copy), `early_refresh` (XFetch β: hits refresh the entry in
    the background shortly before it expires), `stale_ttl` (keep serving an expired entry
    this long while one caller refreshes it, and when the refresh fails).
    """
    if "refresh_at" in options:
        raise ConfigurationError(
            "refresh_at= belongs to @memo.refresh_ahead(ttl=..., refresh_at=0.8); "
            "@memo.cached takes early_refresh= and stale_ttl= instead."
        )
    return _decorators.cached(function, **options)


@overload
def refresh_ahead(  # type: ignore[overload-overlap]
    function: Callable[P, Coroutine[Any, Any, R]], /
) -> AsyncMemoized[P, R]: ...


@overload
def refresh_ahead(function: Callable[P, R], /) -> Memoized[P, R]: ...


@overload
def refresh_ahead(
    *,
    ttl: float | datetime.timedelta | Adaptive = 60.0,
    refresh_at: float = 0.8,
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
    stale_ttl: float | datetime.timedelta | None = None,
) -> CachedDecorator: ...


def refresh_ahead(function: Any = None, /, **options: Any) -> Any:
    """`@memo.cached` whose hits, past `refresh_at * ttl`, return at once and refresh the entry
    in the background: one refresh per key across all processes (a lease in Redis). A failed
    refresh keeps the old value (logged once); one that raced an invalidation never stores.
    """
    options.setdefault("ttl", 60.0)
    options.setdefault("refresh_at", 0.8)
    return _decorators.cached(function, **options)


def stats() -> dict[str, Stats]:
    """A snapshot of every decorated function's counters, by `module.qualname`."""
    out: dict[str, Stats] = {}
    for core in settings.all_cores():
        name = core.plan.name.removesuffix("()")
        snapshot = core.plan.stats.snapshot()
        out[name] = out[name] + snapshot if name in out else snapshot
    return out
