"""Calls of a cached function as `memo.testing` sees them: written several ways, compared, shown.

A `Call` holds one value per parameter (or `OMITTED` for a parameter left to its default).
It can be written positionally, by keyword, or with its defaults left out: three forms that
must share a key. Two calls are the same call when every parameter the key depends on
(all but `ignore=`) has the same canonical encoding, memo's own notion of equal arguments
(`1`, `1.0` and `True` differ; every NaN is alike). An argument with no canonical encoding
(possible under `key=`) is compared by its class and `==`.
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from memo._errors import ConfigurationError
from memo._keys import canonical

__all__ = ["OMITTED", "Call", "CallForm", "call", "core_of", "same_call"]


class _Omitted:
    def __repr__(self) -> str:
        return "<default>"


OMITTED: Any = _Omitted()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60


@dataclass(frozen=True)
class CallForm:
    """Positional and keyword arguments, ready to pass: `f(*form.args, **form.kwargs)`."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def show(self, name: str) -> str:
        """`name(1, 'x', limit=3)`, long values shortened."""
        parts = [_SHOW.repr(a) for a in self.args]
        parts += [f"{k}={_SHOW.repr(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


def call(*args: Any, **kwargs: Any) -> CallForm:
    """One call for `pin_keys`: `call(1, name="x")` stands for `f(1, name="x")`."""
    return CallForm(args, kwargs)


@dataclass(frozen=True)
class Call:
    """One value per parameter of a signature, `OMITTED` where the default is left to apply."""

    signature: inspect.Signature
    values: tuple[Any, ...]

    def _params(self) -> Iterator[tuple[inspect.Parameter, Any]]:
        return zip(self.signature.parameters.values(), self.values, strict=True)

    def explicit(self) -> CallForm:
        """Every parameter passed, positionally where it can be (defaults written out)."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param, value in self._params():
            _place(param, _applied(param, value), args, kwargs, by_name=False)
        return CallForm(tuple(args), kwargs)

    def by_keyword(self) -> CallForm:
        """Every parameter that can be named passed by name (defaults written out)."""
        if self._has_star_args():  # then nothing before *args can be named
            return self.explicit()
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param, value in self._params():
            _place(param, _applied(param, value), args, kwargs, by_name=True)
        return CallForm(tuple(args), kwargs)

    def minimal(self) -> CallForm:
        """Parameters left to their default not written at all."""
        params = list(self._params())
        named = not self._has_star_args()
        last = max(
            (i for i, (p, v) in enumerate(params) if v is not OMITTED and _positional(p, named)),
            default=-1,
        )
        if not named:  # *args has values: every parameter before it is passed by position
            last = next(i for i, (p, _) in enumerate(params) if p.kind is p.VAR_POSITIONAL)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for i, (param, value) in enumerate(params):
            if _positional(param, named):
                if i <= last:
                    args.append(_applied(param, value))
            elif value is not OMITTED:
                _place(param, value, args, kwargs, by_name=True)
        return CallForm(tuple(args), kwargs)

    def forms(self) -> tuple[CallForm, ...]:
        return (self.explicit(), self.by_keyword(), self.minimal())

    def _has_star_args(self) -> bool:
        return any(p.kind is p.VAR_POSITIONAL and v not in (OMITTED, ()) for p, v in self._params())


def _applied(param: inspect.Parameter, value: Any) -> Any:
    if value is not OMITTED:
        return value
    if param.kind is param.VAR_POSITIONAL:
        return ()
    if param.kind is param.VAR_KEYWORD:
        return {}
    return param.default


def _positional(param: inspect.Parameter, named: bool) -> bool:
    """Whether the minimal form passes param by position."""
    return param.kind is param.POSITIONAL_ONLY or (
        param.kind is param.POSITIONAL_OR_KEYWORD and not named
    )


def _place(
    param: inspect.Parameter, value: Any, args: list[Any], kwargs: dict[str, Any], by_name: bool
) -> None:
    if param.kind is param.VAR_POSITIONAL:
        args.extend(value)
    elif param.kind is param.VAR_KEYWORD:
        kwargs.update(value)
    elif param.kind is param.KEYWORD_ONLY or (by_name and param.kind in _POSITIONAL[1:]):
        kwargs[param.name] = value
    else:
        args.append(value)


def core_of(function: Callable[..., Any], helper: str) -> Any:
    """The runtime of a function decorated by memo, or a ConfigurationError naming the fix."""
    core = getattr(function, "_self_core", None)
    if core is None or not hasattr(core, "keys"):
        raise ConfigurationError(
            f"memo.testing.{helper}({function!r}): pass a function decorated with "
            "@memo.cached (the decorated function itself, not its .uncached)."
        )
    return core


def _identity(value: object) -> tuple[str, object]:
    try:
        return ("encoded", canonical.encode(value))
    except canonical.Unencodable:
        return ("object", value)


def same_call(keys: Any, first: CallForm, second: CallForm) -> bool:
    """Whether two calls are one call for the key: equal on every parameter not ignored."""
    a = keys.normaliser(first.args, first.kwargs)
    b = keys.normaliser(second.args, second.kwargs)
    kept = keys.keep if keys.keep is not None else range(len(a))
    for i in kept:
        (kind_a, x), (kind_b, y) = _identity(a[i]), _identity(b[i])
        if kind_a != kind_b or (kind_a == "encoded" and x != y):
            return False
        if kind_a == "object" and not (type(x) is type(y) and _equal(x, y)):
            return False
    return True


def _equal(x: object, y: object) -> bool:
    try:
        return bool(x == y)
    except Exception:  # an __eq__ that refuses (numpy-like): not provably equal
        return False
