"""The decorated object: a wrapt FunctionWrapper whose `__call__` is the hit path.

wrapt's own `__call__` looks up `__self__` on every plain-function call and pays for the
AttributeError; memo instead builds, per decorated function, a small class whose `__call__`
is a closure over that function's state. The hit path then costs one Python call, a type
check per argument (and a call for each argument that is not an int, str, bytes or None:
its L1 token), a tuple, a dict lookup and a deadline comparison; a miss calls the function
from the same frame. A method read from an instance (a classmethod
from its class) is bound by a `functools.partial` subclass (`Method`), made and called in C;
the rarer bindings (static methods, a function read through its class) stay wrapt's job
(`__bound_function_wrapper__`).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from memo._clock import CLOCK
from memo._keys.builder import FAST_TYPES
from memo._keys.local import FLOAT_TAG, TOKEN_OF, local_token, local_tokens
from memo._runtime._async.handles import AsyncHandles
from memo._runtime._sync.handles import SyncHandles
from memo._runtime.core import Core
from memo._runtime.disabled import ACTIVE
from memo._runtime.pending import COMPUTE, Pending
from memo._runtime.portable import PortableBound, PortableFunction, _Portable

__all__ = ["wrap"]

if TYPE_CHECKING:
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
    _PartialBase = functools.partial[Any]  # what _Method's subclasses are (func, args)
else:
    _FunctionWrapper = wrapt.FunctionWrapper
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper
    _PartialBase = object  # no class annotations: they would shadow `__annotations__`


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


class _Method(_Portable, _PartialBase):
    """A cached method bound to its instance (a classmethod: to its class), as
    `functools.partial(decorated, instance)`.

    wrapt's binding makes a proxy object per attribute read (about 1 us) whose call then
    reads its binding back through attributes; a partial is made in C and its call passes
    the instance on to the decorated function's own hit path in C. It answers like the
    bound method it stands for: `__self__`, `__func__`, `__wrapped__`, signature, equality,
    pickling, and `inspect.ismethod` (through `__class__`, as wrapt's proxy does).
    """

    __slots__ = ()
    __getattribute__ = object.__getattribute__

    def _memo_core(self) -> Core:
        decorated: Any = self.func
        core: Core = decorated._self_core
        return core

    def _memo_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*self.args, *args)

    @property
    def _self_core(self) -> Core:
        return self._memo_core()

    @property
    def __self__(self) -> Any:
        return self.args[0]

    @property
    def __wrapped__(self) -> Any:
        """The undecorated function, bound as this method is."""
        decorated: Any = self.func
        wrapped: Any = decorated.__wrapped__
        holder = self.args[0]
        if isinstance(wrapped, classmethod):
            return wrapped.__get__(None, holder)
        return wrapped.__get__(holder, type(holder))

    @property
    def __func__(self) -> Any:
        return self.__wrapped__.__func__

    @property
    def uncached(self) -> Callable[..., Any]:
        """The original function, bound like this method."""
        wrapped: Callable[..., Any] = self.__wrapped__
        return wrapped

    @property  # type: ignore[misc]  # a bound method's class, as wrapt's proxy answers
    def __class__(self) -> type[Any]:
        return types.MethodType

    # __name__ and __qualname__ come through __getattr__; __module__ and __doc__ are set
    # on each class below (a class body would define them as strings).

    def __getattr__(self, name: str) -> Any:
        # Anything else (attributes set on the function): the bound original's, as wrapt.
        return getattr(self.__wrapped__, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Method):
            other = other.__wrapped__
        equal: bool = self.__wrapped__ == other
        return equal

    def __hash__(self) -> int:
        return hash(self.__wrapped__)

    def __repr__(self) -> str:
        return f"<memo-cached bound method {self.__qualname__} of {self.args[0]!r}>"

    def __reduce_ex__(self, protocol: Any) -> str | tuple[Any, ...]:
        return getattr, (self.args[0], self.func.__name__)


class Method(_Method, SyncHandles, functools.partial[Any]):
    # A sync cached method bound to its instance or class (no docstring: see below).
    pass


class AsyncMethod(_Method, AsyncHandles, functools.partial[Any]):
    # An `async def` cached method bound to its instance or class.
    pass


for _method in (Method, AsyncMethod):  # the bound function's, as a bound method answers
    _method.__module__ = property(lambda self: self.func.__module__)  # type: ignore[assignment]
    _method.__doc__ = property(lambda self: self.func.__doc__)  # type: ignore[assignment]


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
    """The decorated object for wrapped, with the hit path of core as its `__call__`."""
    base, bound_base = (
        (AsyncMemoized, AsyncBoundMemoized) if core.is_async else (Memoized, BoundMemoized)
    )
    bound = type(bound_base.__name__, (bound_base,), {"__module__": __name__})
    cls = type(
        base.__name__, (base,), {"__module__": __name__, "__bound_function_wrapper__": bound}
    )

    made: dict[tuple[bool, bool], tuple[Any, Any]] = {}

    def regenerate() -> None:  # l1_copy and whether there is an L1 are baked into it
        # Made once per variant: a tiered store switches its L1 off and on with its events
        # connection, and compiling every function's hit path at each flap would cost.
        variant = (core.plan.l1_copy, core.l1_looked)
        paths = made.get(variant)
        if paths is None:
            paths = made[variant] = (_hit_path(core, bound=False), _hit_path(core, bound=True))
        cls.__call__, bound.__call__ = paths  # type: ignore[method-assign]

    regenerate()
    proxy = cls(wrapped, _unused_wrapper)
    proxy._self_core = core
    method = AsyncMethod if core.is_async else Method
    setattr(cls, "__get__", _binder(proxy._self_binding, method))  # noqa: B010 (mypy: a method)
    core.on_rebind = regenerate
    return proxy


def _binder(binding: str, method: type[_Method]) -> Callable[..., Any]:
    """The decorated function's `__get__`: a method binds to its instance (a classmethod to
    its class) by a partial (`_Method`); other bindings (a staticmethod, a plain function
    read through its class) are wrapt's. Made per binding: it runs on every method call."""
    wrapt_get = _FunctionWrapper.__get__
    if binding == "function":

        def bind_to_instance(self: Any, instance: Any, owner: Any = None) -> Any:
            if instance is None:
                return wrapt_get(self, instance, owner)
            return method(self, instance)

        return bind_to_instance
    if binding == "classmethod":

        def bind_to_class(self: Any, instance: Any, owner: Any = None) -> Any:
            return method(self, owner if owner is not None else type(instance))

        return bind_to_class
    return wrapt_get


# The hit path is generated per function, as attrs and dataclasses generate __init__: the
# token of each key value is unrolled for the function's arity (a Python loop costs more than
# the rest of the lookup), and the same template yields the sync and the async colour, for
# the function and for its bound methods. Values of int, str, bytes and None are their own
# token (`type(v) in raw`); any other value is tokenised by its exact type (_keys/local.py).
# Calls that pass every parameter positionally use args as they are (with ignore=, the kept
# ones); any other shape is read by the reader made for it (_keys/shapes.py).
_HIT_PATH = """
{colour}def __call__(self, *args, **kwargs):{bind}
    if kwargs or len(args) != pos_arity:
        if readers is None:
            return {wait}miss(args, kwargs)
        tail = None if kwargs else tails.get(len(args))
        if tail is not None:  # positional, defaults omitted: one tuple concatenation
            values = args + tail
        else:
            shape = (len(args), *kwargs)
            values = (readers.get(shape) or learn(shape))(args, kwargs)
            if values is None:
                return {wait}miss(args, kwargs)
    else:
        values = {select}
    if active[0]:
        return {wait}miss(args, kwargs)
    try:
{tokens}
    except Exception:  # no key (or a __memo_key__ that raised): the slow path explains
        return {wait}miss(args, kwargs)
{lookup}{tail}"""
# The L1 lookup, left out while the store has no L1 to look into (an L2-only store, or a
# tiered one bypassing its L1): the miss path's store lookup is then the only one.
_L1_LOOKUP = """    entry = core.l1.get(key)
    now = clock.monotonic()
    if entry is not None and entry.expires > now:
        entry.used = True{observe}{refresh}
        stats.l1_hits += 1
        return {value}
"""
# A sync miss calls the function from the hit path's own frame, so that a recursive cached
# function costs the interpreter three recursion units per level (its frame, the call of this
# object, this frame), not eight: the driver stops when the policy needs the function
# (COMPUTE) and is resumed with its result. An async miss needs no such care: its leader
# runs in a task of its own (flight.py), which starts a fresh stack.
_SYNC_MISS = """    run = start(args, kwargs, key, values)
    if type(run) is not pending:
        return run
    step = run.step
    while step is compute:
        began = perf_counter()
        try:
            value = function(*args, **kwargs)
        except BaseException as exc:
            step = resume(run, None, exc)
        else:
            step = resume(run, (value, perf_counter() - began))
    return step
"""
_ASYNC_MISS = "    return await miss(args, kwargs, key, values)\n"
_LEN = len
_UNROLL_UP_TO = 8
# A bound method's arguments as the function takes them (_BoundMixin._memo_args, inlined).
_BIND = """
    binding = self._self_binding
    if binding == "classmethod":
        args = (self._self_owner, *args)
    elif binding != "staticmethod" and self._self_instance is not None:
        args = (self._self_instance, *args)"""


def _tokens(count: int) -> str:
    """Source that sets `key` to the L1 key of `values` (count of them, -1: unknown)."""
    if count < 0 or count > _UNROLL_UP_TO:
        return "        key = core.prefix + tokens(values)"
    lines = ["        token = core.token"]
    for i in range(count):
        # A float (not zero, not NaN) is tokenised inline, as _keys/local.py would: a call
        # less; every other kind pays one comparison for it (and one type() call less).
        lines += [
            f"        v{i} = values[{i}]",
            f"        kind = type(v{i})",
            "        if kind not in raw:",
            f"            v{i} = (FLOAT, v{i}) if kind is float_ and v{i} and v{i} == v{i} else"
            f" (token_of.get(kind) or local_token)(v{i})",
        ]
    lines.append("        key = (token, " + "".join(f"v{i}, " for i in range(count)) + ")")
    return "\n".join(lines)


def _key_count(core: Core) -> int:
    """How many values make the key of every call (-1 when it varies or key= makes it)."""
    keys = core.keys
    if keys.shapes is None:
        return -1
    return len(keys.keep) if keys.keep is not None else keys.normaliser.arity


def _hit_path(core: Core, *, bound: bool) -> Callable[..., Any]:
    if inspect.isbuiltin(core.function):
        return _builtin_path(core)
    normaliser = core.keys.normaliser
    shapes, keep = core.keys.shapes, core.keys.keep
    # A call passing every parameter positionally skips the shape readers: its values are
    # args itself, or (with ignore=) the kept ones, picked inline.
    positional_only = shapes is not None and normaliser.positional == normaliser.arity >= 0
    namespace: dict[str, Any] = {
        "core": core,
        "plan": core.plan,
        "stats": core.plan.stats,
        "miss": core.acall if core.is_async else core.call,
        "len": _LEN,  # a cached builtins.len must not call itself from here
        "start": core.start,
        "resume": core.resume,
        "pending": Pending,
        "compute": COMPUTE,
        "function": core.function,
        "perf_counter": time.perf_counter,
        "raw": FAST_TYPES,
        "local_token": local_token,
        "token_of": TOKEN_OF,
        "float_": float,
        "FLOAT": FLOAT_TAG,
        "tokens": local_tokens,
        "clock": CLOCK,
        "active": ACTIVE,
        "pos_arity": normaliser.arity if positional_only else -1,
        "readers": shapes.readers if shapes is not None else None,
        "learn": shapes.learn if shapes is not None else None,
        "tails": shapes.tails if shapes is not None else {},
    }
    lookup = _L1_LOOKUP.format(
        value="plan.unpack(entry.value)" if core.plan.l1_copy else "entry.value",
        observe="\n        plan.adaptive.observe(key)" if core.plan.adaptive else "",
        refresh=(
            "\n        if plan.due(entry, now):"
            "\n            core.refresh_later(args, kwargs, key, values, entry=entry, now=now)"
            if core.plan.refreshes
            else ""
        ),
    )
    source = _HIT_PATH.format(
        colour="async " if core.is_async else "",
        tail=_ASYNC_MISS if core.is_async else _SYNC_MISS,
        wait="await " if core.is_async else "",
        bind=_BIND if bound else "",
        tokens=_tokens(_key_count(core)),
        select="args" if keep is None else "(" + "".join(f"args[{i}], " for i in keep) + ")",
        lookup=lookup if core.l1_looked else "",
    )
    exec(compile(source, f"<memo hit path of {core.plan.name}>", "exec"), namespace)
    hit_path: Callable[..., Any] = namespace["__call__"]
    return hit_path


def _builtin_path(core: Core) -> Callable[..., Any]:
    """A cached builtin's `__call__`: every call through the guard of `_miss`. The generated
    hit path would build its key with code (the canonical encoder) that may call that very
    builtin (`builtins.len = memo.cached(len)`), and so call itself without end."""
    guarded = _miss(core)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        return guarded(args, kwargs)

    return __call__


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
