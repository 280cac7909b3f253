"""A Waiter keeps one wait's registration across its looks at the lease (waiter.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from memo._redis.waiter import Waiter

pytestmark = pytest.mark.timeout(30)


def test_a_wake_before_the_wait_counts_in_either_colour() -> None:
    waiter = Waiter()
    waiter.wake()
    assert waiter.wait_for(0.0) is True
    assert asyncio.run(waiter.await_for(0.0)) is True


def test_a_wait_with_no_wake_times_out_and_a_later_wake_still_counts() -> None:
    waiter = Waiter()
    assert waiter.wait_for(0.01) is False

    async def main() -> list[bool]:
        first = await waiter.await_for(0.01)  # the future is made here, then times out
        threading.Timer(0.02, waiter.wake).start()  # from another thread, as the events one
        return [first, await waiter.await_for(5.0)]

    assert asyncio.run(main()) == [False, True]
    assert waiter.wait_for(0.0) is True


def test_a_wake_after_the_loop_closed_raises_nothing() -> None:
    """The events thread may wake a waiter whose loop is gone (its task was cancelled)."""
    waiter = Waiter()
    assert asyncio.run(waiter.await_for(0.0)) is False
    waiter.wake()  # the future's loop is closed: nothing to schedule, nothing raised
    assert waiter.wait_for(0.0) is True
