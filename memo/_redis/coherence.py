"""L1 coherence: one connection per process hears every write, invalidation and fill.

Every write and delete memo makes in Redis publishes `kind|writer|payload` on the
namespace's channel in the same script, so the message is ordered with the write. A
background thread subscribes, loads the function generations, and then:

- `k|…|key`: another process wrote or deleted key → evict it from this process's L1, and
  wake anything here waiting for that key to be filled (stampede waiters);
- `K|…|key\nkey…`: keys removed together (a chunk of an `invalidate_tag`): as `k` for each;
- `t|…|tag`: evict every L1 entry stored with tag;
- `g|…|name=n`: function name moved to generation n (its `invalidate_all()`).

`seq` counts foreign events, so a tier that read from Redis can tell whether an event came
in before it puts the value in L1 (the race that leaves a stale L1 entry behind). The thread
pings through the subscription; if the connection drops or goes silent, L1 is flushed and
bypassed (`healthy` false) until it is subscribed again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from memo._redis.waiter import Waiter

__all__ = ["EventSink", "Events", "pairs"]

log = logging.getLogger("memo")


class EventSink(Protocol):
    """What the listener tells: a TieredStore evicting its L1, cores changing generation."""

    def on_key(self, remote: str) -> None: ...
    def on_tag(self, tag: str) -> None: ...
    def on_generation(self, name: str, generation: int) -> None: ...
    def on_coherence(self, healthy: bool) -> None: ...


class Events:
    """The background subscriber of one Redis backend."""

    def __init__(
        self, store: Any, *, ping_interval: float = 1.0, ping_timeout: float = 1.0
    ) -> None:
        self.store = store
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.seq = 0
        self.healthy = False
        self.sinks: list[EventSink] = []
        self._waiters: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.running = False
        self._pubsub: Any = None

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the thread on first use (never at import or decoration).

        Called on every Redis access, so the common case is one attribute test; the
        thread clears `running` itself when it ends.
        """
        if self.running:
            return
        with self._lock:
            if not self.running:
                self.running = True
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name=f"memo-events-{self.store.name}", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop listening (the store is closing)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(3)
        self._thread = None
        self.running = False

    def after_fork(self) -> None:
        """A forked child has no listener thread: start over on next use."""
        self._lock = threading.Lock()
        self._thread = None
        self.running = False
        self._pubsub = None
        self.healthy = False
        self._waiters = {}

    def kill_connection(self) -> None:
        """Close the subscription socket (fault tests): the thread must notice and recover."""
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):  # already gone
                pubsub.connection.disconnect()

    # -- waiters -------------------------------------------------------------------------

    @contextlib.contextmanager
    def waiting(self, remote: str) -> Iterator[Waiter]:
        """A Waiter for remote's next fill or deletion, registered until the block ends (an
        event that comes between two looks at the lease still counts: `waiter.py`)."""
        waiter = Waiter()
        self._add_waiter(remote, waiter.wake)
        try:
            yield waiter
        finally:
            self._remove_waiter(remote, waiter.wake)

    def _add_waiter(self, remote: str, wake: Callable[[], None]) -> None:
        with self._lock:
            self._waiters.setdefault(remote, []).append(wake)

    def _remove_waiter(self, remote: str, wake: Callable[[], None]) -> None:
        with self._lock:
            waiting = self._waiters.get(remote)
            if waiting is not None and wake in waiting:
                waiting.remove(wake)
                if not waiting:
                    del self._waiters[remote]

    def _wake(self, remote: str) -> None:
        with self._lock:
            waiting = self._waiters.pop(remote, [])
        for wake in waiting:
            wake()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.running = False

    def _loop(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._subscribe()
                backoff = 0.05
                self._listen()
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.debug("event connection lost: %s", exc)
            self._set_health(False)
            self._close_pubsub()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 1.0)
        self._set_health(False)
        self._close_pubsub()

    def _subscribe(self) -> None:
        if self.store.breaker.is_open:
            raise ConnectionError("Redis unreachable")
        pubsub = self.store.client.pubsub(ignore_subscribe_messages=True)
        self._pubsub = pubsub
        pubsub.subscribe(self.store.channel)
        _no_silent_reconnect(pubsub)
        generations = self.store.client.execute_command("HGETALL", self.store.generations_key)
        for name, generation in pairs(generations):
            self._generation(name, int(generation))
        self.store.generations_loaded()
        self._set_health(True)

    def _listen(self) -> None:
        pubsub = self._pubsub
        last_ping = time.monotonic()
        awaiting_pong = False
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=0.05)
            now = time.monotonic()
            if message is not None:
                if message.get("type") == "pong" or message.get("data") in (b"memo", "memo"):
                    awaiting_pong = False
                elif message.get("type") == "message":
                    self._dispatch(message["data"])
            if awaiting_pong and now - last_ping > self.ping_timeout:
                raise ConnectionError("event connection silent")
            if not awaiting_pong and now - last_ping >= self.ping_interval:
                pubsub.ping("memo")
                last_ping, awaiting_pong = now, True

    def _dispatch(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        kind, _, rest = text.partition("|")
        writer, _, payload = rest.partition("|")
        foreign = writer != self.store.writer_id
        if foreign:
            self.seq += 1
        if kind in ("k", "K"):
            for remote in payload.split("\n") if kind == "K" else (payload,):
                if foreign:
                    for sink in list(self.sinks):
                        sink.on_key(remote)
                self._wake(remote)
        elif kind == "t" and foreign:
            for sink in list(self.sinks):
                sink.on_tag(payload)
        elif kind == "g":
            name, _, generation = payload.rpartition("=")
            if generation.isdigit():
                self._generation(name, int(generation))

    def _generation(self, name: str, generation: int) -> None:
        if self.store.generations.get(name, 0) >= generation:
            return
        self.store.generations[name] = generation
        self.seq += 1
        for sink in list(self.sinks):
            sink.on_generation(name, generation)

    def _set_health(self, healthy: bool) -> None:
        if self.healthy == healthy:
            return
        self.healthy = healthy
        self.seq += 1
        for sink in list(self.sinks):
            sink.on_coherence(healthy)

    def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):  # best effort on a broken connection
                pubsub.close()


def _no_silent_reconnect(pubsub: Any) -> None:
    """redis-py's PubSub would reconnect and subscribe again by itself after a drop, so this
    thread would never see the gap in which events were lost. Without retries on the
    subscription's connection, a drop reaches the thread: L1 is flushed and bypassed, then
    it subscribes again."""
    from redis.backoff import NoBackoff  # noqa: PLC0415 - redis-py is imported by now
    from redis.retry import Retry  # noqa: PLC0415

    connection = getattr(pubsub, "connection", None)
    if connection is not None and hasattr(connection, "retry"):
        connection.retry = Retry(NoBackoff(), 0)


def pairs(reply: Any) -> list[tuple[str, Any]]:
    """HGETALL's reply as (field, value) pairs, whichever protocol answered."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        items = list(zip(reply[::2], reply[1::2], strict=True)) if reply else []
    return [(k.decode() if isinstance(k, bytes) else str(k), v) for k, v in items]
