"""The clock memo reads: swappable in one place so tests can drive TTLs with a fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CLOCK", "Clock"]


class Clock:
    """Holds the two time sources memo uses; `memo.testing.FakeClock` replaces both."""

    __slots__ = ("monotonic", "time")

    def __init__(self) -> None:
        # monotonic: L1 deadlines, durations. time: wall-clock stamps that cross processes.
        self.monotonic: Callable[[], float] = time.monotonic
        self.time: Callable[[], float] = time.time

    def reset(self) -> None:
        """Return to the real clocks."""
        self.monotonic = time.monotonic
        self.time = time.time


CLOCK = Clock()
