"""The decorated object: a wrapt FunctionWrapper whose `__call__` is the hit path.

wrapt's own `__call__` looks up `__self__` on every plain-function call and pays for the
AttributeError; memo instead builds, per decorated function, a small class whose `__call__`
is a closure over that function's state. The hit path then costs one Python call, a type
check per argument, a tuple, a dict lookup and a deadline comparison. Binding to instances,
classes and static methods stays wrapt's job (`__bound_function_wrapper__`).
"""

from __future__ import annotations

import inspect
import operator
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from memo._clock import CLOCK
from memo._keys.builder import FAST_TYPES
from memo._runtime._async.handles import AsyncHandles
from memo._runtime._sync.handles import SyncHandles
from memo._runtime.core import Core
from memo._runtime.disabled import ACTIVE
from memo._runtime.portable import PortableBound, PortableFunction

__all__ = ["wrap"]

if TYPE_CHECKING:
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
else:
    _FunctionWrapper = wrapt.FunctionWrapper
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper


def _unused_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    # wrapt requires a wrapper callable; memo's classes override __call__ instead.
    return wrapped(*args, **kwargs)


# -- bound (methods, classmethods, staticmethods) --------------------------------------


class _BoundMixin:
    """Turns wrapt's binding into the full argument tuple of the underlying function."""

    __slots__ = ()
    _self_parent: Any
    _self_instance: Any
    _self_binding: str
    _self_owner: Any
    __wrapped__: Any

    def _memo_core(self) -> Core:
        core: Core = self._self_parent._self_core
        return core

    def _memo_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        binding = self._self_binding
        if binding == "classmethod":
            return (self._self_owner, *args)
        if binding == "staticmethod" or self._self_instance is None:
            return args
        return (self._self_instance, *args)

    @property
    def uncached(self) -> Callable[..., Any]:
        """The original function, bound like this method."""
        wrapped: Callable[..., Any] = self.__wrapped__
        return wrapped


class BoundMemoized(PortableBound, _BoundMixin, SyncHandles, _BoundFunctionWrapper):
    """A sync cached method bound to an instance or class."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._memo_core().call(self._memo_args(args), kwargs)


class AsyncBoundMemoized(PortableBound, _BoundMixin, AsyncHandles, _BoundFunctionWrapper):
    """An `async def` cached method bound to an instance or class."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._memo_core().acall(self._memo_args(args), kwargs)


# -- unbound --------------------------------------------------------------------------------


class _UnboundMixin:
    __slots__ = ()
    _self_core: Core

    def _memo_core(self) -> Core:
        return self._self_core

    def _memo_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return args

    @property
    def uncached(self) -> Callable[..., Any]:
        """The original function."""
        return self._self_core.function


class Memoized(PortableFunction, _UnboundMixin, SyncHandles, _FunctionWrapper):
    """A sync cached function."""

    __bound_function_wrapper__ = BoundMemoized


class AsyncMemoized(PortableFunction, _UnboundMixin, AsyncHandles, _FunctionWrapper):
    """An `async def` cached function (still a coroutine function once wrapped)."""

    __bound_function_wrapper__ = AsyncBoundMemoized


def wrap(wrapped: Any, core: Core) -> Any:
    """The decorated object for wrapped, with the hit path of core as its `__call__`."""
    base = AsyncMemoized if core.is_async else Memoized
    cls = type(base.__name__, (base,), {"__call__": _hit_path(core), "__module__": __name__})
    proxy = cls(wrapped, _unused_wrapper)
    proxy._self_core = core

    def regenerate() -> None:  # l1_copy is baked into the hit path
        cls.__call__ = _hit_path(core)  # type: ignore[method-assign]

    core.on_rebind = regenerate
    return proxy


# The hit path is generated per function, as attrs and dataclasses generate __init__: the
# type checks are unrolled for the function's arity (a Python loop costs more than the rest
# of the lookup), and the same template yields the sync and the async colour.
_HIT_PATH = """
{colour}def __call__(self, *args, **kwargs):
    if kwargs:
        if args or len(kwargs) != kw_arity:
            return {wait}miss(args, kwargs)
        try:
            values = by_name(kwargs)
        except KeyError:
            return {wait}miss(args, kwargs)
    elif len(args) == pos_arity:
        values = args
    else:
        return {wait}miss(args, kwargs)
    if {fast_types} and not active[0]:
        key = core.prefix + values
        l1 = core.l1
        entry = l1.get(key)
        now = clock.monotonic()
        if entry is not None and entry.expires > now:
            entry.used = True{observe}{refresh}
            stats.l1_hits += 1
            return {value}
        return {wait}miss(args, kwargs, key, values)
    return {wait}miss(args, kwargs)
"""
_UNROLL_UP_TO = 8
_LEN = len


def _hit_path(core: Core) -> Callable[..., Any]:
    normaliser = core.keys.normaliser
    arity = normaliser.arity if core.keys.fast else -1
    names = normaliser.names
    every_positional = arity >= 0 and normaliser.positional == arity
    every_by_name = arity > 0 and len(normaliser.index) == arity
    if arity <= _UNROLL_UP_TO:
        checks = " and ".join(f"type(values[{i}]) in fast" for i in range(max(arity, 0)))
    else:
        checks = "all(type(v) in fast for v in values)"
    namespace: dict[str, Any] = {
        "core": core,
        "plan": core.plan,
        "stats": core.plan.stats,
        "miss": core.acall if core.is_async else _miss(core),
        "fast": FAST_TYPES,
        "clock": CLOCK,
        "active": ACTIVE,
        "pos_arity": arity if every_positional else -1,
        "kw_arity": arity if every_by_name else -1,
        "by_name": _by_name(names) if every_by_name else None,
        "len": _LEN,  # a cached builtins.len must not call itself from here
    }
    source = _HIT_PATH.format(
        colour="async " if core.is_async else "",
        wait="await " if core.is_async else "",
        fast_types=checks or "True",
        value="plan.unpack(entry.value)" if core.plan.l1_copy else "entry.value",
        observe="\n            plan.adaptive.observe(key)" if core.plan.adaptive else "",
        refresh=(
            "\n            if plan.due(entry, now):"
            "\n                core.refresh_later(args, kwargs, key, values, entry=entry, now=now)"
            if core.plan.refreshes
            else ""
        ),
    )
    exec(compile(source, f"<memo hit path of {core.plan.name}>", "exec"), namespace)
    hit_path: Callable[..., Any] = namespace["__call__"]
    return hit_path


def _by_name(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        (name,) = names
        return lambda kwargs: (kwargs[name],)
    getter: Callable[[dict[str, Any]], tuple[Any, ...]] = operator.itemgetter(*names)
    return getter


def _miss(core: Core) -> Callable[..., Any]:
    """core.call; for a builtin (`builtins.len = memo.cached(len)`), one that memo's own use
    of that builtin while it serves a miss reaches as a plain call, not as another miss."""
    if not inspect.isbuiltin(core.function):
        return core.call
    serving = threading.local()
    function, call = core.function, core.call

    def guarded(*args: Any) -> Any:
        if getattr(serving, "active", False):
            positional, kwargs = args[0], args[1]
            return function(*positional, **kwargs)
        serving.active = True
        try:
            return call(*args)
        finally:
            serving.active = False

    return guarded
