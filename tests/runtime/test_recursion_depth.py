"""A cached recursive function (dynamic programming) is not cut short by memo's own frames.

Each test runs in a fresh thread, whose recursion count starts at zero, at the default
recursion limit (1000), so pytest's own frames do not blur what memo costs per level.
A sync level costs two recursion units on CPython 3.11: the function's frame and the hit
path's frame, which also calls the function on a miss (a decorated plain function is that
hit path itself, called by vectorcall). `fib(400)` fits (two units a level allow about
490); a decorated object with a Python `__call__` costs a unit more (about 330 levels), and
with the eight units a level that memo used to spend, `fib(125)` was the end. An async
miss's leader runs in a task of its own, so async
recursion is bounded by memory, not by the recursion limit.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import Callable
from typing import Any

import memo

DEFAULT_LIMIT = 1000


def in_fresh_thread(run: Callable[[], Any]) -> Any:
    """run() in a new thread at the default recursion limit; its result or exception."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(run())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(DEFAULT_LIMIT)
    try:
        thread = threading.Thread(target=target)
        thread.start()
        thread.join(50)
    finally:
        sys.setrecursionlimit(previous)
    assert outcome, "the thread did not finish"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_sync_cold_fib_400_at_the_default_limit() -> None:
    """A cold fib(400) under @memo.cached runs at the default recursion limit (lru_cache:
    about 475; cachetools: about 325)."""

    @memo.cached
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert in_fresh_thread(lambda: fib(400)) == fibonacci(400)
    assert fib.stats.misses == 401


def test_sync_cold_method_fib_400_at_the_default_limit() -> None:
    """The same through a cached method: the C descriptor calls `self.fib(n)` as a function
    in a class is called, so a level costs what a plain function's does (the pure-Python
    binding, a partial per call, reaches about 300)."""

    class Numbers:
        def __memo_key__(self) -> str:
            return "numbers"

        @memo.cached
        def fib(self, n: int) -> int:
            return n if n < 2 else self.fib(n - 1) + self.fib(n - 2)

    assert in_fresh_thread(lambda: Numbers().fib(400)) == fibonacci(400)
    assert Numbers.fib.stats.misses == 401


def test_sync_miss_adds_no_frame_around_the_function() -> None:
    """Between two levels of a cold recursion there are exactly two Python frames: the
    function's and memo's hit path (which calls it on a miss)."""
    depths: list[int] = []

    @memo.cached
    def down(n: int) -> int:
        depths.append(_stack_depth())
        return 0 if n == 0 else down(n - 1)

    down(3)
    assert [b - a for a, b in itertools.pairwise(depths)] == [2, 2, 2]


def test_async_cold_fib_1000_at_the_default_limit() -> None:
    """A cold async fib(1000) runs at the default limit: each leader runs as its own task."""

    @memo.cached
    async def fib(n: int) -> int:
        return n if n < 2 else await fib(n - 1) + await fib(n - 2)

    assert in_fresh_thread(lambda: asyncio.run(fib(1000))) == fibonacci(1000)
    assert fib.stats.misses == 1001


def _stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth
