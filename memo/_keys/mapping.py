"""From a writer's arguments to a reader's: the bridge of write-through, invalidates, write-behind.

Checked at decoration: every parameter of the reader must have a source, a writer
parameter of the same name (or the one `key=` names), or its own default. A reader
parameter with no source is a ConfigurationError at import that names both functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from memo._errors import ConfigurationError
from memo._keys.builder import KeyBuilder
from memo._keys.signature import Normaliser

__all__ = ["ArgumentMap", "Reader", "core_of", "display"]

KeySpec = Mapping[str, str] | Callable[..., Any] | None


def display(function: Callable[..., Any]) -> str:
    """`module.qualname()` for messages."""
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}()"


class _Named(Protocol):
    name: str


@runtime_checkable
class Reader(Protocol):
    """What a mapping needs of a reader's runtime: its key builder and its name."""

    keys: KeyBuilder
    plan: _Named


def core_of(reader: Any, writer: Callable[..., Any], decorator: str) -> Any:
    """The runtime of a `@memo.cached` reader, or a ConfigurationError naming the fix."""
    core = getattr(reader, "_self_core", None)
    if not isinstance(core, Reader):
        raise ConfigurationError(
            f"@memo.{decorator}({reader!r}) on {display(writer)}: the reader must be a "
            "function decorated with @memo.cached (pass the decorated function itself)."
        )
    return core


class ArgumentMap:
    """Turns one call's writer arguments into the reader arguments of the same entry."""

    def __init__(
        self, writer: Callable[..., Any], reader: Reader, key: KeySpec, decorator: str
    ) -> None:
        self.writer = Normaliser(_underlying(writer))
        self.reader = reader.keys.normaliser
        self.key = key if callable(key) else None
        self.sources = self._sources(writer, reader, key, decorator)

    def _sources(
        self, writer: Callable[..., Any], reader: Reader, key: KeySpec, decorator: str
    ) -> dict[str, str] | None:
        if self.key is not None:
            return None
        renames = dict(key) if isinstance(key, Mapping) else {}
        params = reader.keys.normaliser.signature.parameters
        sources: dict[str, str] = {}
        for name, param in params.items():
            source = renames.pop(name, name)
            if source in self.writer.names:
                sources[name] = source
            elif param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            elif param.default is inspect.Parameter.empty:
                raise ConfigurationError(
                    f"@memo.{decorator} on {display(writer)}: the reader "
                    f"{reader.plan.name} needs {name!r}, which {display(writer)} does not "
                    f"take. Name a writer parameter {name!r}, or map it with "
                    f"key={{{name!r}: '<writer parameter>'}} or key=callable."
                )
        if renames:
            raise ConfigurationError(
                f"@memo.{decorator} on {display(writer)}: key= names {sorted(renames)}, which "
                f"are not parameters of the reader {reader.plan.name}."
            )
        return sources

    def __call__(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """(args, kwargs) for the reader, from one call's writer (args, kwargs)."""
        if self.key is not None:
            mapped = self.key(*args, **kwargs)
            if isinstance(mapped, dict):
                return (), mapped
            return (mapped if isinstance(mapped, tuple) else (mapped,)), {}
        arguments = self.writer.arguments(self.writer(args, kwargs))
        assert self.sources is not None
        return (), {name: arguments[source] for name, source in self.sources.items()}


def _underlying(function: Any) -> Callable[..., Any]:
    if isinstance(function, (classmethod, staticmethod)):
        inner: Callable[..., Any] = function.__func__
        return inner
    return function  # type: ignore[no-any-return]
