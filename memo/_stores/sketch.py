"""TinyLFU's frequency sketch: how often each key was asked for lately, in a byte per counter.

A count-min sketch (Cormode & Muthukrishnan, 2005) as TinyLFU uses it (Einziger, Friedman &
Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM ToS 2017; Caffeine's
`FrequencySketch`): each key counts in one counter of each of two rows, picked from its
hash() modulo a prime (so that consecutive int hashes spread too); counters saturate at 15
and a key's estimate is the smaller of its two. After `10 x maxsize` counted accesses every
counter is halved, so the history fades and a key that was popular yesterday does not keep
out one that is popular now. Two rows rather than Caffeine's four: in Python each row costs
arithmetic on every miss, and two wider rows (16 counters per slot each, 32 bytes per slot,
allocated once the store first fills) matched four narrower ones in `bench/eviction.py`. The
table holds no key: it keeps nothing alive.
"""

from __future__ import annotations

__all__ = ["FrequencySketch"]

_CEILING = 15  # 4-bit counters, as in TinyLFU: enough to rank, cheap to halve
_HALVE = bytes(count >> 1 for count in range(256))
_COUNTERS_PER_SLOT = 16  # per row, two rows: 32 bytes per cache slot
_SAMPLES_PER_SLOT = 10  # TinyLFU's sample size W = 10 x the cache size


def _prime_at_least(n: int) -> int:
    candidate = n | 1
    while any(candidate % d == 0 for d in range(3, int(candidate**0.5) + 1, 2)):
        candidate += 2
    return candidate


class FrequencySketch:
    """Approximate recent access counts of hashed keys; no key object is kept."""

    __slots__ = ("_sample_size", "_samples", "_table", "_width")

    def __init__(self, maxsize: int) -> None:
        self._width = _prime_at_least(max(64, maxsize * _COUNTERS_PER_SLOT))
        self._table = bytearray(2 * self._width)  # row one, then row two
        self._samples = 0
        self._sample_size = _SAMPLES_PER_SLOT * maxsize

    def add(self, hashed: int, count: int = 1) -> int:
        """Count `count` accesses of the key whose hash() is hashed; its new estimate."""
        table, width = self._table, self._width
        rest, first = divmod(hashed, width)
        second = width + rest % width
        one = table[first] + count
        one = one if one < _CEILING else _CEILING
        table[first] = one
        two = table[second] + count
        two = two if two < _CEILING else _CEILING
        table[second] = two
        self._samples += count
        if self._samples >= self._sample_size:
            self._age()
        return one if one < two else two

    def estimate(self, hashed: int) -> int:
        """The key's recent access count (never below the truth, within the halvings)."""
        table, width = self._table, self._width
        rest, first = divmod(hashed, width)
        one, two = table[first], table[width + rest % width]
        return one if one < two else two

    def _age(self) -> None:
        # One C-level pass (bytes.translate) halves every counter: the history fades.
        self._table = bytearray(self._table.translate(_HALVE))
        self._samples //= 2
