"""The stats publisher: one daemon thread per Redis store, publishing this process's counters.

`start_publishing(store, interval)` runs it; it stops on `Publisher.stop()`, when the store is
closed (at once, through the store's close hook) or garbage-collected. `start_from_env(store)`
is the hook for `configure()`: `MEMO_STATS_INTERVAL` seconds (default 10; 0 turns it off).
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref

from memo._errors import ConfigurationError
from memo._redis.store import RedisStore
from memo._runtime import fleet
from memo._runtime.settings import settings
from memo._stores.protocol import Store

__all__ = ["Publisher", "start_from_env", "start_publishing", "stop_publishing"]


class Publisher:
    """A daemon thread publishing one store's counters every `interval` seconds."""

    def __init__(self, store: RedisStore, interval: float, process: str | None = None) -> None:
        self.store_ref = weakref.ref(store)
        self.interval = interval
        self.process = process
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._loop, name=f"memo-stats-{store.name}", daemon=True
        )

    @property
    def running(self) -> bool:
        """Whether the thread is alive and not told to stop."""
        return self.thread.is_alive() and not self._stop.is_set()

    def start(self) -> Publisher:
        """Start the thread (it publishes at once, then every interval)."""
        self.thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop publishing (the last published counters expire with their TTL)."""
        self._stop.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                store = self.store_ref()
                if store is None or store.closed:
                    return
                fleet.publish(store, process=self.process, ttl=3 * self.interval)
                del store  # never keep the store alive between rounds
                if self._stop.wait(self.interval):
                    return
        finally:
            _forget(self)


_publishers: weakref.WeakKeyDictionary[RedisStore, Publisher] = weakref.WeakKeyDictionary()
_publishers_lock = threading.Lock()


def start_publishing(
    store: Store, interval: float = fleet.DEFAULT_INTERVAL, *, process: str | None = None
) -> Publisher:
    """Publish store's counters every interval seconds, in one daemon thread per store.

    Idempotent: while a publisher runs for store, it is returned (with its interval updated).
    `process` overrides the id published under (default hostname:pid, read at each round).
    """
    if not interval > 0:
        raise ConfigurationError(
            f"start_publishing(interval={interval!r}): use a positive number of seconds "
            "(or do not start publishing; MEMO_STATS_INTERVAL=0 turns it off)."
        )
    redis = fleet.redis_of(store)
    if process is not None:
        fleet.checked_process(process)
    with _publishers_lock:
        current = _publishers.get(redis)
        if current is not None and current.running:
            current.interval = interval
            return current
        publisher = _publishers[redis] = Publisher(redis, interval, process)
        if stop_publishing not in redis.on_close:
            redis.on_close.append(stop_publishing)  # stops at once when the store closes
        return publisher.start()  # under the lock: a second caller sees it running


def stop_publishing(store: Store) -> None:
    """Stop store's publisher, if any, without waiting for it (a hook for store.close())."""
    redis = getattr(store, "redis", store)
    if not isinstance(redis, RedisStore):
        return
    with _publishers_lock:
        publisher = _publishers.pop(redis, None)
    if publisher is not None:
        publisher.stop(timeout=0)


def start_from_env(store: object) -> Publisher | None:
    """configure()'s hook: start publishing if store has a Redis tier, every
    MEMO_STATS_INTERVAL seconds (default 10; 0 turns it off)."""
    redis = getattr(store, "redis", store)
    if not isinstance(redis, RedisStore):
        return None
    raw = os.environ.get("MEMO_STATS_INTERVAL", "").strip()
    try:
        interval = float(raw) if raw else fleet.DEFAULT_INTERVAL
    except ValueError:
        raise ConfigurationError(
            f"MEMO_STATS_INTERVAL={raw!r}: use seconds between stats publications (0: off)."
        ) from None
    if interval <= 0:
        return None
    return start_publishing(redis, interval)


def _forget(publisher: Publisher) -> None:
    store = publisher.store_ref()
    if store is None:
        return
    with _publishers_lock:
        if _publishers.get(store) is publisher:
            del _publishers[store]


def _after_fork_in_child() -> None:
    """A forked child has no publisher thread: start one for each store the parent published
    (a pre-forking server configures memo before forking its workers)."""
    global _publishers_lock
    _publishers_lock = threading.Lock()
    for core in settings.all_cores():
        fleet.inherited[core] = core.plan.stats.snapshot()
    running = [(store, p) for store, p in list(_publishers.items()) if not p._stop.is_set()]
    _publishers.clear()
    for store, publisher in running:
        if not store.closed:
            start_publishing(store, publisher.interval)  # as hostname:pid, never the parent's id


def _publish_at_exit() -> None:
    """A last publication of every running publisher, marked exited: counts since the last
    round are not lost, and readers stop counting this process as live."""
    for store, publisher in list(_publishers.items()):
        if not publisher.running or store.closed:
            continue
        publisher.stop(timeout=1.0)
        fleet.publish(store, process=publisher.process, ttl=3 * publisher.interval, exited=True)


atexit.register(_publish_at_exit)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
