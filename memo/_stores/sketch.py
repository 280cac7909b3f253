"""TinyLFU's frequency sketch: how often each key was asked for lately, in a byte per counter.

A count-min sketch (Cormode & Muthukrishnan, 2005) as TinyLFU uses it (Einziger, Friedman &
Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM ToS 2017; Caffeine's
`FrequencySketch`): each key counts in one counter of each of two rows, picked from
two ranges of bits of its hash() (memo's keys are tuples and strings, whose hashes are mixed
over 64 bits; a mask costs a fraction of a division by a prime); counters saturate at 15
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
# The second row reads the hash from this bit on (or past the first row's bits, if wider):
# of the shifts tried (14 to 48, bench/eviction.py over 4 seeds), 20 missed least.
_SECOND_ROW_SHIFT = 20


class FrequencySketch:
    """Approximate recent access counts of hashed keys; no key object is kept."""

    __slots__ = ("_mask", "_sample_size", "_samples", "_shift", "_table", "_width")

    def __init__(self, maxsize: int) -> None:
        # A power of two: a counter's index is a mask of the hash, not a division (Python
        # divides a 64-bit int in two 30-bit digits, several times the cost of a mask).
        self._width = 1 << max(64, maxsize * _COUNTERS_PER_SLOT - 1).bit_length()
        self._mask = self._width - 1
        self._shift = max(_SECOND_ROW_SHIFT, self._width.bit_length() - 1)
        self._table = bytearray(2 * self._width)  # row one, then row two
        self._samples = 0
        self._sample_size = _SAMPLES_PER_SLOT * maxsize

    def add(self, hashed: int, count: int = 1) -> int:
        """Count `count` accesses of the key whose hash() is hashed; its new estimate."""
        table, mask = self._table, self._mask
        first = hashed & mask
        second = self._width + ((hashed >> self._shift) & mask)
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

    def duel(self, candidate: int, count: int, victim: int) -> bool:
        """add(candidate, count), then whether the candidate's estimate beats the victim's:
        TinyLFU's admission test, in one call less than add() and estimate() (it runs on
        every miss of a full store)."""
        frequency = self.add(candidate, count)
        table, mask = self._table, self._mask
        one = table[victim & mask]
        two = table[self._width + ((victim >> self._shift) & mask)]
        return frequency > (one if one < two else two)

    def estimate(self, hashed: int) -> int:
        """The key's recent access count (never below the truth, within the halvings)."""
        table, mask = self._table, self._mask
        one = table[hashed & mask]
        two = table[self._width + ((hashed >> self._shift) & mask)]
        return one if one < two else two

    def _age(self) -> None:
        # One C-level pass (bytes.translate) halves every counter: the history fades.
        self._table = bytearray(self._table.translate(_HALVE))
        self._samples //= 2
