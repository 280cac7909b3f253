"""Write-behind's in-process pieces: the `Write` record, versions, and the bounded queue.

The queue holds at most one `Write` per key: a newer write of a queued key replaces it in
place (same position, same age), so a batch never carries two writes of one key and a key's
writes reach `flush` in version order. It is bounded; what happens when it is full is the
writer's `on_full` policy. A forked child starts with an empty queue (`reset`): it must
never deliver what its parent queued.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from memo._errors import MemoError

__all__ = ["ON_FULL", "FlusherStats", "MemoryQueue", "Write", "next_version"]

log = logging.getLogger("memo")
ON_FULL = ("block", "drop_oldest", "raise")
_ASYNC_POLL = 0.005  # how often an async writer blocked on a full queue looks again


@dataclass(frozen=True, slots=True)
class Write:
    """One write for `flush`: the reader's entry key, its arguments, the value, a version.

    `version` grows strictly per key (wall-clock nanoseconds, bumped to stay monotonic in a
    process), so a sink can upsert idempotently: `... WHERE stored.version < new.version`.
    """

    key: str
    arguments: dict[str, Any]
    value: Any
    version: int


@dataclass(slots=True)
class FlusherStats:
    """What a writer's flusher did: writes delivered, batches, retries, dead-lettered, dropped."""

    delivered: int = 0
    batches: int = 0
    retries: int = 0
    dead: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return dataclasses.asdict(self)


class _Versions:
    """time.time_ns(), bumped so that no two versions made in this process are equal."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = 0

    def next(self) -> int:
        with self.lock:
            version = max(time.time_ns(), self.last + 1)
            self.last = version
            return version


_VERSIONS = _Versions()


def next_version() -> int:
    """A version larger than any made before in this process."""
    return _VERSIONS.next()


class MemoryQueue:
    """Writes waiting for the flusher, one per key, oldest first; bounded by `size`."""

    def __init__(self, name: str, size: int, on_full: str, block_timeout: float) -> None:
        self.name = name
        self.size = size
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.items: OrderedDict[str, tuple[Write, float]] = OrderedDict()
        # Reentrant: the SIGTERM handler may drain while the main thread is inside put().
        self.cond = threading.Condition(threading.RLock())
        self.in_flight = 0
        self._last_log = 0.0

    def reset(self) -> None:
        """In a forked child: nothing queued, nothing in flight, fresh locks."""
        self.items = OrderedDict()
        self.cond = threading.Condition(threading.RLock())
        self.in_flight = 0

    def __len__(self) -> int:
        return len(self.items)

    def pending(self) -> int:
        """Writes neither delivered nor dead-lettered yet: queued plus in flight."""
        return len(self.items) + self.in_flight

    # -- producers ---------------------------------------------------------------------------

    def put(self, write: Write, *, may_block: bool = True) -> int:
        """Queue write (on_full decides when there is no room); how many writes were dropped."""
        with self.cond:
            dropped = self._offer(write)
            if dropped >= 0:
                return dropped
            if self.on_full == "block" and may_block:
                deadline = time.monotonic() + self.block_timeout
                while (remaining := deadline - time.monotonic()) > 0:
                    self.cond.wait(remaining)
                    dropped = self._offer(write)
                    if dropped >= 0:
                        return dropped
        raise self._full_error()

    async def aput(self, write: Write) -> int:
        """`put` for async writers: a full queue is waited on without blocking the loop."""
        with self.cond:
            dropped = self._offer(write)
        if dropped >= 0:
            return dropped
        if self.on_full == "block":
            deadline = time.monotonic() + self.block_timeout
            while time.monotonic() < deadline:
                await asyncio.sleep(_ASYNC_POLL)
                with self.cond:
                    dropped = self._offer(write)
                if dropped >= 0:
                    return dropped
        raise self._full_error()

    def _offer(self, write: Write) -> int:
        """Queue or coalesce write: writes dropped to make room (0 or 1), or -1 if full."""
        held = self.items.get(write.key)
        if held is not None:
            if write.version > held[0].version:
                self.items[write.key] = (write, held[1])  # in place: keeps position and age
            return 0
        dropped = 0
        if len(self.items) >= self.size:
            if self.on_full != "drop_oldest":
                return -1
            self.items.popitem(last=False)
            dropped = 1
            self._log_drop()
        self.items[write.key] = (write, time.monotonic())
        self.cond.notify_all()
        return dropped

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            self._last_log = now
            log.warning(
                "write-behind queue of %s is full (%d writes); dropped the oldest "
                "(on_full='drop_oldest')",
                self.name,
                self.size,
            )

    def _full_error(self) -> MemoError:
        waited = f" for {self.block_timeout:g} s" if self.on_full == "block" else ""
        return MemoError(
            f"@memo.write_behind on {self.name}: the queue is full ({self.size} writes "
            f"waiting{waited}); the flush function is slower than the writers. Make flush "
            "faster or give it bigger batches (batch_size=), raise queue_size=, or choose "
            "on_full='drop_oldest' to keep the newest writes."
        )

    # -- the flusher -------------------------------------------------------------------------

    def age(self) -> float | None:
        """Seconds the oldest queued write has waited, or None if nothing is queued."""
        for _, since in self.items.values():
            return time.monotonic() - since
        return None

    def take(self, limit: int) -> list[Write]:
        """Up to limit oldest writes, now in flight (call `done` once they are settled)."""
        with self.cond:
            count = min(limit, len(self.items))
            batch = [self.items.popitem(last=False)[1][0] for _ in range(count)]
            self.in_flight += count
            self.cond.notify_all()  # room for blocked writers
            return batch

    def done(self, count: int) -> None:
        """count writes taken earlier are delivered or dead-lettered."""
        with self.cond:
            self.in_flight -= count
            self.cond.notify_all()


def _after_fork_in_child() -> None:
    _VERSIONS.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
