"""Bounded concurrency, the one part of `warm()` that differs between the colours.

Hand-written in both: `TaskPool` runs coroutines as tasks under a semaphore, `ThreadPool` runs
calls on a thread pool. `scripts/unasync.py` maps the one name to the other, so the code that
uses them (`_async/warm.py`) is written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["TaskPool", "ThreadPool"]

T = TypeVar("T")
R = TypeVar("R")


class ThreadPool:
    """`map` on at most `concurrency` threads (named memo-warm-N), joined on exit."""

    def __init__(self, concurrency: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="memo-warm")

    def __enter__(self) -> ThreadPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._executor.shutdown(wait=True)

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """function(item) for each item, in order."""
        return list(self._executor.map(function, items))


class TaskPool:
    """`map` as tasks of the running loop, at most `concurrency` awaiting at once."""

    def __init__(self, concurrency: int) -> None:
        self._limit = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> TaskPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def map(self, function: Callable[[T], Awaitable[R]], items: Iterable[T]) -> list[R]:
        """function(item) for each item, in order."""

        async def one(item: T) -> R:
            async with self._limit:
                return await function(item)

        return list(await asyncio.gather(*(one(item) for item in items)))
