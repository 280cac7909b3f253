"""Replaying invalidations as soon as Redis answers again, even in a process that stays idle.

An invalidation that Redis did not take (a timeout in a short hang, the breaker still closed)
is kept by the store. It used to be sent with that process's next successful command: an idle
process kept it, and every other process served the old value until its TTL. One daemon
thread per store with something to replay now pings Redis every `POLL` seconds and replays as
soon as a ping is answered; it exits when nothing is left to replay. While the breaker is open
the breaker's own probe brings Redis back, and its recovery replays. A process that exits
(a graceful restart, a deploy) with invalidations still kept tries once more at exit.
"""

from __future__ import annotations

import atexit
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


def _replay_at_exit() -> None:
    """Send what is still kept before the interpreter exits: a process restarted just after
    Redis came back (its breaker still open, waiting for its probe) must not take its
    invalidations with it. One probe per store: if Redis is still away, they are lost, and
    the other processes' L1 TTL bounds what they serve (docs/failures.md)."""
    for store in list(_running):
        if store.closed or not store.pending_count():
            continue
        try:
            store._probe()
        except Exception:  # still away: nothing more to do at exit
            continue
        store.breaker.answered()  # closes an open breaker, whose recovery replays
        if store.pending_count():
            store.replay()


atexit.register(_replay_at_exit)
