"""A hook on the miss path, for exporters: who computed what, for how long, and how it ended.

Observers are called only on misses (a hit pays nothing but a list check). An observer's
`miss_started(function, key_hash)` returns a token handed back to `miss_finished(token,
error)`; the OpenTelemetry exporter uses it to open and close a span. An observer that
raises is logged and skipped: observing must never break a call.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from memo._keys.key import CacheKey

__all__ = ["OBSERVERS", "MissObserver", "add_observer", "finish", "remove_observer", "start"]

log = logging.getLogger("memo")


class MissObserver(Protocol):
    """What an exporter implements to watch misses."""

    def miss_started(self, function: str, key_hash: str) -> Any: ...

    def miss_finished(self, token: Any, error: BaseException | None) -> None: ...


OBSERVERS: list[MissObserver] = []


def add_observer(observer: MissObserver) -> None:
    """Start telling observer about misses."""
    if observer not in OBSERVERS:
        OBSERVERS.append(observer)


def remove_observer(observer: MissObserver) -> None:
    """Stop telling observer."""
    if observer in OBSERVERS:
        OBSERVERS.remove(observer)


def start(function: str, key: CacheKey) -> list[tuple[MissObserver, Any]]:
    """Tell every observer a miss of function began; their tokens."""
    key_hash = _key_hash(key)
    tokens = []
    for observer in list(OBSERVERS):
        try:
            tokens.append((observer, observer.miss_started(function, key_hash)))
        except Exception:
            log.exception("miss observer %r failed", observer)
    return tokens


def finish(tokens: list[tuple[MissObserver, Any]], error: BaseException | None) -> None:
    """Tell the observers of start() how the miss ended."""
    for observer, token in tokens:
        try:
            observer.miss_finished(token, error)
        except Exception:
            log.exception("miss observer %r failed", observer)


def _key_hash(key: CacheKey) -> str:
    """The digest of the key (never its arguments): safe to put in telemetry."""
    try:
        remote = key.remote
    except Exception:  # a key that cannot be hashed has nothing safe to show
        return ""
    start_at = remote.rfind("{")
    return remote[start_at + 1 : -1] if start_at >= 0 else ""
