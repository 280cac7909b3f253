"""`@memo.write_through` and `@memo.invalidates`: the writer runs, then the cache follows.

The writer (a database write, say) runs first; only if it returns does the cache change:
write-through stores its result as the reader's value for the matching call, invalidates
removes the readers' matching entries. Both reach L1, L2 and every process's L1.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import wrapt

from memo._errors import ConfigurationError
from memo._keys.mapping import ArgumentMap, KeySpec, core_of
from memo._runtime.core import Core

__all__ = ["invalidates", "write_through"]


def write_through(reader: Any, *, key: KeySpec = None) -> Callable[[Any], Any]:
    """Store the writer's result as reader's value for the call its arguments map to."""

    def decorate(writer: Any) -> Any:
        core = core_of(reader, writer, "write_through")
        mapping = ArgumentMap(writer, core, key, "write_through")

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            core.write(*mapping(args, kwargs), value)

        async def aafter(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            await core.awrite(*mapping(args, kwargs), value)

        return _wrap(writer, after, aafter)

    return decorate


def invalidates(*readers: Any, key: KeySpec = None) -> Callable[[Any], Any]:
    """Remove each reader's entry for the call the writer's arguments map to."""
    if not readers:
        raise ConfigurationError(
            "@memo.invalidates() needs at least one @memo.cached reader: "
            "@memo.invalidates(get_user)."
        )

    def decorate(writer: Any) -> Any:
        targets: list[tuple[Core, ArgumentMap]] = []
        for reader in readers:
            core = core_of(reader, writer, "invalidates")
            targets.append((core, ArgumentMap(writer, core, key, "invalidates")))

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            for core, mapping in targets:
                core.invalidate(*mapping(args, kwargs))

        async def aafter(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            for core, mapping in targets:
                await core.ainvalidate(*mapping(args, kwargs))

        return _wrap(writer, after, aafter)

    return decorate


After = Callable[[tuple[Any, ...], dict[str, Any], Any], Any]


def _wrap(writer: Any, after: After, aafter: After) -> Any:
    """writer, followed by after(args, kwargs, result) in writer's colour; never on a raise."""
    if not callable(writer) and not isinstance(writer, (classmethod, staticmethod)):
        raise ConfigurationError(f"memo decorators take a function, not {writer!r}.")
    function = writer.__func__ if isinstance(writer, (classmethod, staticmethod)) else writer
    if inspect.iscoroutinefunction(function):

        async def run_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            value = await wrapped(*args, **kwargs)
            await aafter(_full(instance, wrapped, args), kwargs, value)
            return value

        return wrapt.FunctionWrapper(writer, run_async)

    def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        value = wrapped(*args, **kwargs)
        after(_full(instance, wrapped, args), kwargs, value)
        return value

    return wrapt.FunctionWrapper(writer, run)


def _full(instance: Any, wrapped: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The writer's own arguments: wrapt passes a method's self (or cls) apart."""
    if instance is None or getattr(wrapped, "__self__", None) is None:
        return args
    return (instance, *args)
