"""The flusher of one write-behind writer: a daemon thread that hands batches to `flush`.

Each cycle looks at the reader's current store. Without Redis (memory mode) it takes a
batch from the in-process queue once `batch_size` writes wait, the oldest has waited
`interval`, or a drain is asked for. With Redis (durable mode) it first re-appends to the
stream what an outage kept in memory, then reads the stream as a consumer of its group,
claiming entries dead consumers left behind. Either way a batch is delivered with retries
and exponential backoff; after `max_attempts` failures it is split in halves until the
failing records are alone, and those go to the dead-letter queue while the rest flow.

The thread starts at the first write (or `memo.flush()`). In memory mode it exits after a
while with nothing queued and starts again at the next write; in durable mode it keeps
polling the stream (every `interval`), since it is also the one to claim what a dead
process left. An `async def` flush runs on an event loop of the thread's own. In a forked
child every flusher starts empty (`after_fork`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

from memo._errors import SerializationError
from memo._runtime.core import Core
from memo._writes.delivery import Delivery, Options, Record
from memo._writes.durable import StreamDelivery
from memo._writes.queue import FlusherStats, MemoryQueue, Write
from memo._writes.stream import Stream, redis_of

__all__ = ["Flusher"]

log = logging.getLogger("memo")
_DRAIN_POLL = 0.02  # a drain looks at the stream this often while others still hold entries
_DEAD_LIMIT = 10_000  # memory-mode dead letters kept (the oldest go first)


class Flusher:
    """Queue, stream consumer, delivery and thread of one decorated writer."""

    def __init__(self, display: str, name: str, core: Core, options: Options) -> None:
        self.display = display
        self.name = name
        self.core = core
        self.options = options
        self.queue = MemoryQueue(
            display, options.queue_size, options.on_full, options.block_timeout
        )
        self.stats = FlusherStats()
        self.delivery = Delivery(display, options, self.stats)
        self.burials = StreamDelivery(display, options, self.stats, self.delivery, self.queue)
        self.dead_letters: list[Write] = []
        self.used = False
        self.thread: threading.Thread | None = None
        self.drainers = 0
        self.stopping = False
        self._appended = 0  # stream entries added here since the last read
        self._next_poll = 0.0
        self._next_claim = 0.0
        self._last_busy = time.monotonic()
        self._consumer = _consumer_name()
        self._streams: weakref.WeakKeyDictionary[Any, Stream] = weakref.WeakKeyDictionary()
        self._warned = False

    def __repr__(self) -> str:
        return f"<write-behind flusher of {self.display}>"

    # -- writers' side -----------------------------------------------------------------------

    def stream(self) -> Stream | None:
        """The stream of the reader's current store, or None in memory mode."""
        redis = redis_of(self.core.store)
        if redis is None:
            return None
        stream = self._streams.get(redis)
        if stream is None:
            stream = self._streams[redis] = Stream(redis, self.name, self._consumer)
        return stream

    def enqueue(self, write: Write) -> None:
        """Hand write to the stream (durable) or the queue; start the flusher if needed."""
        stream = self.stream()
        if stream is None or not self._appended_to(stream, write):
            may_block = threading.current_thread() is not self.thread
            self._count_dropped(self.queue.put(write, may_block=may_block))
        self.ensure_thread()

    async def aenqueue(self, write: Write) -> None:
        """`enqueue` for async writers."""
        stream = self.stream()
        appended = False
        if stream is not None:
            try:
                appended = await stream.aappend(write)
            except SerializationError as exc:
                self._warn_unencodable(exc)
        if appended:
            self._note_appended()
        else:
            self._count_dropped(await self.queue.aput(write))
        self.ensure_thread()

    def _appended_to(self, stream: Stream, write: Write) -> bool:
        try:
            appended = stream.append(write)
        except SerializationError as exc:
            self._warn_unencodable(exc)
            return False
        if appended:
            self._note_appended()
        return appended

    def _count_dropped(self, dropped: int) -> None:
        if dropped:
            with self.queue.cond:
                self.stats.dropped += dropped

    def _note_appended(self) -> None:
        with self.queue.cond:
            self._appended += 1
            self._last_busy = time.monotonic()
            if self._appended >= self.options.batch_size:
                self.queue.cond.notify_all()

    def _warn_unencodable(self, exc: SerializationError) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"@memo.write_behind on {self.display}: a write cannot be put in the Redis "
                f"stream ({exc}); such writes wait in this process's memory instead, and a "
                "crash loses them. Return values the serializer supports, or configure a "
                "secret= so pickle is used.",
                RuntimeWarning,
                stacklevel=5,
            )

    def pending(self) -> int:
        """Writes of this process not yet delivered or dead-lettered (no I/O)."""
        return self.queue.pending() + self.burials.in_flight

    # -- the thread --------------------------------------------------------------------------

    def ensure_thread(self) -> bool:
        """Start the flusher thread unless it runs; False if no thread can start (shutdown)."""
        self.used = True
        if self.thread is not None:
            return True
        with self.queue.cond:
            if self.thread is None:
                self.stopping = False
                thread = threading.Thread(
                    target=self._main, name=f"memo-write-behind-{self.name}", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError:  # the interpreter is shutting down
                    return False
                self.thread = thread
        return True

    def _main(self) -> None:
        try:
            while self._wait():
                try:
                    if self.step():
                        self._last_busy = time.monotonic()
                except Exception:  # a bug here must not end delivery for good
                    log.exception("write-behind flusher of %s failed", self.display)
                    time.sleep(self.options.interval)
        finally:
            self.delivery.close_loop()

    def _wait(self) -> bool:
        """Until the next step is due (True), or idle long enough to exit (False)."""
        cond = self.queue.cond
        with cond:
            while True:
                if self.stopping:
                    self.thread = None
                    return False
                now = time.monotonic()
                delay = self._delay(now)
                if delay is not None and delay <= 0:
                    return True
                if delay is None:
                    idle_until = self._last_busy + self.options.idle_exit
                    if now >= idle_until and not self.queue.pending():
                        self.thread = None
                        return False
                    delay = max(idle_until - now, 0.001)
                cond.wait(delay)

    def _delay(self, now: float) -> float | None:
        """Seconds until a step is due; None when nothing is waiting at all.

        A durable flusher always has a next poll: it is a consumer of a stream that other
        processes write to, and the one to claim what they leave behind if they die.
        """
        local = self._queue_delay(now)
        if redis_of(self.core.store) is None:
            return local
        poll = max(0.0, self._next_poll - now)
        if self._appended >= self.options.batch_size and not self.drainers:
            poll = 0.0
        return poll if local is None else min(poll, local)

    def _queue_delay(self, now: float) -> float | None:
        size = len(self.queue)
        if not size:
            return None
        if size >= self.options.batch_size or self.drainers:
            return 0.0
        age = self.queue.age() or 0.0
        return max(0.0, self.options.interval - age)

    def step(self) -> bool:
        """One cycle of delivery; whether there was anything to do."""
        stream = self.stream()
        if stream is None:
            return self._deliver_queued(self.options.batch_size)
        return self._durable_step(stream)

    # -- memory mode -------------------------------------------------------------------------

    def _deliver_queued(self, limit: int) -> bool:
        batch = self.queue.take(limit)
        if not batch:
            return False
        try:
            self._deliver_writes(batch)
        finally:
            self.queue.done(len(batch))
        return True

    def _deliver_writes(self, writes: Sequence[Write]) -> None:
        size = self.options.batch_size
        for start in range(0, len(writes), size):
            ok, dead = self.delivery.deliver([Record(w) for w in writes[start : start + size]])
            self.stats.delivered += len(ok)
            for record, exc in dead:
                self._bury_in_memory(record.write, exc)

    def _bury_in_memory(self, write: Write, exc: BaseException) -> None:
        self.stats.dead += 1
        self.dead_letters.append(write)
        del self.dead_letters[:-_DEAD_LIMIT]
        log.error("write-behind of %s: dead-lettered %s (%r)", self.display, write.key, exc)
        self.delivery.alert([write], exc)

    # -- durable mode ------------------------------------------------------------------------

    def _durable_step(self, stream: Stream) -> bool:
        busy = False
        now = time.monotonic()
        if len(self.queue):
            busy = self._reappend(stream, now)
        with self.queue.cond:
            self._appended = 0
        claim = bool(self.drainers) or now >= self._next_claim
        visibility = self.options.visibility
        entries = stream.read(self.options.batch_size, visibility if claim else None)
        if claim and now >= self._next_claim:
            self._next_claim = now + visibility / 2
            stream.tidy(visibility)
        full = entries is not None and len(entries) >= self.options.batch_size
        wait = _DRAIN_POLL if self.drainers else self.options.interval
        self._next_poll = now + (0.0 if full else wait)
        if entries:
            self.burials.deliver(stream, entries)
            busy = True
        return busy

    def _reappend(self, stream: Stream, now: float) -> bool:
        """What an outage kept in memory goes to the stream, or, while Redis is still down and
        the batch is due, straight to flush."""
        if stream.redis.breaker.is_open:
            due = self._queue_delay(now)
            return due is not None and due <= 0 and self._deliver_queued(len(self.queue))
        writes = self.queue.take(len(self.queue))
        try:
            refused = stream.append_many(writes)
            direct = writes if refused is None else refused
            if direct:
                self._deliver_writes(direct)
        finally:
            self.queue.done(len(writes))
        return bool(writes)

    # -- draining ----------------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Deliver without waiting for batch_size or interval until `end_drain`."""
        with self.queue.cond:
            self.drainers += 1
            self._next_poll = 0.0
            self.queue.cond.notify_all()

    def end_drain(self) -> None:
        """The drain is over."""
        with self.queue.cond:
            self.drainers -= 1

    def wait_drained(self, deadline: float | None) -> bool:
        """Until every write of this process (and, durable, every entry of the stream up to
        when the local queue ran empty) is delivered or dead-lettered; False at deadline."""
        upto: str | None = None
        while True:
            stream = self.stream()
            if not self.pending():
                if stream is None:
                    return True
                if stream.redis.breaker.is_open and deadline is None:
                    return False  # Redis is unreachable: waiting for it could take forever
                if upto is None:
                    upto = stream.last_id()
                left = self.burials.left  # entries only another consumer can verify
                if upto == "" or (upto is not None and stream.remaining(upto, left) == 0):
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not self.ensure_thread() and self.step():
                continue  # at interpreter exit no thread can start: delivered right here
            with self.queue.cond:
                self.queue.cond.wait(_DRAIN_POLL)

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after its current step (tests; memo.flush() first to deliver)."""
        with self.queue.cond:
            thread, self.stopping = self.thread, True
            self.queue.cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def after_fork(self) -> None:
        """In a forked child: the parent's writes are not ours to deliver."""
        self.queue.reset()
        self.thread = None
        self.drainers = 0
        self.burials.in_flight = 0
        self._appended = 0
        self._consumer = _consumer_name()
        self._streams = weakref.WeakKeyDictionary()
        self.delivery.after_fork()


def _consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
