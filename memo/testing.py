"""Helpers for testing code that uses memo: a fake clock, and property tests of keys.

from memo.testing import FakeClock, check_keys, pin_keys

with FakeClock() as clock:
    get_user(1)          # miss
    clock.advance(301)   # past ttl=300
    get_user(1)          # miss again

check_keys(get_user)                        # hypothesis: call forms, injectivity, stability
pin_keys(get_user, [1, 2], "keys/get_user.json")   # a key that changes fails the test
"""

from __future__ import annotations

import threading
from types import TracebackType

from memo._clock import CLOCK
from memo._key_calls import call
from memo._key_checks import check_keys
from memo._key_pins import pin_keys

__all__ = ["FakeClock", "call", "check_keys", "pin_keys"]


class FakeClock:
    """A clock that moves only when told; installed process-wide while in its `with` block.

    It stands in for both `time.monotonic` (L1 deadlines) and `time.time` (wall-clock stamps
    in shared entries), so TTL tests need no sleeping.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = float(start)
        self._epoch = 1_700_000_000.0 - self._now
        self._lock = threading.Lock()
        self._previous: tuple[object, object] | None = None

    def monotonic(self) -> float:
        """The fake monotonic time, in seconds."""
        return self._now

    def time(self) -> float:
        """The fake wall-clock time (seconds since the epoch), moving with `monotonic`."""
        return self._epoch + self._now

    def advance(self, seconds: float) -> None:
        """Move time forward; negative steps are refused (clocks memo reads never go back)."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance({seconds}): time only moves forward")
        with self._lock:
            self._now += seconds

    def install(self) -> None:
        """Make memo read this clock until `uninstall()`."""
        self._previous = (CLOCK.monotonic, CLOCK.time)
        CLOCK.monotonic = self.monotonic
        CLOCK.time = self.time

    def uninstall(self) -> None:
        """Put back the clock that was in use before `install()`."""
        if self._previous is None:
            CLOCK.reset()
        else:
            CLOCK.monotonic, CLOCK.time = self._previous  # type: ignore[assignment]
            self._previous = None

    def __enter__(self) -> FakeClock:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()
