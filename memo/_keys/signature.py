"""Call normalisation: every call style of one function maps to one tuple of argument values.

`f(1)`, `f(x=1)` and `f(1, y=<default>)` give the same tuple. The normaliser is built once at
decoration from `inspect.signature`; the call path only indexes tuples and dicts, and falls
back to `Signature.bind` just to raise Python's own TypeError for a wrong call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MISSING", "Normaliser"]

MISSING: Any = object()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class Normaliser:
    """Maps (args, kwargs) of one signature to the values of its parameters, in order."""

    __slots__ = ("arity", "defaults", "index", "names", "needed", "positional", "signature")

    def __init__(self, function: Callable[..., Any]) -> None:
        self.signature = inspect.signature(function)
        params = list(self.signature.parameters.values())
        self.names: tuple[str, ...] = tuple(p.name for p in params)
        # arity is -1 when *args/**kwargs make the slow, bind()-based path necessary.
        simple = not any(p.kind in _VARIADIC for p in params)
        self.arity = len(params) if simple else -1
        self.positional = sum(p.kind in _POSITIONAL for p in params)
        self.index = {p.name: i for i, p in enumerate(params) if p.kind in _BY_NAME}
        self.defaults: tuple[Any, ...] = tuple(
            MISSING if p.default is inspect.Parameter.empty else p.default for p in params
        )
        required = [i for i, d in enumerate(self.defaults) if d is MISSING]
        self.needed = required[-1] + 1 if required else 0

    def __call__(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameter values of this call, defaults applied; TypeError for a wrong call."""
        if self.arity < 0:
            return self._bind(args, kwargs)
        count = len(args)
        if count > self.positional:
            return self._bind(args, kwargs)
        if not kwargs:
            if count < self.needed:
                return self._bind(args, kwargs)
            return args + self.defaults[count:] if count < self.arity else args
        return self._merge(args, kwargs)

    def _merge(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(args)
        values.extend(self.defaults[len(args) :])
        supplied = [False] * self.arity
        for name, value in kwargs.items():
            i = self.index.get(name)
            if i is None or i < len(args) or supplied[i]:
                return self._bind(args, kwargs)
            values[i] = value
            supplied[i] = True
        for i in range(len(args), self.needed):
            if values[i] is MISSING and not supplied[i]:
                return self._bind(args, kwargs)
        return tuple(values)

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments[name] for name in self.names)

    def arguments(self, values: tuple[Any, ...]) -> dict[str, Any]:
        """Parameter name → value, for key templates, tags and `memo.Write`."""
        return dict(zip(self.names, values, strict=True))

    def call_parts(self, values: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """(args, kwargs) that call the function with these parameter values."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param, value in zip(self.signature.parameters.values(), values, strict=True):
            if param.kind in _POSITIONAL:
                args.append(value)
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(value)
            elif param.kind is inspect.Parameter.KEYWORD_ONLY:
                kwargs[param.name] = value
            else:
                kwargs.update(value)
        return tuple(args), kwargs
