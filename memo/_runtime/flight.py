"""In-process single-flight: concurrent misses of one key run the function once.

The first caller of a key leads; the others follow and get the leader's outcome, its
exception included (never cached). A follower waits at most `timeout` seconds, then
computes on its own rather than hang. Threads and asyncio tasks have separate tables, since
a thread must not block an event loop and a task must not block its thread.

A caller that reaches its own call again (re-entry) must not follow itself. Flights are
keyed by the L1 key, which carries the function's token; `invalidate_all()` (here or in
another process) changes the token mid-call, so each table also remembers its flights by
the key without its token, and a caller that leads such a flight is told it re-entered.

Tasks can be cancelled, threads cannot. So in the async colour the leader's work after its
election (claim, compute, store, hand-over) runs as a task of its own that the leader and
every follower await (`share`), as async-lru does: a cancelled awaiter, leader included,
only stops waiting; the run is cancelled when its last awaiter is.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Hashable
from typing import Any, TypeVar, cast

from memo._policy.operations import REENTERED, Outcome

__all__ = ["AsyncFlights", "ThreadFlights"]

T = TypeVar("T")


def _untokened(key: Hashable) -> Hashable:
    """The L1 key without the function's token (its first element)."""
    return key[1:] if type(key) is tuple else key


class _ThreadFlight:
    """A one-shot latch: a lock held for the leader until it lands (cheaper than an Event),
    made only when a first follower comes (most flights have none)."""

    __slots__ = ("key", "latch", "outcome", "owner")

    def __init__(self, key: Hashable, owner: int) -> None:
        self.key = key  # the full L1 key (with the token) the leader computes
        self.latch: threading.Lock | None = None
        self.outcome: Outcome | None = None
        self.owner = owner  # the leader's thread

    def latch_for_follower(self) -> None:
        """Called under the table's lock, before `land` can end the flight."""
        if self.latch is None:
            latch = threading.Lock()
            latch.acquire()
            self.latch = latch


class ThreadFlights:
    """Leader election and hand-over between threads (the leader computes in its own thread:
    a thread cannot be cancelled, so nothing needs sharing).

    Flights are filed by the call (the L1 key without its token) and remember the token they
    compute for: a caller with the same key follows; the leader's own thread under a newer
    token has re-entered; another thread under another token computes on its own (after an
    `invalidate_all()` it must not adopt a value computed before it).
    """

    shares = False  # the driver hands the leader's run over to `share` only when True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _ThreadFlight] = {}
        # (call, thread) -> depth: callers computing alone beside another token's flight.
        # Their re-entry has no flight of their own to find, so it is found here.
        self._alone: dict[tuple[Hashable, int], int] = {}

    def lead(self, key: Hashable) -> Any:
        """None if the caller now leads key (or computes on its own); otherwise the flight
        to follow (the caller's own when it re-enters its call under a newer token)."""
        call, me = _untokened(key), threading.get_ident()
        with self._lock:
            if self._alone and (call, me) in self._alone:
                return _Own(me)  # re-entered a call it computes alone
            flight = self._flights.get(call)
            if flight is None:
                self._flights[call] = _ThreadFlight(key, me)
                return None
            if flight.owner == me:
                return flight  # re-entered: `follow` says so
            if flight.key == key:
                flight.latch_for_follower()
                return flight
            # Another token's flight: compute alone (its land finds no flight).
            self._alone[call, me] = 1
            return None

    def follow(self, flight: _ThreadFlight | _Own, timeout: float) -> Any:
        """The leader's outcome, None when it did not come within timeout, or REENTERED when
        the caller is the leader (its wait could only end by timing out)."""
        if flight.owner == threading.get_ident():
            return REENTERED  # always so for an _Own
        flight = cast("_ThreadFlight", flight)
        latch = cast("threading.Lock", flight.latch)  # made by `lead` for every follower
        if not latch.acquire(timeout=timeout):
            return None
        latch.release()  # pass the latch on to the next follower
        return flight.outcome

    def land(self, key: Hashable, outcome: Outcome) -> None:
        """Hand outcome to every follower of key and end the flight."""
        call, me = _untokened(key), threading.get_ident()
        with self._lock:
            flight = self._flights.get(call)
            if flight is None or flight.key != key or flight.owner != me:
                if self._alone:
                    self._alone.pop((call, me), None)
                return  # not this caller's flight (it computed alone)
            del self._flights[call]
            latch = flight.latch  # no follower can make one once the flight is gone
        flight.outcome = outcome
        if latch is not None:
            latch.release()

    def share(self, key: Hashable, result: T) -> T:
        """The leader's result, run in its own thread (see AsyncFlights.share)."""
        return result

    def __len__(self) -> int:
        return len(self._flights)


class _Own:
    """What `lead` gives a caller that re-enters a call it computes alone: following it
    tells the caller it re-entered (the owner is the caller itself)."""

    __slots__ = ("owner",)

    def __init__(self, owner: Any) -> None:
        self.owner = owner


class _TaskFlight:
    """A leader's future, which its followers await, the key it computes for, the task that
    runs it once shared, and how many callers await that run."""

    __slots__ = ("awaiters", "future", "key", "owner", "run")

    def __init__(
        self, key: Hashable, future: asyncio.Future[Outcome], owner: asyncio.Task[Any] | None
    ) -> None:
        self.key = key
        self.future = future
        self.owner = owner
        self.run: asyncio.Task[Any] | None = None
        self.awaiters = 0


class AsyncFlights:
    """Leader election and hand-over between tasks of one or more event loops, filed by call
    as ThreadFlights are (see there)."""

    shares = True

    def __init__(self) -> None:
        # A future belongs to one loop, so flights are per (loop, call); no lock needed
        # beyond the GIL because each step below is a single dict operation.
        self._flights: dict[tuple[int, Hashable], _TaskFlight] = {}
        # Callers computing alone beside another token's flight (see ThreadFlights).
        self._alone: dict[tuple[tuple[int, Hashable], Any], int] = {}

    def lead(self, key: Hashable) -> Any:
        """None if the calling task now leads key (or computes on its own); otherwise the
        flight to await (the task's own when it re-enters its call under a newer token)."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), _untokened(key))
        task = asyncio.current_task()
        if (slot, task) in self._alone:
            return _Own(task)  # re-entered a call it computes alone
        flight = self._flights.get(slot)
        if flight is None:
            self._flights[slot] = _TaskFlight(key, loop.create_future(), task)
            return None
        if flight.key == key or flight.owner is task:
            return flight
        self._alone[slot, task] = 1  # another token's flight: compute alone
        return None

    async def share(self, key: Hashable, run: Coroutine[Any, Any, T]) -> T:
        """Run the elected leader's rest of the call as a task, and await it like a follower:
        cancelling the leader then leaves the run to the others (it reaches them by `land`)."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), _untokened(key))
        flight = self._flights.get(slot)
        if flight is None or flight.key != key or flight.owner is not asyncio.current_task():
            return await run  # computing alone: nothing to share
        # The run hands the leader its result itself, through a future of the leader's own:
        # one turn of the loop after the run ends, where a shield of the task takes two.
        mine: asyncio.Future[T] = loop.create_future()
        delivering = self._deliver(slot, flight, run, mine)
        flight.run = flight.owner = loop.create_task(delivering)  # re-entry from the run: its own
        return await self._await(flight, mine)

    async def follow(self, flight: _TaskFlight, timeout: float) -> Any:
        """The leader's outcome, None when it did not come within timeout, or REENTERED when
        the calling task is the leader."""
        if flight.owner is asyncio.current_task():
            return REENTERED
        assert isinstance(flight, _TaskFlight)
        try:  # shielded: the future is every follower's, one's cancellation is its own
            waiting = self._await(flight, asyncio.shield(flight.future))
            return await asyncio.wait_for(waiting, timeout)
        except asyncio.TimeoutError:
            return None

    async def _await(self, flight: _TaskFlight, awaitable: Awaitable[T]) -> T:
        """Await the flight's result; the last awaiter to leave early cancels its run."""
        flight.awaiters += 1
        try:
            return await awaitable
        finally:
            flight.awaiters -= 1
            run = flight.run
            if not flight.awaiters and run is not None and not run.done():
                run.cancel()  # nobody waits for it any more

    async def _deliver(
        self,
        slot: tuple[int, Hashable],
        flight: _TaskFlight,
        run: Coroutine[Any, Any, T],
        leader: asyncio.Future[T],
    ) -> None:
        """The shared run: its result or exception to the leader's future (unless the leader
        left), and the flight ended if the run could not land it (it was cancelled)."""
        try:
            result = await run
        except BaseException as exc:
            if not leader.done():
                if isinstance(exc, asyncio.CancelledError):
                    leader.cancel()
                else:
                    leader.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # a cancellation, or an interrupt for the loop to raise
        else:
            if not leader.done():
                leader.set_result(result)
        finally:
            if self._flights.get(slot) is flight:
                del self._flights[slot]
            if not flight.future.done():
                flight.future.set_result(None)  # type: ignore[arg-type]

    def land(self, key: Hashable, outcome: Outcome | None) -> None:
        """Hand outcome to every follower of key and end the flight."""
        slot = (id(asyncio.get_running_loop()), _untokened(key))
        flight = self._flights.get(slot)
        if flight is None or flight.key != key or flight.owner is not asyncio.current_task():
            self._alone.pop((slot, asyncio.current_task()), None)
            return  # not this caller's flight (it computed alone)
        del self._flights[slot]
        if not flight.future.done():
            flight.future.set_result(outcome)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._flights)
