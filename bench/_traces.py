"""Synthetic request traces for the `eviction` suite: deterministic (seeded), stdlib only.

Every trace draws from 50,000 objects for a 1,000-slot cache (the L1 sizes of issue 11):
- `zipf-0.8`, `zipf-1.0`: independent requests, object of rank r asked with weight 1/r^a;
- `zipf+scans`: Zipf 1.0 with a burst of 2,000 never-repeated keys every 10,000 requests
  (one-hit wonders: a batch job walking a table);
- `zipf+loop`: each request is, with probability 1/2, the next key of a loop over 1,200
  keys (1.2x the cache: LRU's worst case), else a Zipf 1.0 draw.
"""

from __future__ import annotations

import itertools
import random

__all__ = ["OBJECTS", "SLOTS", "traces"]

OBJECTS = 50_000
SLOTS = 1_000
SEED = 20231023  # SOSP 2023, where S3-FIFO was presented
SCAN_EVERY = 10_000
SCAN_LENGTH = 2_000
LOOP_LENGTH = 1_200
LOOP_SHARE = 0.5
_SCAN_BASE = 10**7  # key ranges of their own: never a Zipf object
_LOOP_BASE = 2 * 10**7


def _zipf(alpha: float, count: int, rng: random.Random) -> list[int]:
    """count draws of object ids 0..OBJECTS-1, id r with weight 1/(r+1)^alpha."""
    weights = itertools.accumulate(1.0 / (rank**alpha) for rank in range(1, OBJECTS + 1))
    return rng.choices(range(OBJECTS), cum_weights=list(weights), k=count)


def _with_scans(base: list[int]) -> list[int]:
    scanned = itertools.count(_SCAN_BASE)
    trace: list[int] = []
    for i, key in enumerate(base):
        if i and i % SCAN_EVERY == 0:
            trace.extend(itertools.islice(scanned, SCAN_LENGTH))
        trace.append(key)
    return trace


def _with_loop(base: list[int], rng: random.Random) -> list[int]:
    loop = itertools.cycle(range(_LOOP_BASE, _LOOP_BASE + LOOP_LENGTH))
    return [next(loop) if rng.random() < LOOP_SHARE else key for key in base]


def traces(length: int, seed: int = SEED) -> dict[str, list[int]]:
    """The four traces, each of about `length` requests (scans add theirs)."""
    rng = random.Random(seed)
    return {
        "zipf-0.8": _zipf(0.8, length, rng),
        "zipf-1.0": _zipf(1.0, length, rng),
        "zipf+scans": _with_scans(_zipf(1.0, length, rng)),
        "zipf+loop": _with_loop(_zipf(1.0, length, rng), rng),
    }
