"""The operations a policy yields, and what the drivers send back for them.

Operations are named tuples. A NamedTuple's own constructor is a Python function (the
`__new__` that `collections.namedtuple` makes with eval: a frame, about 1,700 instructions),
so the ones every miss yields (Lead, Fetch, Put, Land) are built with `new_op(Kind, (every
field, in order))`: `tuple.__new__`, in C, making the same object.
tests/policy/test_operations.py checks each such call's field count.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

from memo._keys.key import CacheKey

__all__ = [
    "COMPUTE_OP",
    "LEAD",
    "REENTERED",
    "Claim",
    "Compute",
    "Fetch",
    "Flow",
    "Land",
    "Lead",
    "Lookup",
    "Outcome",
    "Put",
    "Release",
    "Remove",
    "Wait",
    "new_op",
]

new_op = tuple.__new__  # new_op(Put, (key, value, ...)): a named tuple built without a frame


class Outcome(NamedTuple):
    """A leader's result, as its followers receive it (a named tuple: a leader that found or
    computed its value builds it with new_op, as each miss does)."""

    value: Any = None
    error: BaseException | None = None
    found: bool = False  # the leader found the value in the shared tier: a hit, not a miss

    def unwrap(self) -> Any:
        """The value, or raise the leader's exception."""
        if self.error is not None:
            raise self.error
        return self.value


class Lookup(NamedTuple):
    """Read key from the store → Entry | None: only its in-process tier if local_only, past
    it (the shared tier) if fresh."""

    key: CacheKey
    local_only: bool = False
    fresh: bool = False


class Put(NamedTuple):
    """Write value under key for ttl seconds → whether it was written.

    token: write only while holding that lease; mode "nx": only if no entry is there, "fill":
    a miss's result (a "set" that a shared tier need announce to other processes only when
    it replaced an entry or someone waits for it), "unlocked": a "fill" that ends no lease
    (lock=False); soft: seconds until a hit should start a background refresh (None: never).
    """

    key: CacheKey
    value: Any
    ttl: float | None
    delta: float
    tags: tuple[str, ...]
    token: str = ""
    mode: str = "set"
    soft: float | None = None


class Claim(NamedTuple):
    """Take the key's lease across processes → True, False (held elsewhere), None (no L2)."""

    key: CacheKey
    token: str
    tags: tuple[str, ...] = ()  # the call's tags: its key joins their sets before the lease


class Fetch(NamedTuple):
    """Look key up and, only if nothing is found, take its lease across processes, in one
    step (one round trip to Redis) → (Entry, None) or (None, True | False | None as Claim)."""

    key: CacheKey
    token: str


class Wait(NamedTuple):
    """Sleep until the key is filled by its lease holder, or timeout → None."""

    key: CacheKey
    timeout: float


class Release(NamedTuple):
    """Give a lease back after a failed compute → None."""

    key: CacheKey
    token: str


class Remove(NamedTuple):
    """Delete key → bool (whether a live entry was removed)."""

    key: CacheKey


class Compute(NamedTuple):
    """Run the user's function → (value, seconds it took); its exception is thrown back."""


COMPUTE_OP = Compute()  # it has no fields: one for every miss (a NamedTuple costs a frame)


class Lead(NamedTuple):
    """Join the key's in-process flight → LEAD, an Outcome to adopt, None (compute alone, the
    leader was too slow) or REENTERED (the caller leads this flight already)."""

    key: CacheKey
    timeout: float


class Land(NamedTuple):
    """End the flight this caller leads, handing outcome (None: followers compute) → None."""

    key: CacheKey
    outcome: Outcome | None


LEAD: Any = object()
# Lead's answer to a caller that re-enters the key it leads (the same thread or task, e.g.
# a function calling itself with the same arguments): waiting would wait on itself.
REENTERED: Any = object()
Flow = Generator[Any, Any, Any]
