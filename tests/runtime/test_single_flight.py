"""In-process stampede protection: N concurrent misses of one key run the function once."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

import memo

THREADS = 16


def run_threads(target: object, count: int = THREADS) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(i: int) -> None:
        barrier.wait(5)
        try:
            results[i] = target()  # type: ignore[operator]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_threads_share_one_computation() -> None:
    """16 threads missing one key at once run the function once and all get its value."""
    calls: list[int] = []

    @memo.cached
    def slow(x: int) -> int:
        calls.append(x)
        time.sleep(0.1)
        return x * 10

    results = run_threads(lambda: slow(3))
    assert results == [30] * THREADS
    assert calls == [3]
    assert slow.stats.waits + slow.stats.l1_hits == THREADS - 1


def test_thread_exception_reaches_every_waiter_and_is_not_cached() -> None:
    """The leader's exception is raised in every waiting thread, then the next call retries."""
    calls: list[int] = []

    @memo.cached
    def failing(x: int) -> int:
        calls.append(x)
        time.sleep(0.1)
        if len(calls) == 1:
            raise RuntimeError("database down")
        return x

    results = run_threads(lambda: failing(1))
    errors = [r for r in results if isinstance(r, RuntimeError)]
    assert len(calls) == 1
    assert len(errors) == THREADS
    assert failing(1) == 1
    assert len(calls) == 2


def test_lock_false_lets_every_thread_compute() -> None:
    """lock=False turns single-flight off."""
    calls: list[int] = []
    inside = threading.Barrier(4)

    @memo.cached(lock=False)
    def slow(x: int) -> int:
        calls.append(x)
        inside.wait(5)  # only passes when all four compute at once
        return x

    assert run_threads(lambda: slow(1), count=4) == [1, 1, 1, 1]
    assert len(calls) == 4


def test_waiter_computes_itself_after_lock_timeout() -> None:
    """A waiter gives up after lock_timeout and computes rather than hang."""
    release = threading.Event()
    calls: list[str] = []

    @memo.cached(lock_timeout=0.05)
    def stuck(x: int) -> str:
        who = "leader" if not calls else "waiter"
        calls.append(who)
        if who == "leader":
            release.wait(5)
        return who

    leader = threading.Thread(target=stuck, args=(1,))
    leader.start()
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.001)
    assert stuck(1) == "waiter"
    release.set()
    leader.join(5)
    assert calls == ["leader", "waiter"]


def test_different_keys_do_not_wait_for_each_other() -> None:
    """Single-flight is per key: two keys compute concurrently."""
    both = threading.Barrier(2)

    @memo.cached
    def slow(x: int) -> int:
        both.wait(5)  # would time out if the second key waited for the first
        return x

    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(slow(i))) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [1, 2]


def test_tasks_share_one_computation() -> None:
    """50 asyncio tasks missing one key run the coroutine once."""
    calls: list[int] = []

    @memo.cached
    async def slow(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0.05)
        return x * 2

    async def main() -> list[int]:
        return await asyncio.gather(*(slow(4) for _ in range(50)))

    assert asyncio.run(main()) == [8] * 50
    assert calls == [4]


def test_task_exception_reaches_every_waiter() -> None:
    """An async leader's exception reaches every waiting task and is not cached."""
    calls: list[int] = []

    @memo.cached
    async def failing(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0.02)
        if len(calls) == 1:
            raise KeyError("gone")
        return x

    async def main() -> None:
        results = await asyncio.gather(*(failing(1) for _ in range(10)), return_exceptions=True)
        assert all(isinstance(r, KeyError) for r in results)
        assert await failing(1) == 1

    asyncio.run(main())
    assert len(calls) == 2


async def _started(calls: list[int], count: int) -> None:
    """Yield to the loop until the function has been entered count times (bounded)."""
    for _ in range(1000):
        if len(calls) >= count:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"the function was entered {len(calls)} times, not {count}")


def test_cancelled_leader_leaves_the_run_to_its_waiters() -> None:
    """The leading task is cancelled while another awaits: the run goes on, once, and is
    stored; the waiter gets its value."""
    calls: list[int] = []

    @memo.cached(ignore=("gate",))
    async def slow(x: int, gate: asyncio.Event) -> int:
        calls.append(x)
        await gate.wait()
        return x * 10

    async def main() -> None:
        gate = asyncio.Event()
        leader = asyncio.ensure_future(slow(1, gate))
        await _started(calls, 1)
        waiter = asyncio.ensure_future(slow(1, gate))
        await asyncio.sleep(0.01)  # the waiter joins the flight
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        gate.set()
        assert await asyncio.wait_for(waiter, 5) == 10
        assert await slow(1, gate) == 10  # stored by the shared run: a hit

    asyncio.run(main())
    assert calls == [1]
    # two callers missed, one waited for the other, the third call hit
    assert (slow.stats.misses, slow.stats.waits, slow.stats.l1_hits) == (2, 1, 1)


def test_run_is_cancelled_when_every_awaiter_is() -> None:
    """Cancelling the leader and every waiter cancels the shared run; nothing is stored."""
    calls: list[int] = []
    cancelled: list[int] = []

    @memo.cached(ignore=("gate",))
    async def slow(x: int, gate: asyncio.Event) -> int:
        calls.append(x)
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.append(x)
            raise
        return x

    async def main() -> None:
        gate = asyncio.Event()
        tasks = [asyncio.ensure_future(slow(2, gate))]
        await _started(calls, 1)
        tasks += [asyncio.ensure_future(slow(2, gate)) for _ in range(3)]
        await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await _started(cancelled, 1)  # the run saw its cancellation
        gate.set()
        assert await slow(2, gate) == 2  # not stored: computed again

    asyncio.run(main())
    assert (calls, cancelled) == ([2, 2], [2])


def test_a_failing_run_reaches_every_awaiter_and_leaves_nothing_unretrieved() -> None:
    """The shared run raises after its leader was cancelled: the waiter gets the exception,
    a leader alone gets its own, and the loop reports no exception left unretrieved."""
    calls: list[int] = []
    unhandled: list[dict[str, object]] = []

    @memo.cached(ignore=("gate",))
    async def failing(x: int, gate: asyncio.Event) -> int:
        calls.append(x)
        await gate.wait()
        raise ValueError(f"no {x}")

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: unhandled.append(context)
        )
        gate = asyncio.Event()
        leader = asyncio.ensure_future(failing(4, gate))
        await _started(calls, 1)
        waiter = asyncio.ensure_future(failing(4, gate))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        gate.set()
        with pytest.raises(ValueError, match="no 4"):
            await asyncio.wait_for(waiter, 5)
        with pytest.raises(ValueError, match="no 5"):
            await asyncio.wait_for(failing(5, gate), 5)  # a leader alone
        await asyncio.sleep(0.01)

    asyncio.run(main())
    gc.collect()  # an unretrieved exception is reported when its future is collected
    assert calls == [4, 5]
    assert unhandled == []


def test_cancelled_waiter_does_not_disturb_the_leader() -> None:
    """A waiter that is cancelled leaves; the leader and the other waiters get the value."""
    calls: list[int] = []

    @memo.cached(ignore=("gate",))
    async def slow(x: int, gate: asyncio.Event) -> int:
        calls.append(x)
        await gate.wait()
        return x

    async def main() -> list[int]:
        gate = asyncio.Event()
        leader = asyncio.ensure_future(slow(3, gate))
        await _started(calls, 1)
        waiters = [asyncio.ensure_future(slow(3, gate)) for _ in range(2)]
        await asyncio.sleep(0.01)
        waiters[0].cancel()
        gate.set()
        return [await leader, await waiters[1]]

    assert asyncio.run(main()) == [3, 3]
    assert calls == [3]


def test_async_waiter_timeout() -> None:
    """An async waiter past lock_timeout computes itself."""
    calls: list[str] = []

    @memo.cached(lock_timeout=0.05)
    async def stuck(x: int) -> str:
        who = "leader" if not calls else "waiter"
        calls.append(who)
        if who == "leader":
            await asyncio.sleep(0.5)
        return who

    async def main() -> list[str]:
        leader = asyncio.ensure_future(stuck(1))
        await asyncio.sleep(0.01)
        mine = await stuck(1)
        return [mine, await leader]

    assert asyncio.run(main()) == ["waiter", "leader"]


def test_separate_event_loops_in_threads() -> None:
    """One async cached function used from event loops in two threads works in both."""

    @memo.cached
    async def f(x: int) -> int:
        await asyncio.sleep(0.01)
        return x + 1

    results: list[int] = []

    def in_thread() -> None:
        async def main() -> list[int]:
            return await asyncio.gather(*(f(i % 3) for i in range(20)))

        results.extend(asyncio.run(main()))

    threads = [threading.Thread(target=in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(set(results)) == [1, 2, 3]
    assert len(results) == 40
