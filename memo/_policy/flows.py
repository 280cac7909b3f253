"""The caching policy, written once and free of I/O.

A policy is a generator that yields storage operations and receives their results, the way
httpx writes auth flows: `_runtime/_sync/drivers.py` runs it with blocking calls for sync
functions and `_runtime/_async/drivers.py` with awaits for `async def` ones. Everything about
*what* to do on a hit, a miss, a concurrent miss or a failure lives here; only *how* to do it
exists in two colours (and is written once: the sync driver is generated, scripts/unasync.py).
"""

from __future__ import annotations

import itertools
import math
import os
import secrets
from typing import Any

from memo._clock import CLOCK
from memo._errors import SerializationError
from memo._keys.key import CacheKey
from memo._policy.entry import Entry
from memo._policy.operations import (
    COMPUTE_OP,
    LEAD,
    REENTERED,
    Claim,
    Compute,
    Fetch,
    Flow,
    Land,
    Lead,
    Lookup,
    Outcome,
    Put,
    Release,
    Remove,
    Wait,
    new_op,
)
from memo._policy.plan import UNPACKABLE, Plan

__all__ = [
    "LEAD",
    "Claim",
    "Compute",
    "Fetch",
    "Flow",
    "Land",
    "Lead",
    "Lookup",
    "Outcome",
    "Plan",
    "Put",
    "Release",
    "Remove",
    "Wait",
    "background_flow",
    "hit",
    "miss_flow",
    "prepare",
    "refresh_flow",
    "write_flow",
]


# -- the policies -------------------------------------------------------------------------


class _LeaseTokens:
    """Lease tokens: unique across processes without a system call per miss (a random
    prefix per process, drawn again in a forked child, and a counter)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.count = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):x}"


lease_token = _LeaseTokens()
os.register_at_fork(after_in_child=lease_token.reseed)

_WAIT_SLICE = 1.0  # a waiter looks again at least this often, in case the holder died
# Put's mode for a miss's result: a "set" that other processes need not hear of unless it
# replaced an entry or one of them waits for it (the Redis tier decides; L1 treats it as "set").
FILL = "fill"
# Put's mode for the result of a miss without single-flight (lock=False): a "fill" that holds
# no lease and ends none of another caller's (a re-entered or timed-out follower's "fill" ends
# its leader's, so that the value stored first is kept).
UNLOCKED = "unlocked"


def miss_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...], looked: bool = True) -> Flow:
    """The caller's lookup found nothing: single-flight in the process, a lease across
    processes.

    looked: whether that lookup asked the shared tier too. When it did not
    (`Plan.fetch_first`: this function's recent lookups missed there as well), the leader's
    Fetch asks for the entry and the lease in one step, and an entry found there is a hit.
    (The lookup itself is the caller's, in its colour, so that a hit never pays for a
    generator; `hit()` is what a found entry goes through.)
    """
    if not plan.lock:
        plan.stats.misses += 1
        return (yield from _compute_and_store(plan, key, normalised, "", UNLOCKED))
    joined = yield new_op(Lead, (key, plan.lock_timeout))
    if joined is REENTERED:  # our own flight: compute here, without single-flight
        plan.stats.misses += 1
        return (yield from _compute_and_store(plan, key, normalised, "", FILL))
    if joined is not LEAD:
        return (yield from _follow(plan, key, normalised, joined))
    return (yield from _lead(plan, key, normalised, looked))


def refresh_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...]) -> Flow:
    """Recompute, store and return, whatever the store holds."""
    plan.stats.refreshes += 1
    return (yield from _compute_and_store(plan, key, normalised))


def hit(plan: Plan, entry: Entry) -> Any:
    """A lookup found entry: count it by tier and hand out the value."""
    if entry.remote:
        plan.stats.l2_hits += 1
        plan.found_remote()
    else:
        plan.stats.l1_hits += 1
    return plan.unpack(entry.value)


def _follow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...], joined: Any) -> Flow:
    """Adopt the leader's outcome (a hit if it found the value in the shared tier), or
    compute alone when the leader was too slow (joined is None)."""
    if joined is not None and joined.found:
        plan.stats.l2_hits += 1
        return joined.unwrap()
    plan.stats.misses += 1
    plan.stats.waits += 1
    if joined is not None:
        return joined.unwrap()
    return (yield from _compute_and_store(plan, key, normalised, "", FILL))


def _lead(plan: Plan, key: CacheKey, normalised: tuple[Any, ...], looked: bool) -> Flow:
    """The elected caller: the entry, or a compute under the key's lease, asked for together
    (or a wait for the lease's holder, bounded by lock_timeout); then the flight lands with
    the outcome. One generator for all of it: each level of `yield from` costs every
    operation of every miss."""
    fenced = False
    try:
        token = lease_token()
        tags = _tags(plan, normalised)
        if tags:
            entry, claimed = yield from _fetch(key, token, tags, local_only=looked)
        else:
            entry, claimed = yield new_op(Fetch, (key, token))
        found = entry is not None and entry.remote and not looked
        if found:
            value = hit(plan, entry)
        elif entry is not None:
            value = _served(plan, entry)  # stored since the caller's lookup
        else:
            plan.stats.misses += 1
            plan.computed()
            if claimed is False:
                entry, claimed = yield from _wait_for_holder(plan, key, token, tags)
            if entry is not None:
                plan.stats.waits += 1
                value = plan.unpack(entry.value)
            elif claimed is not True:
                # No L2 answer (None): write as usual. Waited past the bound (False):
                # compute here, but never overwrite what the lease holder may store meanwhile.
                mode = FILL if claimed is None else "nx"
                value = yield from _compute_and_store(plan, key, normalised, "", mode)
            else:
                try:
                    value, delta = yield COMPUTE_OP
                    plan.stats.compute_time += delta
                    stored = yield from _store(
                        plan, key, normalised, value, delta=delta, token=token, mode=FILL, tags=tags
                    )
                except BaseException:
                    yield Release(key, token)
                    raise
                fenced = stored is _REFUSED
    except Exception as exc:
        yield Land(key, Outcome(error=exc))
        raise
    except BaseException:
        # Cancelled or interrupted: followers must not inherit that; they compute alone.
        yield Land(key, None)
        raise
    # Fenced: an invalidation ended our lease mid-compute (so the write was refused); callers
    # that joined may have come after it, so they compute alone rather than share this value.
    yield new_op(Land, (key, None if fenced else new_op(Outcome, (value, None, found))))
    return value


def _served(plan: Plan, entry: Entry) -> Any:
    """An entry stored since the caller's lookup (by a leader here or elsewhere): served by
    another caller's compute, as a follower would be."""
    plan.stats.misses += 1
    plan.stats.waits += 1
    return plan.unpack(entry.value)


def _fetch(key: CacheKey, token: str, tags: tuple[str, ...], *, local_only: bool) -> Flow:
    """(entry, None) if there is one, else (None, whether the lease was taken).

    An untagged call asks both in one step (Fetch, one round trip). A tagged call joins its
    tags' sets before it claims, which is what lets invalidate_tag fence its compute (Claim
    with tags), so it looks first (the shared tier too, unless the caller already did) and
    then claims.
    """
    if not tags:
        return (yield Fetch(key, token))
    entry = yield Lookup(key, local_only=local_only)
    if entry is not None:
        return entry, None
    return None, (yield Claim(key, token, tags))


def _wait_for_holder(plan: Plan, key: CacheKey, token: str, tags: tuple[str, ...]) -> Flow:
    """The lease is held elsewhere: (the entry its holder stored, None), or (None, the
    last claim's answer) once the lease came free, Redis stopped answering, or
    lock_timeout passed."""
    deadline = CLOCK.monotonic() + plan.lock_timeout
    claimed: bool | None = False
    for _ in range(math.ceil(plan.lock_timeout / _WAIT_SLICE) + 1):
        remaining = deadline - CLOCK.monotonic()
        if claimed is not False or remaining <= 0:
            break
        yield Wait(key, min(remaining, _WAIT_SLICE))
        # Looked up and claimed in one step: no holder can store between the two unseen.
        entry, claimed = yield from _fetch(key, token, tags, local_only=False)
        if entry is None and claimed is True and tags:
            # Tagged: looked, then claimed; the holder may have stored in between.
            entry = yield Lookup(key)
            if entry is not None:
                yield Release(key, token)
        if entry is not None:
            return entry, None
    return None, claimed


def _tags(plan: Plan, normalised: tuple[Any, ...]) -> tuple[str, ...]:
    """The call's tags: a lease is claimed under them, so invalidate_tag fences its compute."""
    return plan.tags(normalised) if plan.tags is not None else ()


def _compute_and_store(
    plan: Plan, key: CacheKey, normalised: tuple[Any, ...], token: str = "", mode: str = "set"
) -> Flow:
    value, delta = yield COMPUTE_OP
    plan.stats.compute_time += delta
    yield from _store(plan, key, normalised, value, delta=delta, token=token, mode=mode)
    return value


_SAME_ENTRY = 0.01  # seconds: expiries closer than this are one entry seen through two tiers


def background_flow(
    plan: Plan, key: CacheKey, normalised: tuple[Any, ...], seen_expires: float
) -> Flow:
    """A refresh started by a hit on an entry expiring at seen_expires: one per key across
    processes; a failure keeps the entry."""
    token = lease_token()
    claimed = yield Claim(key, token, _tags(plan, normalised))
    if claimed is not True:
        # Held elsewhere (another process refreshes it), or Redis did not answer: the entry
        # is still served, and a later hit asks again. Never a second, unguarded compute.
        return None
    current = yield Lookup(key, fresh=True)
    if current is not None and current.expires > seen_expires + _SAME_ENTRY:
        # Refreshed meanwhile (by another process). Decided on the entry's expiry, never by
        # drawing XFetch's chance again: a refresh that was started must also land.
        yield Release(key, token)
        return None
    try:
        yield from _compute_and_store(plan, key, normalised, token)
    except BaseException as exc:  # cancelled too: a lease must never outlive its refresh
        yield Release(key, token)
        if not isinstance(exc, Exception):
            raise
        plan.stats.error(type(exc).__name__)
        plan.log_once(
            "refresh",
            f"{plan.name}: background refresh failed ({exc!r}); "
            "the cached value is kept until it expires",
        )
        return None
    plan.stats.refreshes += 1
    return None


def prepare(
    plan: Plan, key: CacheKey, normalised: tuple[Any, ...], value: Any, delta: float
) -> tuple[CacheKey, Any, float | None, float, tuple[str, ...], float | None] | None:
    """The (key, value, ttl, delta, tags, soft) a batch write stores, or None if not kept."""
    stored = plan.storable(value)
    if stored is UNPACKABLE:
        return None
    tags = _tags(plan, normalised)
    ttl, soft = plan.lifetimes(value, key)
    return key, stored, ttl, delta, tags, soft


def write_flow(plan: Plan, key: CacheKey, normalised: tuple[Any, ...], value: Any) -> Flow:
    """Make value this call's entry (write-through); drop the entry if options refuse value."""
    if not (yield from _store(plan, key, normalised, value, delta=0.0, token="", mode="set")):
        yield Remove(key)


_REFUSED = "refused"  # _store: the lease ended before the write (truthy: it was handed over)


def _store(
    plan: Plan,
    key: CacheKey,
    normalised: tuple[Any, ...],
    value: Any,
    *,
    delta: float,
    token: str,
    mode: str,
    tags: tuple[str, ...] | None = None,
) -> Flow:
    """Put value under key if the options keep it; whether it was handed to the store.
    tags: the call's, when the caller made them already.

    Every way out releases a lease held with token at once: a result that is not stored
    (refused, unpackable, unserializable) must not make the next process wait for it.
    """
    stored = plan.storable(value)
    if stored is UNPACKABLE:
        if token:
            yield Release(key, token)
        return False
    if tags is None:  # _tags, inline: a frame less on every miss
        tags = plan.tags(normalised) if plan.tags is not None else ()
    ttl, soft = plan.lifetimes(value, key)
    try:
        written = yield new_op(Put, (key, stored, ttl, delta, tags, token, mode, soft))
        if token and not written:
            yield Release(key, token)  # a write that did not land must not hold the lease
            return _REFUSED
    except SerializationError as exc:
        if token:
            yield Release(key, token)  # kept in L1 only: the shared tier has nothing coming
        plan.warn_once(
            "serialize",
            f"{plan.name}: its result cannot be stored in Redis ({exc}); it stays in "
            "this process's L1 only. Return a value the serializer supports, or "
            "configure a secret= so pickle can be used.",
        )
    return True
