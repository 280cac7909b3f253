"""The decorated object, and how a call reaches its hit path (`hit_path.py`).

A plain function (module level, or made in a function) becomes a plain function: the
generated hit path itself, named and documented as the original (`functools.update_wrapper`)
and carrying the handles as attributes, as `functools.lru_cache` and cachetools do. A
function object is called by CPython's vectorcall, where any other object's Python
`__call__` costs an argument tuple and a method lookup more per call (about 250 ns of an
L1 hit of 1.3 us), and a recursive function spends one recursion unit less per level.

Everything else (a function defined in a class body, a classmethod or staticmethod object, a
partial, a builtin, any callable) becomes a wrapt FunctionWrapper whose `__call__` is the
generated hit path, so that its handles bind as the method does: `obj.method.invalidate(1)`
invalidates `obj.method(1)`. wrapt's own `__call__` would look up `__self__` on every call.
A method read from an instance (a classmethod from its class) is bound by a
`functools.partial` subclass (`methods.py`), made and called in C; the rarer bindings
(static methods, a function read through its class) stay wrapt's job
(`__bound_function_wrapper__`). Where the C accelerator is built, a function defined in a
class body is, in its class, a C descriptor around that FunctionWrapper
(`methods.in_class`): `obj.method(1)` is then called without being bound at all.
"""

from __future__ import annotations

import builtins
import functools
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from memo._runtime._async.handles import AsyncHandles
from memo._runtime._sync.handles import SyncHandles
from memo._runtime.core import Core
from memo._runtime.hit_path import closed_path, hit_path, names
from memo._runtime.methods import AsyncMethod, Method, _Method, in_class
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
    """A sync cached method bound to an instance or class (`wrap()` adds its `__call__`)."""

    # wrapt's types define __getattr__, so CPython would send every attribute read of a
    # Python subclass through a call of wrapt's __getattribute__ (about 200 ns); the generic
    # lookup is what that does first, and __getattr__ still answers what it does not find.
    __getattribute__ = object.__getattribute__


class AsyncBoundMemoized(PortableBound, _BoundMixin, AsyncHandles, _BoundFunctionWrapper):
    """An `async def` cached method bound to an instance or class (`wrap()` adds its
    `__call__`)."""

    __getattribute__ = object.__getattribute__


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
    __getattribute__ = object.__getattribute__  # see BoundMemoized


class AsyncMemoized(PortableFunction, _UnboundMixin, AsyncHandles, _FunctionWrapper):
    """An `async def` cached function (still a coroutine function once wrapped)."""

    __bound_function_wrapper__ = AsyncBoundMemoized
    __getattribute__ = object.__getattribute__


def wrap(wrapped: Any, core: Core) -> Any:
    """The decorated object for wrapped, with the hit path of core as its call."""
    if _plain_function(wrapped):
        return _function(wrapped, core)
    base, bound_base = (
        (AsyncMemoized, AsyncBoundMemoized) if core.is_async else (Memoized, BoundMemoized)
    )
    bound = type(bound_base.__name__, (bound_base,), {"__module__": __name__})
    cls = type(
        base.__name__, (base,), {"__module__": __name__, "__bound_function_wrapper__": bound}
    )

    made: dict[tuple[bool, bool], tuple[Any, Any]] = {}
    free, follow = _free_path(core, wrapped)

    def paths_of(variant: tuple[bool, bool]) -> tuple[Any, Any]:
        # Made once per variant: a tiered store switches its L1 off and on with its events
        # connection, and compiling every function's hit path at each flap would cost.
        paths = made.get(variant)
        if paths is None:
            unbound = hit_path(core, bound=False, variant=variant)
            paths = made[variant] = (unbound, hit_path(core, bound=True, variant=variant))
        return paths

    def compiled_on_first_call(variant: tuple[bool, bool], side: int) -> Any:
        # A method is called through its partial (the free path): most proxies' own paths
        # (a read through the class, a staticmethod) never run, so they compile when first
        # called, not at decoration (each compile is about a millisecond).
        def first_call(self: Any, *args: Any, **kwargs: Any) -> Any:
            paths = paths_of(variant)
            if variant == (core.plan.l1_copy, core.l1_looked):  # not replaced meanwhile
                cls.__call__, bound.__call__ = paths  # type: ignore[method-assign]
            return paths[side](self, *args, **kwargs)

        return first_call

    def regenerate() -> None:  # l1_copy and whether there is an L1 are baked into it
        variant = (core.plan.l1_copy, core.l1_looked)
        paths = made.get(variant) or (
            compiled_on_first_call(variant, 0),
            compiled_on_first_call(variant, 1),
        )
        cls.__call__, bound.__call__ = paths  # type: ignore[method-assign]
        follow()

    regenerate()
    proxy = cls(wrapped, _unused_wrapper)
    proxy._self_core = core
    base_method = AsyncMethod if core.is_async else Method
    # Its methods are partials of the free hit path: one class per function says whose
    # (through a staticmethod: the proxy is itself a descriptor, which would bind).
    decorated = staticmethod(proxy)
    inherited = {name: base_method.__dict__[name] for name in ("__module__", "__doc__")}
    method = type(base_method.__name__, (base_method,), {**inherited, "_memo_decorated": decorated})
    binder = _binder(proxy._self_binding, method, free)
    setattr(cls, "__get__", binder)  # noqa: B010 (mypy: a method)
    core.on_rebind = regenerate
    if proxy._self_binding == "function":  # defined in a class body: a method's descriptor
        return in_class(proxy, free, method, binder)
    return proxy


def _free_path(core: Core, wrapped: Any) -> tuple[types.FunctionType, Callable[[], None]]:
    """core's hit path as a function without `self` (a plain function's whole decorated
    object, a method's partial), and what makes it follow the current variant: it takes
    that variant's code in place, so that whoever holds it calls the current path."""
    cells = names(core)
    home = getattr(wrapped, "__globals__", None)
    if not isinstance(home, dict):  # a partial, a classmethod object, a callable
        home = {"__builtins__": builtins}
    function = closed_path(core, cells, home)
    # Named as the original: CPython's TypeError for a call that does not bind says whose.
    for attribute in ("__name__", "__qualname__"):
        name = getattr(wrapped, attribute, None)
        if isinstance(name, str):  # a callable object may answer anything, or nothing
            setattr(function, attribute, name)
    made = {(core.plan.l1_copy, core.l1_looked): function.__code__}

    def follow() -> None:
        variant = (core.plan.l1_copy, core.l1_looked)
        code = made.get(variant)
        if code is None:
            code = made[variant] = closed_path(core, cells, home).__code__
        function.__code__ = code

    return function, follow


def _plain_function(wrapped: Any) -> bool:
    """Whether wrapped is a function no class will bind: not made in a class body (its
    qualified name's owner is a module or `<locals>`), and not taking self or cls first."""
    if type(wrapped) is not types.FunctionType:
        return False
    owner = wrapped.__qualname__.rpartition(".")[0]
    if owner and not owner.endswith("<locals>"):
        return False
    code = wrapped.__code__
    first = code.co_varnames[:1] if code.co_argcount else ()
    return first not in (("self",), ("cls",))


class _Attached:
    """The handles of a decorated plain function, which carries them as attributes."""

    __slots__ = ("_self_core",)

    def __init__(self, core: Core) -> None:
        self._self_core = core

    def _memo_core(self) -> Core:
        return self._self_core

    def _memo_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return args


class _SyncAttached(_Attached, SyncHandles):
    __slots__ = ()


class _AsyncAttached(_Attached, AsyncHandles):
    __slots__ = ()


_ATTACHED = (
    *("cache_key", "cache_info", "cache_clear", "invalidate", "invalidate_all"),
    *("refresh", "warm"),
)


def _function(wrapped: types.FunctionType, core: Core) -> Any:
    """wrapped decorated as a plain function: the hit path, with the handles attached."""
    function, follow = _free_path(core, wrapped)
    functools.update_wrapper(function, wrapped)
    handles = (_AsyncAttached if core.is_async else _SyncAttached)(core)
    attached = function.__dict__
    for name in _ATTACHED:
        attached[name] = getattr(handles, name)
    attached["stats"] = core.plan.stats  # the plan's own counters: reset in place, never swapped
    attached["uncached"] = core.function
    attached["_self_core"] = core
    attached["_memo_handles"] = handles  # what the command line reads
    core.on_rebind = follow
    return function


def _binder(binding: str, method: type[_Method], free: Callable[..., Any]) -> Callable[..., Any]:
    """The decorated function's `__get__`: a method binds to its instance (a classmethod to
    its class) as `method(free, instance)`, a partial of the free hit path; other bindings
    (a staticmethod, a function read through its class) are wrapt's. Made per binding: it
    runs on every method call."""
    wrapt_get = _FunctionWrapper.__get__
    # The last class bound, and its method: a class lives as long as its methods, so holding
    # one costs nothing, and `K.f(1)` then makes no partial (~110 ns, a quarter of the hit).
    # Instances are never held: their lifetime is their caller's.
    last: list[tuple[Any, Any]] = [(None, None)]
    if binding == "function":

        def bind_to_instance(self: Any, instance: Any, owner: Any = None) -> Any:
            if instance is None:
                return wrapt_get(self, instance, owner)
            if owner is not instance:  # an instance, read through its class
                return method(free, instance)
            # A classmethod's class: 3.11 and 3.12 chain its __get__ as (class, class).
            held, bound = last[0]  # one tuple, swapped whole: no thread sees half of it
            if held is not instance:
                bound = method(free, instance)
                last[0] = (instance, bound)
            return bound

        return bind_to_instance
    if binding == "classmethod":

        def bind_to_class(self: Any, instance: Any, owner: Any = None) -> Any:
            holder = owner if owner is not None else type(instance)
            held, bound = last[0]  # one tuple, swapped whole: no thread sees half of it
            if held is not holder:
                bound = method(free, holder)
                last[0] = (holder, bound)
            return bound

        return bind_to_class
    return wrapt_get
