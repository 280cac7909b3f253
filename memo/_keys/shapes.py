"""Call shapes: the key values of a call, read without binding its signature each time.

A call's shape is how many positional arguments it passes and the names of its keywords, in
the order given. Every call of one shape reads its values from the same places, so the
first call of a shape builds a small function for it (as attrs generates `__init__`): it
takes each kept parameter from args, kwargs or the default, in parameter order, with
`ignore=` applied. `f(1)`, `f(a=1)` and `f(1, b=<default>)` then give one tuple, as
`Normaliser` does; a shape that would not bind (an unknown or repeated name, a missing
argument) gets `None` and the caller takes the slow path, which raises Python's TypeError.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from memo._keys.signature import MISSING, Normaliser

__all__ = ["Reader", "Shapes"]

Reader = Callable[[tuple[Any, ...], Mapping[str, Any]], "tuple[Any, ...] | None"]
_SHAPES_KEPT = 64  # shapes remembered per function; more are read by the slow path


def _unbindable(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    return None


class Shapes:
    """The readers of one function's call shapes, keyed by `(len(args), *kwargs)`, or by
    `tuple(kwargs)` when no argument is positional (a tuple made in one call, not built by
    unpacking: about 150 ns less per keyword call)."""

    __slots__ = ("keep", "normaliser", "readers", "tails")

    def __init__(self, normaliser: Normaliser, keep: tuple[int, ...] | None) -> None:
        self.normaliser = normaliser
        self.keep = keep
        self.readers: dict[Hashable, Reader] = {}
        # Without ignore=, a positional call that omits defaults is `args + tails[len(args)]`.
        self.tails: dict[int, tuple[Any, ...]] = {}
        if keep is None and normaliser.arity >= 0:
            defaults = normaliser.defaults
            for count in range(normaliser.needed, normaliser.positional + 1):
                if all(default is not MISSING for default in defaults[count:]):
                    self.tails[count] = defaults[count:]

    def learn(self, shape: tuple[Any, ...]) -> Reader:
        """The reader for shape (made and kept the first time): `(len(args), *names)`, or
        for a call of keywords alone, `names` (a tuple of strings never equals the other)."""
        reader = self.readers.get(shape)
        if reader is None:
            keywords_only = not shape or type(shape[0]) is str
            count, names = (0, shape) if keywords_only else (shape[0], shape[1:])
            reader = self._reader(count, names)
            if len(self.readers) < _SHAPES_KEPT:
                self.readers[shape] = reader
        return reader

    def _reader(self, count: int, names: tuple[str, ...]) -> Reader:
        sources = self._sources(count, names)
        if sources is None:
            return _unbindable
        kept = range(len(sources)) if self.keep is None else self.keep
        namespace: dict[str, Any] = {"defaults": self.normaliser.defaults}
        parts = [sources[i] for i in kept]
        body = "(" + "".join(part + ", " for part in parts) + ")"
        source = f"def read(args, kwargs):\n    return {body}\n"
        exec(compile(source, "<memo call shape>", "exec"), namespace)
        reader: Reader = namespace["read"]
        return reader

    def _sources(self, count: int, names: tuple[str, ...]) -> list[str] | None:
        """Where each parameter's value comes from in this shape; None if it cannot bind."""
        normaliser = self.normaliser
        if normaliser.arity < 0 or count > normaliser.positional or len(set(names)) < len(names):
            return None
        sources = [f"args[{i}]" for i in range(count)]
        sources += [f"defaults[{i}]" for i in range(count, normaliser.arity)]
        for name in names:
            i = normaliser.index.get(name)
            if i is None or i < count:
                return None
            sources[i] = f"kwargs[{name!r}]"
        for i, default in enumerate(normaliser.defaults):
            if default is MISSING and sources[i].startswith("defaults"):
                return None
        return sources
