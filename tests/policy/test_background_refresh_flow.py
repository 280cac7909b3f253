"""background_flow decides "refreshed meanwhile" on the entry's expiry, never by chance."""

from __future__ import annotations

import random
from typing import Any

from memo._keys.key import CacheKey, LazyCacheKey
from memo._policy.entry import Entry
from memo._policy.flows import Claim, Compute, Lookup, Put, Release, background_flow
from memo._policy.plan import Plan


def _key() -> CacheKey:
    return LazyCacheKey(("k",), lambda _local, _values: "memo:t:f:v1:{k}", ())


def _drive(flow: Any, replies: list[tuple[type, Any]]) -> list[Any]:
    """Send each reply for the operation of the expected type; the operations seen."""
    seen: list[Any] = []
    op = next(flow)
    for kind, reply in replies:
        assert isinstance(op, kind), (op, kind)
        seen.append(op)
        try:
            op = flow.send(reply)
        except StopIteration:
            return seen
    raise AssertionError(f"the flow went on with {op!r}")


def test_an_early_refresh_that_was_started_lands_whatever_the_draw() -> None:
    """With XFetch, the re-check after the lease compares expiries: a started refresh always
    computes and writes when nobody refreshed meanwhile (no second roll of the dice)."""
    plan = Plan(name="f()", ttl=10.0, early_beta=1.0)
    seen_entry = Entry("old", expires=1_000.0, delta=0.001, soft=1_000.0)
    random.seed(0)
    for _ in range(50):
        ops = _drive(
            background_flow(plan, _key(), (), seen_entry.expires),
            [
                (Claim, True),
                (Lookup, seen_entry),  # the same entry: nobody refreshed it
                (Compute, ("new", 0.01)),
                (Put, True),
            ],
        )
        assert [type(op) for op in ops] == [Claim, Lookup, Compute, Put]
    assert plan.stats.refreshes == 50


def test_a_refresh_done_elsewhere_meanwhile_is_not_repeated() -> None:
    """An entry with a later expiry than the hit saw was refreshed: release, compute nothing."""
    plan = Plan(name="f()", ttl=10.0, refresh_at=0.5)
    newer = Entry("new", expires=1_008.0, soft=1_005.0)
    ops = _drive(
        background_flow(plan, _key(), (), 1_000.0),
        [(Claim, True), (Lookup, newer), (Release, None)],
    )
    assert [type(op) for op in ops] == [Claim, Lookup, Release]
    assert plan.stats.refreshes == 0
