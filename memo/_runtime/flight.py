"""In-process single-flight: concurrent misses of one key run the function once.

The first caller of a key leads; the others follow and get the leader's outcome, its
exception included (never cached). A follower waits at most `timeout` seconds, then
computes on its own rather than hang. Threads and asyncio tasks have separate tables, since
a thread must not block an event loop and a task must not block its thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable

from memo._policy.operations import Outcome

__all__ = ["AsyncFlights", "ThreadFlights"]


class _ThreadFlight:
    """A one-shot latch: a lock the leader holds until it lands (cheaper than an Event)."""

    __slots__ = ("latch", "outcome")

    def __init__(self) -> None:
        self.latch = threading.Lock()
        self.latch.acquire()
        self.outcome: Outcome | None = None


class ThreadFlights:
    """Leader election and hand-over between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _ThreadFlight] = {}

    def lead(self, key: Hashable) -> _ThreadFlight | None:
        """None if the caller now leads key; otherwise the flight to follow."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                self._flights[key] = _ThreadFlight()
            return flight

    def follow(self, flight: _ThreadFlight, timeout: float) -> Outcome | None:
        """The leader's outcome, or None when it did not come within timeout."""
        if not flight.latch.acquire(timeout=timeout):
            return None
        flight.latch.release()  # pass the latch on to the next follower
        return flight.outcome

    def land(self, key: Hashable, outcome: Outcome) -> None:
        """Hand outcome to every follower of key and end the flight."""
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.outcome = outcome
            flight.latch.release()

    def __len__(self) -> int:
        return len(self._flights)


class AsyncFlights:
    """Leader election and hand-over between tasks of one or more event loops."""

    def __init__(self) -> None:
        # A future belongs to one loop, so flights are per (loop, key); no lock needed
        # beyond the GIL because each step below is a single dict operation.
        self._flights: dict[tuple[int, Hashable], asyncio.Future[Outcome]] = {}

    def lead(self, key: Hashable) -> asyncio.Future[Outcome] | None:
        """None if the calling task now leads key; otherwise the future to await."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        future = self._flights.get(slot)
        if future is None:
            self._flights[slot] = loop.create_future()
        return future

    async def follow(self, future: asyncio.Future[Outcome], timeout: float) -> Outcome | None:
        """The leader's outcome, or None when it did not come within timeout."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return None

    def land(self, key: Hashable, outcome: Outcome) -> None:
        """Hand outcome to every follower of key and end the flight."""
        slot = (id(asyncio.get_running_loop()), key)
        future = self._flights.pop(slot, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    def __len__(self) -> int:
        return len(self._flights)
