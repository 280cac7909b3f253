"""Module-level cached functions: what pickling by reference and worker pools need."""

from __future__ import annotations

import memo


@memo.cached
def cached_func(x: int, y: int) -> int:
    """3x + y, cached (CPython's `py_cached_func`)."""
    return 3 * x + y


@memo.cached
async def acached_func(x: int) -> int:
    """x, cached, as a coroutine function."""
    return x


class Holder:
    """A class holding cached methods (CPython's `TestLRU.cached_meth` and kin)."""

    def __memo_key__(self) -> str:
        return "holder"

    @memo.cached
    def cached_meth(self, x: int, y: int) -> int:
        return 3 * x + y

    @staticmethod
    @memo.cached
    def cached_staticmeth(x: int, y: int) -> int:
        return 3 * x + y


HOLDER = Holder()
