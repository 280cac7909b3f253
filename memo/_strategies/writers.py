"""What `@write_through`, `@invalidates` and `@write_behind` share: the writer runs first, and
only if it returns does the cache follow, in the writer's colour."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import wrapt

from memo._errors import ConfigurationError

__all__ = ["After", "wrap_writer", "writer_arguments"]

After = Callable[[tuple[Any, ...], dict[str, Any], Any], Any]


def wrap_writer(writer: Any, after: After, aafter: After) -> Any:
    """writer, followed by after(args, kwargs, result) in writer's colour; never on a raise."""
    if not callable(writer) and not isinstance(writer, (classmethod, staticmethod)):
        raise ConfigurationError(f"memo decorators take a function, not {writer!r}.")
    function = writer.__func__ if isinstance(writer, (classmethod, staticmethod)) else writer
    if inspect.iscoroutinefunction(function):

        async def run_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            value = await wrapped(*args, **kwargs)
            await aafter(writer_arguments(instance, wrapped, args), kwargs, value)
            return value

        return wrapt.FunctionWrapper(writer, run_async)

    def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        value = wrapped(*args, **kwargs)
        after(writer_arguments(instance, wrapped, args), kwargs, value)
        return value

    return wrapt.FunctionWrapper(writer, run)


def writer_arguments(instance: Any, wrapped: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The writer's own arguments: wrapt passes a method's self (or cls) apart."""
    if instance is None or getattr(wrapped, "__self__", None) is None:
        return args
    return (instance, *args)
