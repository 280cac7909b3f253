"""Handing a batch to the user's `flush`: retries with backoff, then the poison-record search.

A batch is tried up to `max_attempts` times, sleeping `backoff * 2**n` (capped at
`max_backoff`, with jitter) between tries. If it still fails, it is split in halves, each
tried once, down to single records: the records that fail alone are dead letters, the rest
are delivered. An `async def` flush (or dead_letter callback) runs on an event loop owned by
the calling thread (the flusher's), made on first use.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memo._writes.queue import FlusherStats, Write

__all__ = ["Delivery", "Options", "Outcome", "Record"]

log = logging.getLogger("memo")
Deliverer = Callable[[list[Write]], Any]
Alert = Callable[[list[Write], BaseException], Any]


@dataclass(frozen=True, slots=True)
class Options:
    """A writer's `@memo.write_behind` options, validated at decoration."""

    flush: Deliverer
    dead_letter: Alert | None
    batch_size: int
    interval: float
    max_attempts: int
    backoff: float
    max_backoff: float
    queue_size: int
    on_full: str
    block_timeout: float

    @property
    def visibility(self) -> float:
        """Idle seconds after which another consumer may claim a pending stream entry."""
        return max(2.0, 5 * self.interval)

    @property
    def idle_exit(self) -> float:
        """Seconds with nothing queued after which a memory-mode flusher thread exits."""
        return max(2.0, 10 * self.interval)


@dataclass(slots=True)
class Record:
    """A write to deliver, with the stream entries it settles (durable mode)."""

    write: Write
    ids: tuple[str, ...] = ()
    fields: dict[bytes, bytes] = field(default_factory=dict)


Outcome = tuple[list[Record], list[tuple[Record, BaseException]]]


class Delivery:
    """Delivers batches of one writer and counts what happened in its `FlusherStats`."""

    def __init__(self, display: str, options: Options, stats: FlusherStats) -> None:
        self.display = display
        self.options = options
        self.stats = stats
        self._local = threading.local()

    def deliver(self, records: list[Record]) -> Outcome:
        """flush(records) with retries and backoff; then halves, to find the poison ones."""
        options = self.options
        self.stats.batches += 1
        error: BaseException | None = None
        for attempt in range(options.max_attempts):
            if attempt:
                self.stats.retries += 1
                delay = min(options.max_backoff, options.backoff * 2 ** (attempt - 1))
                time.sleep(delay * random.uniform(0.5, 1.0))
            try:
                self._flush(records)
                return records, []
            except Exception as exc:
                error = exc
                log.warning(
                    "write-behind flush of %s failed (attempt %d of %d, %d writes): %r",
                    self.display,
                    attempt + 1,
                    options.max_attempts,
                    len(records),
                    exc,
                )
        assert error is not None
        if len(records) == 1:
            return [], [(records[0], error)]
        return self._split(records)

    def _split(self, records: list[Record]) -> Outcome:
        """Halves of a batch that kept failing, tried once each, down to single records."""
        ok: list[Record] = []
        dead: list[tuple[Record, BaseException]] = []
        parts = _halves(records)
        while parts:
            part = parts.pop()
            self.stats.retries += 1
            try:
                self._flush(part)
                ok += part
            except Exception as exc:
                if len(part) == 1:
                    dead.append((part[0], exc))
                else:
                    parts += _halves(part)
        return ok, dead

    def _flush(self, records: list[Record]) -> None:
        self.run(self.options.flush, [r.write for r in records])

    def alert(self, writes: list[Write], exc: BaseException) -> None:
        """The dead_letter callback, if any; its own failure is logged, never raised."""
        if self.options.dead_letter is None:
            return
        try:
            self.run(self.options.dead_letter, writes, exc)
        except Exception:
            log.exception("dead_letter callback of %s failed", self.display)

    def run(self, function: Callable[..., Any], *args: Any) -> None:
        """Call a user function; an awaitable result runs on this thread's own event loop."""
        result = function(*args)
        if inspect.isawaitable(result):
            loop = getattr(self._local, "loop", None)
            if loop is None:
                loop = self._local.loop = asyncio.new_event_loop()
            loop.run_until_complete(_awaited(result))

    def close_loop(self) -> None:
        """Close this thread's event loop (the flusher thread is exiting)."""
        loop = getattr(self._local, "loop", None)
        if loop is not None:
            self._local.loop = None
            loop.close()

    def after_fork(self) -> None:
        """In a forked child: loops of the parent's threads are not ours."""
        self._local = threading.local()


def _halves(records: list[Record]) -> list[list[Record]]:
    """[second half, first half]: popped from the end, the first half goes first."""
    middle = len(records) // 2
    return [records[middle:], records[:middle]]


async def _awaited(awaitable: Any) -> None:
    await awaitable
