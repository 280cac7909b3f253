"""What lets a cached function travel like `functools.lru_cache`'s: pickling by reference,
copies that are the function itself, and the wrapped function's annotations.

wrapt's proxy refuses `__reduce__`, `__copy__` and `__deepcopy__` (it cannot know how to
rebuild what it wraps), and a class attribute `__annotations__` of the wrapper classes would
shadow the wrapped function's. A decorated module-level function is a module global, so it
pickles as one (`module.qualname`, found again in the worker: multiprocessing, Celery, Dask);
a bound method pickles as `getattr(instance, name)`, as Python's bound methods do.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PortableBound", "PortableFunction"]


class _WrappedAnnotations:
    """`__annotations__` of the wrapped function (read and written through); on the class
    itself an empty dict, so tools that read class annotations see none."""

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> dict[str, Any]:
        if instance is None:
            return {}
        annotations: dict[str, Any] = getattr(instance.__wrapped__, "__annotations__", {})
        return annotations

    def __set__(self, instance: Any, value: dict[str, Any]) -> None:
        instance.__wrapped__.__annotations__ = value


class _Portable:
    __slots__ = ()
    __annotations__ = _WrappedAnnotations()

    def __copy__(self) -> Any:
        """The function itself, as `copy.copy` of an lru_cache function."""
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """The function itself: its cache is shared state, never duplicated."""
        return self


class PortableFunction(_Portable):
    """A decorated function pickles by reference to `module.qualname`."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> str | tuple[Any, ...]:
        qualname: str = self.__qualname__  # type: ignore[attr-defined]
        return qualname


class PortableBound(_Portable):
    """A bound cached method pickles as `getattr(instance or class, name)`."""

    __slots__ = ()  # no annotations here: they would shadow the wrapped function's

    def __reduce_ex__(self, protocol: Any) -> str | tuple[Any, ...]:
        instance = self._self_instance  # type: ignore[attr-defined]
        holder = instance if instance is not None else self._self_owner  # type: ignore[attr-defined]
        name: str = self.__name__  # type: ignore[attr-defined]
        return getattr, (holder, name)
