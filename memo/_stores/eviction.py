"""L1's eviction policy: W-TinyLFU (Einziger, Friedman & Manes, ACM ToS 2017; Caffeine), with
CLOCK's reference bit in place of LRU lists so that a hit stays a single flag store.

A new entry enters a small FIFO *window* (1% of the slots). When the window overflows, its
oldest entry is a *candidate* for the *main* region (the other 99%). While there is room it
goes in; once the store is full it must win a duel against main's *victim*: TinyLFU's
frequency sketch (`sketch.py`) estimates how often each was asked for lately, and the loser
leaves (an expired entry loses whatever its frequency). A burst of one-hit keys (a scan)
therefore passes through the window without displacing the popular entries, and a loop over
more keys than fit keeps the part of the loop it holds instead of cycling every entry out
(LRU's worst case).

Main is a CLOCK (second chance): the victim is the oldest entry whose `used` bit is clear;
one whose bit is set has the bit cleared, its hit counted in the sketch, and moves to the
young end. So a hit costs only the bit (set by the lock-free hit path), and frequency is
learned from misses (each write is counted) and from hits as the clock hand passes them.

Once the store is full, the write that makes it one over runs up to 8 duels in a row (1% of
the slots, if fewer), so the next writes find room: the eviction's code then runs in one hot
stretch every few misses instead of a cold one on each, and the store holds between
`maxsize - 7` and `maxsize` entries (over 24 seeded traces at 1,000 slots, the worst miss
ratio against libCacheSim's best stayed 1.029x). The entry just written is never a candidate.

All methods run under the store's lock. The queues hold the entries themselves; an entry that
left the store another way (deleted, overwritten, expired) has its key set to `GONE` by the
store, is skipped when it reaches a head (a look at the entry, not a dict lookup), and the
queues are compacted when such dead slots outnumber the live ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from memo._clock import CLOCK
from memo._policy.entry import Entry
from memo._stores.sketch import FrequencySketch

__all__ = ["GONE", "Resident", "WindowTinyLFU"]

# The key of an entry that left the store (deleted, overwritten, expired): the store sets it,
# so a queue tells a dead slot by a look at the entry it already holds, not a dict lookup.
GONE: Hashable = object()

_WINDOW_SHARE = 100  # 1% of the slots, Caffeine's initial window
_DEAD_SLACK = 32
_BATCH = 8


class Resident(Entry):
    """An entry held by L1: it also knows its key, so that the queues need not hold both.

    `MemoryStore.set_local` makes it with `object.__new__` and sets every field itself (no
    `__init__` frame on each miss); the store sets `key` to `GONE` when the entry leaves.
    """

    __slots__ = ("key",)
    key: Hashable


class WindowTinyLFU:
    """Decides which entry leaves `data` when it holds more than `maxsize` entries."""

    __slots__ = (
        "_batch",
        "_data",
        "_dead",
        "_forget",
        "_main",
        "_marked",
        "_maxsize",
        "_sketch",
        "_window",
        "_window_size",
    )

    def __init__(
        self,
        data: dict[Hashable, Resident],
        maxsize: int,
        forget: Callable[[Hashable], None],
        marked: tuple[Mapping[Hashable, Any], ...] = (),
    ) -> None:
        self._data = data
        self._maxsize = maxsize
        self._forget = forget  # the store's bookkeeping (tags, Redis keys) of an evicted key
        self._marked = marked  # the maps that bookkeeping reads: while empty, skip the call
        self._window: deque[Resident] = deque()
        self._main: deque[Resident] = deque()
        self._window_size = max(1, maxsize // _WINDOW_SHARE)
        self._batch = min(_BATCH, self._window_size)
        self._dead = 0  # queue slots whose entry left data another way
        # Built at the first eviction: a store that never fills never pays for it.
        self._sketch: FrequencySketch | None = None

    def clear(self) -> None:
        """Forget every entry (the data dict was cleared); the frequencies stay."""
        self._window.clear()
        self._main.clear()
        self._dead = 0

    def inserted(self, entry: Resident) -> None:
        """entry was just put in data: evict down to maxsize."""
        window, data = self._window, self._data
        window.append(entry)
        if len(data) > self._maxsize:
            self._evict_batch(window, data)
        elif len(window) > self._window_size:  # room in main: the window's oldest goes there
            candidate = window.popleft()
            if candidate.key is not GONE:
                self._main.append(candidate)
            else:
                self._dead -= 1

    def _evict_batch(self, window: deque[Resident], data: dict[Hashable, Resident]) -> None:
        """The store is one over: `_batch` duels in a row, down to maxsize + 1 - _batch
        entries (the newest, last in the window, is never a candidate)."""
        main = self._main
        sketch = self._sketch or self._new_sketch()
        floor = self._maxsize + 1 - self._batch
        now = CLOCK.monotonic()
        while len(data) > floor and len(window) > 1:
            candidate = window.popleft()
            if candidate.key is GONE:
                self._dead -= 1
                continue
            # The duel. The candidate's accesses are counted as it leaves the window: its
            # write, plus one if it was hit there (one hash per miss, not one per step).
            count = 2 if candidate.used else 1
            candidate.used = False
            victim = main[0] if main else None
            if victim is not None and not victim.used and victim.key is not GONE:
                admit = sketch.duel(hash(candidate.key), count, hash(victim.key))
            else:  # the hand moves (most duels need not), after the candidate is counted
                frequency = sketch.add(hash(candidate.key), count)
                victim = self._victim(sketch)
                admit = victim is not None and frequency > sketch.estimate(hash(victim.key))
            if victim is not None and victim.expires <= now:  # an expired entry loses its
                admit = candidate.expires > now  # duel, or the store fills with dead ones
            elif candidate.expires <= now:
                admit = False
            if admit and victim is not None:
                main.popleft()
                main.append(candidate)
                candidate = victim
            del data[candidate.key]  # self._evict, inline
            if any(self._marked):
                self._forget(candidate.key)
        while len(data) > self._maxsize:  # the window ran dry: main's oldest go (never empty:
            # the newest is alone in the window and the store holds more than one)
            oldest = main.popleft()
            if oldest.key is not GONE:
                self._evict(oldest)
            else:
                self._dead -= 1

    def discarded(self) -> None:
        """An entry left data by a delete, an overwrite or an expiry: its slot is dead."""
        self._dead += 1
        if self._dead > len(self._data) + _DEAD_SLACK:
            self._compact()

    # -- internals -----------------------------------------------------------------------

    def _new_sketch(self) -> FrequencySketch:
        self._sketch = FrequencySketch(self._maxsize)
        return self._sketch

    def _victim(self, sketch: FrequencySketch) -> Resident | None:
        """Main's head after the clock hand passed every used entry (main[0]), or None."""
        main = self._main
        passes = 2 * len(main) + 1  # bounds the sweep even if hits race the hand
        while main:
            entry = main[0]
            if entry.key is GONE:
                main.popleft()
                self._dead -= 1
            elif entry.used and passes > 0:
                passes -= 1
                entry.used = False
                sketch.add(hash(entry.key))
                main.rotate(-1)
            else:
                return entry
        return None

    def _evict(self, entry: Resident) -> None:
        del self._data[entry.key]
        if any(self._marked):  # tags or Redis keys to forget (never for an L1-only store)
            self._forget(entry.key)

    def _compact(self) -> None:
        self._window = deque(e for e in self._window if e.key is not GONE)
        self._main = deque(e for e in self._main if e.key is not GONE)
        self._dead = 0
