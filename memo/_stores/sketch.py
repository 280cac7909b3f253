"""TinyLFU's frequency sketch: how often each key was asked for lately, in a few bits per slot.

A count-min sketch (Cormode & Muthukrishnan, 2005) as TinyLFU uses it (Einziger, Friedman &
Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM ToS 2017; Caffeine's
`FrequencySketch`): four counters per key, picked by double hashing in one byte table, each
saturating at 15; a key's estimate is the smallest of its four. After `10 x maxsize` additions
every counter is halved, so the history fades and a key that was popular yesterday does not
keep out one that is popular now. The table holds 16 counters per cache slot, as
Caffeine's does (one byte each here, 16 B per slot), whatever the keys: it keeps no key alive.
"""

from __future__ import annotations

__all__ = ["FrequencySketch"]

_CEILING = 15  # 4-bit counters, as in TinyLFU: enough to rank, cheap to halve
_HALVE = bytes(count >> 1 for count in range(256))
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads int keys, whose hash is themselves
_BITS64 = (1 << 64) - 1
_SLOTS_PER_ENTRY = 16
_SAMPLES_PER_ENTRY = 10  # TinyLFU's sample size W = 10 x the cache size


class FrequencySketch:
    """Approximate recent access counts of hashed keys; no key object is kept."""

    __slots__ = ("_mask", "_samples", "_sample_size", "_table")

    def __init__(self, maxsize: int) -> None:
        width = 64
        while width < maxsize * _SLOTS_PER_ENTRY:
            width <<= 1
        self._mask = width - 1
        self._table = bytearray(width)
        self._samples = 0
        self._sample_size = _SAMPLES_PER_ENTRY * maxsize

    def add(self, hashed: int) -> None:
        """Count one access of the key whose hash() is hashed."""
        table, mask = self._table, self._mask
        mixed = (hashed * _MIX) & _BITS64
        low, step = mixed & 0xFFFFFFFF, (mixed >> 32) | 1
        for index in (low, low + step, low + 2 * step, low + 3 * step):
            index &= mask
            if table[index] < _CEILING:
                table[index] += 1
        self._samples += 1
        if self._samples >= self._sample_size:
            self._age()

    def estimate(self, hashed: int) -> int:
        """The key's recent access count (never below the truth, within the halvings)."""
        table, mask = self._table, self._mask
        mixed = (hashed * _MIX) & _BITS64
        low, step = mixed & 0xFFFFFFFF, (mixed >> 32) | 1
        return min(
            table[low & mask],
            table[(low + step) & mask],
            table[(low + 2 * step) & mask],
            table[(low + 3 * step) & mask],
        )

    def _age(self) -> None:
        # One C-level pass (bytes.translate) halves every counter: the history fades.
        self._table = bytearray(self._table.translate(_HALVE))
        self._samples //= 2
