"""A cached method bound to its instance (a classmethod to its class): a partial in C;
and what stands for the method in its class (`in_class`)."""

from __future__ import annotations

import functools
import importlib
import os
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from memo._runtime._async.handles import AsyncHandles
from memo._runtime._sync.handles import SyncHandles
from memo._runtime.core import Core
from memo._runtime.portable import _Portable

__all__ = ["METHOD_DESCRIPTOR", "AsyncMethod", "Method", "in_class"]


def _accelerator() -> Callable[..., Any] | None:
    """The C accelerator's descriptor type (hatch_build.py builds it where a C compiler is);
    None without it, or with MEMO_PURE_PYTHON=1: methods then bind in Python, as below."""
    if os.environ.get("MEMO_PURE_PYTHON"):
        return None
    try:
        module = importlib.import_module("memo._runtime._descriptor")
    except ImportError:
        return None
    descriptor: Callable[..., Any] = module.MethodDescriptor
    return descriptor


METHOD_DESCRIPTOR = _accelerator()

if TYPE_CHECKING:
    _PartialBase = functools.partial[Any]  # what _Method's subclasses are (func, args)
else:
    _PartialBase = object  # no class annotations: they would shadow `__annotations__`


class _Method(_Portable, _PartialBase):
    """A cached method bound to its instance (a classmethod: to its class), as
    `functools.partial(hit_path, instance)`; each decorated function has its own subclass,
    whose `_memo_decorated` is the decorated object (the handles read its runtime).

    wrapt's binding makes a proxy object per attribute read (about 1 us) whose call then
    reads its binding back through attributes; a partial is made in C and its call passes
    the instance on to the hit path in C (on CPython 3.11 a partial subclass is called
    without vectorcall, which 3.12 inherits). It answers like the
    bound method it stands for: `__self__`, `__func__`, `__wrapped__`, signature, equality,
    pickling, and `inspect.ismethod` (through `__class__`, as wrapt's proxy does).
    """

    __slots__ = ()
    __getattribute__ = object.__getattribute__
    _memo_decorated = cast(Any, None)  # each function's subclass sets it (no annotation:
    # a class annotation would shadow the function's `__annotations__`, which _Portable reads)

    def _memo_core(self) -> Core:
        core: Core = self._memo_decorated._self_core
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
        wrapped: Any = self._memo_decorated.__wrapped__
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
        return getattr, (self.args[0], self._memo_decorated.__name__)


class Method(_Method, SyncHandles, functools.partial[Any]):
    # A sync cached method bound to its instance or class (no docstring: see below).
    pass


class AsyncMethod(_Method, AsyncHandles, functools.partial[Any]):
    # An `async def` cached method bound to its instance or class.
    pass


for _method in (Method, AsyncMethod):  # the bound function's, as a bound method answers
    _method.__module__ = property(lambda self: self._memo_decorated.__module__)  # type: ignore[assignment]
    _method.__doc__ = property(lambda self: self._memo_decorated.__doc__)  # type: ignore[assignment]


def in_class(decorated: Any, free: Callable[..., Any], method: type[_Method], binder: Any) -> Any:
    """What a decorated function defined in a class body is in the class's dictionary.

    With the C accelerator, a descriptor CPython calls as it calls a function: `obj.f(1)`
    runs `free(obj, 1)` with no binding, where decorated's Python `__get__` (binder) makes a
    method object per call; reading `obj.f` still makes `method(free, obj)`, and every
    attribute is decorated's. Without it, decorated itself."""
    if METHOD_DESCRIPTOR is None:
        return decorated
    return METHOD_DESCRIPTOR(free, method, binder, decorated)
