"""What `@write_through`, `@invalidates` and `@write_behind` share: the writer runs first, and
only if it returns does the cache follow, in the writer's colour."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypedDict, TypeVar

import wrapt

from memo._errors import ConfigurationError
from memo._keys.mapping import ArgumentMap, KeySpec, Reader
from memo._strategies.options import Options

__all__ = [
    "After",
    "WriterDecorator",
    "WriterKeywords",
    "WriterOptions",
    "wrap_writer",
    "writer_arguments",
]

P = ParamSpec("P")
R = TypeVar("R")


class WriterDecorator(Protocol):
    """What `@write_through(...)`, `@invalidates(...)` and `@write_behind(...)` return: a
    decorator that keeps the writer's parameters and return type for type checkers."""

    def __call__(self, writer: Callable[P, R], /) -> Callable[P, R]: ...


class WriterKeywords(TypedDict, total=False):
    """The keyword options every writer's decorator takes: `WriterOptions`'s fields."""

    key: KeySpec


@dataclass(frozen=True, kw_only=True)
class WriterOptions(Options):
    """A writer's decorator's options: `key` maps the writer's arguments to a reader's."""

    key: KeySpec = None

    def mapping(self, writer: Any, reader: Reader) -> ArgumentMap:
        """How the writer's arguments become the reader's (checked against both signatures)."""
        return ArgumentMap(writer, reader, self.key, self.decorator)


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
