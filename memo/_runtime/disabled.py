"""`memo.disabled()`: run decorated functions straight through, reading and writing nothing."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["ACTIVE", "disabled", "is_disabled"]

F = TypeVar("F", bound=Callable[..., Any])

# ACTIVE[0] counts disabled blocks open anywhere in the process, so the hit path pays one
# list read when none is open; the context variable says whether *this* thread/task is in one.
ACTIVE = [0]
_IN_BLOCK: contextvars.ContextVar[bool] = contextvars.ContextVar("memo_disabled", default=False)
_count_lock = threading.Lock()


def is_disabled() -> bool:
    """Whether the current thread or task is inside `memo.disabled()`."""
    return bool(ACTIVE[0]) and _IN_BLOCK.get()


class disabled:  # used like a function: `with memo.disabled():`
    """Context manager and decorator: inside it, cached functions always call through."""

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[bool]] = []

    def __enter__(self) -> disabled:
        self._tokens.append(_IN_BLOCK.set(True))
        with _count_lock:
            ACTIVE[0] += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _count_lock:
            ACTIVE[0] -= 1
        _IN_BLOCK.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with disabled():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with disabled():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]
