"""What mypy cannot type about memo today, pinned so that a fix shows up.

Two kinds of lines, both checked strictly like `rejected.py`:

- correct code that mypy rejects carries the `# type: ignore[<code>]` it needs today; when
  mypy or memo's Protocols learn to accept it, the ignore becomes unused and fails
  `make typecheck`: then move the line to `api.py`.
- wrong code that mypy accepts is written plainly; when it starts being rejected, move it
  to `rejected.py` with its ignore.

Nothing here runs: every check lives in a function that is never called.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import memo

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

T = TypeVar("T")


def static_and_class_methods() -> None:
    """mypy strips @staticmethod/@classmethod, so `__get__` binds them like instance methods.

    A static method read from an instance loses its first parameter; a class method read
    from the class keeps `cls`. Either decorator order types the same.
    """

    class Units:
        @memo.cached
        @staticmethod
        def parse(text: str) -> float:
            return float(text)

        @memo.cached(ttl=60)
        @classmethod
        def load(cls, name: str) -> Units:
            return cls()

    Units().parse("1")  # type: ignore[call-arg]
    Units().parse.cache_key("1")  # type: ignore[call-arg]
    Units.load("m")  # type: ignore[call-arg, arg-type]
    Units.load.invalidate("m")  # type: ignore[call-arg, arg-type]


def generic_functions() -> None:
    """A function generic in its return type matches the `async def` overload of `cached`.

    `Callable[P, Coroutine[Any, Any, R]]` is tried first and mypy solves `T` as a coroutine,
    so the handle wants coroutines. Generic methods of generic classes are fine (`api.py`).
    """

    @memo.cached
    def first(items: list[T]) -> T:
        return items[0]

    first([1])  # type: ignore[arg-type, unused-coroutine]


def generic_class_read_from_bare_class() -> None:
    """Through the unparametrised class, a generic class's method keeps an unsolved `T`."""

    class Box(list[T]):
        @memo.cached(ignore=("self",))
        def first(self, default: T) -> T:
            return self[0] if self else default

    Box.first(Box[bytes](), b"")  # type: ignore[arg-type]


def results_typed_any() -> None:
    """A function returning Any matches both overloads of `cached`, so its handle is Any."""

    @memo.cached
    def load(path: str) -> Any:
        return path

    assert_type(load, Any)


def sync_function_returning_a_coroutine() -> None:
    """A plain `def` returning a coroutine is typed as async; at runtime it is sync."""

    @memo.cached
    def later(a: int) -> Coroutine[Any, Any, int]:
        raise NotImplementedError

    assert_type(later.invalidate(1), Coroutine[Any, Any, bool]).close()  # a bool: no .close()


async def wrong_code_accepted() -> None:
    """Wrong code mypy lets through; memo raises ConfigurationError or misbehaves at runtime."""

    @memo.cached
    async def af(a: int) -> int:
        return a

    memo.cached(tags="user:{a}")  # a str is an Iterable[str]
    memo.cached(ignore="self")  # likewise
    await af(1)
