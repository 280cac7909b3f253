"""A circuit breaker per Redis endpoint: after repeated failures, skip L2 until a probe works.

Closed: calls go to Redis. After `threshold` consecutive failures the breaker opens: calls
skip L2 at once (they fall back to L1 and the function), and a background thread probes the
endpoint every `probe_interval` seconds, so no caller ever waits on a dead server. The first
successful probe closes the breaker again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["CircuitBreaker"]

log = logging.getLogger("memo")


class CircuitBreaker:
    """Counts consecutive failures of one endpoint and decides whether to try it."""

    def __init__(
        self,
        name: str,
        probe: Callable[[], object],
        *,
        threshold: int = 3,
        probe_interval: float = 0.25,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.probe_interval = probe_interval
        self._probe = probe
        self._on_change = on_change
        # Plain attributes, read on every Redis call without a Python call (set only here,
        # under the lock or by the call that saw them): is_open: calls skip this endpoint;
        # failures: outage-like failures in a row since the last call that worked.
        self.failures = 0
        self.is_open = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None
        self.opened = 0  # how many times it opened, for stats and tests

    @property
    def failing(self) -> bool:
        """True after an outage-like failure, until a call works (open or not yet)."""
        return self.failures > 0 or self.is_open

    def success(self) -> bool:
        """A call worked: forget earlier failures; whether that ended a failing spell (some
        failures, the breaker never opened), which changes what `failing` says."""
        if self.failures and not self.is_open:
            self.failures = 0
            return True
        return False

    def failure(self, exc: BaseException) -> None:
        """A call failed; open after `threshold` failures in a row."""
        with self._lock:
            self.failures += 1
            if self.is_open or self.failures < self.threshold:
                return
            self.is_open = True
            self.opened += 1
            self._start_prober()
        log.warning("Redis %s unreachable (%s); skipping L2 until it answers", self.name, exc)
        self._notify(False)

    def close(self) -> None:
        """Stop probing (the store is closing)."""
        self._stop.set()
        prober = self._prober
        if prober is not None and prober is not threading.current_thread():
            prober.join(2)

    def after_fork(self) -> None:
        """In a forked child the prober thread does not exist; start clean."""
        self._lock = threading.Lock()
        self._prober = None
        self.is_open = False
        self.failures = 0

    def _start_prober(self) -> None:
        self._stop.clear()
        self._prober = threading.Thread(
            target=self._probe_until_back, name=f"memo-breaker-{self.name}", daemon=True
        )
        self._prober.start()

    def _probe_until_back(self) -> None:
        while not self._stop.wait(self.probe_interval):
            try:
                self._probe()
            except Exception:  # still down: keep probing
                continue
            self.answered()
            return

    def answered(self) -> None:
        """A probe worked (the prober's, or one made at exit): close, and tell the listeners
        (the store then replays what it kept)."""
        with self._lock:
            was_open, self.is_open, self.failures = self.is_open, False, 0
        if was_open:
            log.warning("Redis %s answers again; L2 back in use", self.name)
            self._notify(True)

    def _notify(self, healthy: bool) -> None:
        if self._on_change is not None:
            try:
                self._on_change(healthy)
            except Exception:  # a listener's bug must not break the breaker
                log.exception("breaker listener failed")
