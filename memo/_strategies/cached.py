"""`@memo.cached`: its options (`CachedOptions`: defaults and checks), its typed face, and
`memo.stats()`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict, TypeVar, overload

from memo._errors import ConfigurationError
from memo._keys.builder import KeyBuilder, KeyFunction
from memo._keys.signature import Normaliser
from memo._policy.adaptive import Adaptive
from memo._policy.flows import Plan
from memo._policy.stats import Stats
from memo._runtime.settings import settings
from memo._stores.protocol import Store
from memo._strategies import options as check
from memo._strategies.building import decorator
from memo._strategies.options import Options
from memo._strategies.types import AsyncMemoized, Memoized, P

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "CachedDecorator",
    "CachedKeywords",
    "CachedOptions",
    "SharedKeywords",
    "cached",
    "stats",
]

R = TypeVar("R")


class SharedKeywords(TypedDict, total=False):
    """The options `@memo.cached` and `@memo.refresh_ahead` type alike (all but `ttl`)."""

    jitter: float
    key: str | KeyFunction | None
    ignore: Iterable[str]
    version: int | str
    tags: Iterable[str]
    cache_none: bool
    none_ttl: float | datetime.timedelta | None
    condition: Callable[[Any], bool] | None
    store: Store | None
    lock: bool
    lock_timeout: float
    l1_copy: bool
    early_refresh: float | None
    stale_ttl: float | datetime.timedelta | None


class CachedKeywords(SharedKeywords, total=False):
    """`@memo.cached`'s keyword options, for static typing: `CachedOptions`'s fields."""

    ttl: float | datetime.timedelta | Adaptive | None


@dataclass(frozen=True, kw_only=True)
class CachedOptions(Options):
    """`@memo.cached`'s options, checked at decoration ([table](cached.md#options-at-a-glance))."""

    decorator: ClassVar[str] = "cached"
    hints: ClassVar[dict[str, str]] = {
        "refresh_at": "refresh_at= belongs to @memo.refresh_ahead(ttl=..., refresh_at=0.8); "
        "@memo.cached takes early_refresh= and stale_ttl= instead."
    }

    ttl: float | datetime.timedelta | Adaptive | None = None
    jitter: float = 0.0
    key: str | KeyFunction | None = None
    ignore: Iterable[str] = ()
    version: int | str = 1
    tags: Iterable[str] = ()
    cache_none: bool = True
    none_ttl: float | datetime.timedelta | None = None
    condition: Callable[[Any], bool] | None = None
    store: Store | None = None
    lock: bool = True
    lock_timeout: float = 10.0
    l1_copy: bool = False
    early_refresh: float | None = None
    stale_ttl: float | datetime.timedelta | None = None

    def keys(
        self, display: str, function: Callable[..., Any], normaliser: Normaliser
    ) -> KeyBuilder:
        """The function's key builder (checks `ignore`, `key` and `version`)."""
        ignore = check.ignored(display, self.ignore)
        return KeyBuilder(function, normaliser, ignore=ignore, key=self.key, version=self.version)

    def plan(self, display: str, normaliser: Normaliser) -> Plan:
        """Every other option, checked, as the policy's `Plan`."""
        adaptive = self.ttl if isinstance(self.ttl, Adaptive) else None
        ttl = None if adaptive is not None else check.seconds(display, "ttl", self.ttl)
        none_ttl = check.seconds(display, "none_ttl", self.none_ttl)
        jitter = check.jitter(display, self.jitter)
        has_ttl = ttl is not None or adaptive is not None
        if jitter and not has_ttl and none_ttl is None:
            raise ConfigurationError(f"{display}: jitter= needs a ttl= to spread; set ttl=…")
        condition = check.condition(display, self.condition)
        lock_timeout = check.seconds(display, "lock_timeout", self.lock_timeout)
        return Plan(
            name=display,
            ttl=ttl,
            jitter=jitter,
            cache_none=bool(self.cache_none) or none_ttl is not None,
            none_ttl=none_ttl,
            condition=condition,
            lock=bool(self.lock),
            lock_timeout=lock_timeout if lock_timeout is not None else CachedOptions.lock_timeout,
            l1_copy=bool(self.l1_copy),
            tags=check.tag_renderer(display, normaliser, self.tags),
            adaptive=adaptive,
            **self._refreshing(display, has_ttl),
        )

    def checked_store(self, display: str) -> Store | None:
        """The function's own store, or None for the configured default."""
        return check.store(display, self.store)

    def refresh_fraction(self, display: str) -> float | None:
        """The fraction of the TTL after which a hit refreshes: never, for `@memo.cached`."""
        return None

    def _refreshing(self, display: str, has_ttl: bool) -> dict[str, Any]:
        """refresh_at, stale_ttl and early_refresh, checked; each needs a ttl to refresh within."""
        stale_ttl = check.seconds(display, "stale_ttl", self.stale_ttl)
        refresh_at = self.refresh_fraction(display)
        beta = check.beta(display, self.early_refresh)
        for name, value in (
            ("refresh_at", refresh_at),
            ("stale_ttl", stale_ttl),
            ("early_refresh", beta),
        ):
            if value is not None and not has_ttl:
                raise ConfigurationError(
                    f"{display}: {name}= needs a ttl= (it works within the entry's lifetime)."
                )
        return {"refresh_at": refresh_at, "stale_ttl": stale_ttl, "early_beta": beta}


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
def cached(**options: Unpack[CachedKeywords]) -> CachedDecorator: ...


def cached(function: Any = None, /, **options: Any) -> Any:
    """Memoize a sync or `async def` function: cache-aside over the configured store.

    Every option is keyword-only and optional; the [options table](cached.md#options-at-a-glance)
    lists them with their defaults (the fields of `CachedOptions`).
    """
    return decorator(function, CachedOptions.of(options))


def stats() -> dict[str, Stats]:
    """A snapshot of every decorated function's counters, by `module.qualname`."""
    out: dict[str, Stats] = {}
    for core in settings.all_cores():
        name = core.plan.name.removesuffix("()")
        snapshot = core.plan.stats.snapshot()
        out[name] = out[name] + snapshot if name in out else snapshot
    return out
