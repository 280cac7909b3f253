"""Background refreshes: held, bounded, one per key, and stopped at exit.

A refresh-ahead or early-refresh hit returns at once and hands the recompute here. Sync
functions run on a few daemon worker threads (a hung user function can never keep the
interpreter from exiting); async ones run as tasks on the caller's event loop, kept in a set
so they are not garbage-collected mid-flight. A key already being refreshed in this process
is not queued again, and past `limit` jobs in flight new ones are dropped (counted): the
entry is still served, and the next hit asks again.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

__all__ = ["REFRESHER", "Refresher"]

log = logging.getLogger("memo")
_STOP: Any = object()


class Refresher:
    """A small pool of daemon threads and a set of tasks for background refreshes."""

    def __init__(self, workers: int = 4, limit: int = 1_000) -> None:
        self.workers = workers
        self.limit = limit
        self.dropped = 0
        self._lock = threading.Lock()
        self._inflight: set[Hashable] = set()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def submit(self, ident: Hashable, job: Callable[[], Any]) -> bool:
        """Run job on a worker thread unless ident is already in flight; whether queued."""
        if not self._reserve(ident):
            return False
        self._start_workers()
        self._jobs.put((ident, job))
        return True

    def spawn(self, ident: Hashable, make: Callable[[], Awaitable[Any]]) -> bool:
        """Run make() as a task on the running loop unless ident is in flight."""
        if not self._reserve(ident):
            return False
        task = asyncio.get_running_loop().create_task(self._guard_async(ident, make))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def pending(self) -> int:
        """Refreshes queued or running."""
        return len(self._inflight)

    def shutdown(self) -> None:
        """Stop the workers; queued refreshes are dropped (entries are still served)."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(_STOP)

    def after_fork(self) -> None:
        """A forked child has no workers and nothing in flight."""
        self._lock = threading.Lock()
        self._inflight = set()
        self._jobs = queue.SimpleQueue()
        self._threads = []
        self._tasks = set()

    def _reserve(self, ident: Hashable) -> bool:
        with self._lock:
            if self._closed or ident in self._inflight:
                return False
            if len(self._inflight) >= self.limit:
                self.dropped += 1
                return False
            self._inflight.add(ident)
            return True

    def _done(self, ident: Hashable) -> None:
        with self._lock:
            self._inflight.discard(ident)

    def _start_workers(self) -> None:
        if len(self._threads) >= self.workers:
            return
        with self._lock:
            while len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name="memo-refresh", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            ident, job = item
            try:
                job()
            except Exception:  # the policy logs function failures; this is a memo bug
                log.exception("background refresh failed")
            finally:
                self._done(ident)

    async def _guard_async(self, ident: Hashable, make: Callable[[], Awaitable[Any]]) -> None:
        try:
            await make()
        except Exception:
            log.exception("background refresh failed")
        finally:
            self._done(ident)


REFRESHER = Refresher()
atexit.register(REFRESHER.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=REFRESHER.after_fork)
