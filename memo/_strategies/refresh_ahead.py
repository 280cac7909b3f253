"""`@memo.refresh_ahead`: `@memo.cached` whose hits refresh the entry after `refresh_at * ttl`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from memo._errors import ConfigurationError
from memo._policy.adaptive import Adaptive
from memo._strategies.building import decorator
from memo._strategies.cached import CachedDecorator, CachedOptions, SharedKeywords
from memo._strategies.types import AsyncMemoized, Memoized, P

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RefreshAheadKeywords", "RefreshAheadOptions", "refresh_ahead"]

R = TypeVar("R")


class RefreshAheadKeywords(SharedKeywords, total=False):
    """`@memo.refresh_ahead`'s keyword options: `RefreshAheadOptions`'s fields."""

    ttl: float | datetime.timedelta | Adaptive
    refresh_at: float


@dataclass(frozen=True, kw_only=True)
class RefreshAheadOptions(CachedOptions):
    """`@memo.cached`'s options and `refresh_at` ([table](refresh.md#memorefresh_ahead))."""

    decorator: ClassVar[str] = "refresh_ahead"
    hints: ClassVar[dict[str, str]] = {}

    ttl: float | datetime.timedelta | Adaptive = 60.0
    refresh_at: float = 0.8

    def refresh_fraction(self, display: str) -> float | None:
        """`refresh_at`, checked: a fraction of the TTL in (0, 1)."""
        value: Any = self.refresh_at
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1
        ):
            raise ConfigurationError(
                f"{display}: refresh_at={value!r} must be a fraction of the TTL in (0, 1), "
                "e.g. refresh_at=0.8 refreshes after 80% of the TTL."
            )
        return None if value is None else float(value)


@overload
def refresh_ahead(  # type: ignore[overload-overlap]
    function: Callable[P, Coroutine[Any, Any, R]], /
) -> AsyncMemoized[P, R]: ...


@overload
def refresh_ahead(function: Callable[P, R], /) -> Memoized[P, R]: ...


@overload
def refresh_ahead(**options: Unpack[RefreshAheadKeywords]) -> CachedDecorator: ...


def refresh_ahead(function: Any = None, /, **options: Any) -> Any:
    """`@memo.cached` whose hits, past `refresh_at * ttl`, return at once and refresh the entry
    in the background: one refresh per key across all processes (a lease in Redis). A failed
    refresh keeps the old value (logged once); one that raced an invalidation never stores.

    Its [options](refresh.md#memorefresh_ahead) are `@memo.cached`'s and `refresh_at`; `ttl`
    has a default here.
    """
    return decorator(function, RefreshAheadOptions.of(options))
