"""Building a `@memo.cached` wrapper from checked options: keys, plan, store, core, handles."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memo._codec.returns import ReturnType
from memo._errors import ConfigurationError
from memo._keys.builder import qualified_name
from memo._keys.signature import Normaliser
from memo._runtime.core import Core
from memo._runtime.wrapper import wrap

if TYPE_CHECKING:
    from memo._strategies.cached import CachedOptions

__all__ = ["decorate", "decorator"]


def decorator(function: Any, options: CachedOptions) -> Any:
    """The wrapper of `function`, or (options given without it) the decorator that makes it."""
    if function is not None and not callable(function) and not _is_descriptor(function):
        name = f"@memo.{options.decorator}"
        raise ConfigurationError(
            f"{name}({function!r}): options are keyword-only, e.g. "
            f"{name}(ttl=300); a bare {name} takes the function itself."
        )
    if function is None:
        return lambda f: decorate(f, options)
    return decorate(function, options)


def decorate(wrapped: Any, options: CachedOptions) -> Any:
    """Check the function and the options against it, then wrap it (all at decoration)."""
    function = _underlying(wrapped, options.decorator)
    display = f"{qualified_name(function)}()"
    normaliser = Normaliser(function)
    keys = options.keys(display, function, normaliser)
    plan = options.plan(display, normaliser)
    store = options.checked_store(display)
    is_async = _is_async(function)
    returns = ReturnType.of(function, display)  # resolved on the first L2 write or read
    core = Core(function, keys, plan, store=store, is_async=is_async, returns=returns)
    return wrap(wrapped, core)


def _is_descriptor(wrapped: Any) -> bool:
    return isinstance(wrapped, (classmethod, staticmethod))


def _underlying(wrapped: Any, decorator: str) -> Callable[..., Any]:
    if _is_descriptor(wrapped):
        function: Callable[..., Any] = wrapped.__func__
        return function
    if not callable(wrapped):
        raise ConfigurationError(
            f"@memo.{decorator} decorates functions and methods, not "
            f"{type(wrapped).__qualname__} objects ({wrapped!r}); put it directly above a def."
        )
    return wrapped  # type: ignore[no-any-return]


def _is_async(function: Callable[..., Any]) -> bool:
    if inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function):
        kind = "async generator" if inspect.isasyncgenfunction(function) else "generator"
        raise ConfigurationError(
            f"{qualified_name(function)}() is a {kind} function: its result is consumed once, so "
            "caching it would hand later callers an exhausted iterator. Cache a function "
            "that returns a list instead."
        )
    return inspect.iscoroutinefunction(function)
