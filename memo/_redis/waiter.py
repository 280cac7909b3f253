"""One wait for a key's fill, kept across the looks at its lease.

A caller whose key's lease another process holds waits for that holder's fill event, and
looks at the lease every LEASE_POLL seconds in case the event never comes (the events
connection is down). The registration must outlast each look: when it was made per slice,
a fill whose event came while the waiter was looking at the lease (the lease still held
at the look) found no one registered, and the waiter slept a whole slice more. The
stampede suite saw it in about one round of twelve: a process's callers done at ~103 ms
instead of ~53, a compute of 50 ms ending as the first 50 ms slice did.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["Waiter"]


class Waiter:
    """Woken by the events thread (`wake`); waited on by a thread (`wait_for`) or an asyncio
    task (`await_for`), as often as the caller looks between waits."""

    __slots__ = ("_event", "_future")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._future: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """The key was filled or deleted (called from the events thread)."""
        self._event.set()  # before the future is read: `await_for` checks in the other order
        future = self._future
        if future is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: no one waits
                future.get_loop().call_soon_threadsafe(_resolve, future)

    def wait_for(self, timeout: float) -> bool:
        """Whether the key was filled within timeout (at once if it already was)."""
        return self._event.wait(timeout)

    async def await_for(self, timeout: float) -> bool:
        """`wait_for` for a task of the running loop."""
        future = self._future
        if future is None:
            future = self._future = asyncio.get_running_loop().create_future()
        if self._event.is_set():  # woken before the future was there to resolve
            return True
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return self._event.is_set()
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
