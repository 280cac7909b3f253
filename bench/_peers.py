"""The decorated functions under test: one body (`return a`), one decorator per library.

Every factory builds a fresh undecorated function, so no two peers share a cache. Settings
mirror what memo does by default: a TTL of 300 s, 10,000 entries, thread-safe, counting hits.
cachebox copies mutable results on a hit unless `postprocess=None` (cachebox >= 6; in 4.4-5 the
same switch was `copy_level=0`), which is what memo's `l1_copy=False` default matches.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["ASYNC_PEERS", "SYNC_PEERS", "VALUE", "make_async", "make_sync"]

TTL = 300.0
MAXSIZE = 10_000
VALUE: Any = object()  # the memory suite's shared return value
AsyncFn = Callable[..., Coroutine[Any, Any, Any]]
SyncFactory = Callable[[Callable[..., Any], int], Callable[..., Any]]
AsyncFactory = Callable[[AsyncFn, int], AsyncFn]


def make_sync(*, constant: bool = False) -> Callable[..., Any]:
    """A fresh `def f(a, b="x")`: returns `a`, or the shared VALUE when `constant`."""
    if constant:

        def f_constant(a: int, b: str = "x") -> Any:
            return VALUE

        return f_constant

    def f(a: int, b: str = "x") -> Any:
        return a

    return f


def make_async() -> AsyncFn:
    """A fresh `async def g(a, b="x")` returning `a`."""

    async def g(a: int, b: str = "x") -> Any:
        return a

    return g


def _memo(fn: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """memo.cached(ttl=300): default store, stats on, thread-safe (maxsize via configure)."""
    import memo

    decorated: Callable[..., Any] = memo.cached(ttl=TTL)(fn)
    return decorated


def _lru_cache(fn: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """functools.lru_cache: no TTL, the floor."""
    return functools.lru_cache(maxsize=maxsize)(fn)


def _cachetools(fn: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """cachetools.cached(TTLCache, lock=Lock())."""
    import cachetools

    cache: cachetools.TTLCache[Any, Any] = cachetools.TTLCache(maxsize, TTL)
    return cachetools.cached(cache, lock=threading.Lock())(fn)


def _cachebox(fn: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """cachebox.cached(TTLCache, postprocess=None): no copy of the result on a hit."""
    import cachebox

    decorated: Callable[..., Any] = cachebox.cached(
        cachebox.TTLCache(maxsize, TTL), postprocess=None
    )(fn)
    return decorated


def _async_lru(fn: AsyncFn, maxsize: int) -> AsyncFn:
    """async_lru.alru_cache(maxsize, ttl=300)."""
    from async_lru import alru_cache

    decorated: AsyncFn = alru_cache(maxsize=maxsize, ttl=TTL)(fn)
    return decorated


def _memo_async(fn: AsyncFn, maxsize: int) -> AsyncFn:
    """memo.cached(ttl=300) on an `async def`."""
    import memo

    return memo.cached(ttl=TTL)(fn)


SYNC_PEERS: dict[str, SyncFactory] = {
    "memo": _memo,
    "lru_cache": _lru_cache,
    "cachetools": _cachetools,
    "cachebox": _cachebox,
}
ASYNC_PEERS: dict[str, AsyncFactory] = {"memo": _memo_async, "async-lru": _async_lru}
