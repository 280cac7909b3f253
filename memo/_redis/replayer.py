"""Replaying invalidations as soon as Redis answers again, even in a process that stays idle.

An invalidation that Redis did not take (a timeout in a short hang, the breaker still closed)
is kept by the store. It used to be sent with that process's next successful command: an idle
process kept it, and every other process served the old value until its TTL. One daemon
thread per store with something to replay now pings Redis every `POLL` seconds and replays as
soon as a ping is answered; it exits when nothing is left to replay. While the breaker is open
the breaker's own probe brings Redis back, and its recovery replays.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Protocol

__all__ = ["POLL", "start"]

POLL = 0.2  # seconds between pings while invalidations wait: well inside the 1 s promise


class _Replaying(Protocol):
    @property
    def name(self) -> str: ...

    closed: bool
    breaker: Any

    def pending_count(self) -> int: ...

    def replay(self) -> int: ...

    def _probe(self) -> None: ...


_running: weakref.WeakSet[Any] = weakref.WeakSet()  # stores with a replayer now
_lock = threading.Lock()


def start(store: _Replaying) -> None:
    """Make sure one replayer runs for store while it has invalidations to send."""
    with _lock:
        if store in _running:
            return
        _running.add(store)
    thread = threading.Thread(
        target=_run, args=(store,), name=f"memo-replayer-{store.name}", daemon=True
    )
    try:
        thread.start()
    except RuntimeError:  # at interpreter shutdown: the next command replays instead
        _done(store)


def _run(store: _Replaying) -> None:
    try:
        stop = threading.Event()
        while store.pending_count() and not store.closed:
            stop.wait(POLL)
            if store.breaker.is_open:
                continue  # the breaker's probe owns recovery, and replays when it succeeds
            try:
                store._probe()
            except Exception:  # still away: ask again after POLL
                continue
            store.replay()
    finally:
        _done(store)


def _done(store: _Replaying) -> None:
    with _lock:
        _running.discard(store)
