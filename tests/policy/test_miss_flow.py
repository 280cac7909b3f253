"""miss_flow against a scripted store: single-flight, the lease, waiting, failures, counters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from memo._errors import SerializationError
from memo._policy.entry import Entry, RemoteEntry
from memo._policy.flows import (
    LEAD,
    Claim,
    Compute,
    Fetch,
    Land,
    Lead,
    Lookup,
    Outcome,
    Put,
    Release,
    Wait,
    miss_flow,
)
from memo._policy.operations import REENTERED
from memo._policy.plan import L1Copy, Plan
from memo.testing import FakeClock
from tests.policy.script import Raise, Script, cache_key, step

KEY = cache_key()


def _plan(**options: Any) -> Plan:
    options.setdefault("ttl", 60.0)
    return Plan(name="f()", **options)


def _claim_token(script: Script) -> str:
    """The token of the flow's first Fetch (the lease it asked for with the lookup)."""
    claims = [op for op in script.ops if isinstance(op, Fetch)]
    assert claims, "the flow never claimed a lease"
    token: str = claims[0].token
    return token


# -- the leader ------------------------------------------------------------------------------


def test_a_leader_claims_computes_stores_under_its_lease_and_lands_the_value(
    clock: FakeClock,
) -> None:
    """The leader looks in L1 only, claims the lease, computes, writes with its token, lands."""
    plan = _plan(lock_timeout=5.0)
    script = Script(
        step(Lead, LEAD, key=KEY, timeout=5.0),
        step(Fetch, (None, True), key=KEY),
        step(Compute, ("value", 0.25)),
        step(Put, True, key=KEY, value="value", ttl=60.0, delta=0.25, mode="fill", soft=None),
        step(Land, None, key=KEY),
        clock=clock,
    )
    assert script.run(miss_flow(plan, KEY, ())) == "value"
    token = _claim_token(script)
    put, land = script.ops[3], script.ops[4]
    assert token and put.token == token
    assert land.outcome.value == "value" and land.outcome.error is None
    assert (plan.stats.misses, plan.stats.waits, plan.stats.compute_time) == (1, 0, 0.25)


def test_a_leader_whose_value_landed_in_l1_meanwhile_hands_it_on_without_computing() -> None:
    """An entry found by the leader's L1 look is landed and returned, counted as a wait."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (Entry("stored", expires=2e6), None)),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "stored"
    assert script.ops[-1].outcome.value == "stored"
    assert (plan.stats.misses, plan.stats.waits) == (1, 1)


def test_the_tags_and_refresh_deadline_travel_with_the_put() -> None:
    """Put carries the tags of the arguments and the soft deadline of refresh-ahead. A tagged
    miss looks, then claims under its tags (they must hold the key before its lease, the
    invalidate_tag fence), instead of the one-step Fetch."""
    plan = _plan(ttl=10.0, refresh_at=0.5, tags=lambda args: (f"user:{args[0]}",))
    script = Script(
        step(Lead, LEAD),
        step(Lookup, None, local_only=True),
        step(Claim, True, tags=("user:7",)),
        step(Compute, ("v", 0.0)),
        step(Put, True, ttl=10.0, soft=5.0, tags=("user:7",)),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, (7,))) == "v"


def test_with_l1_copy_the_store_gets_a_pickled_copy_and_callers_get_the_value() -> None:
    """l1_copy: Put holds the pickled copy (an L1Copy: L1 keeps it, the Redis tier restores
    the value before encoding it); the caller and the followers get the object."""
    plan = _plan(l1_copy=True)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, ([1, 2], 0.0)),
        step(Put, True),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == [1, 2]
    assert isinstance(script.ops[3].value, L1Copy)
    assert script.ops[3].value.restore() == [1, 2]
    assert script.ops[4].outcome.value == [1, 2]


# -- followers and flights ------------------------------------------------------------------


def test_a_follower_adopts_the_leaders_outcome() -> None:
    """A follower handed an Outcome returns its value: no lookup, no lease, no compute."""
    plan = _plan()
    script = Script(step(Lead, Outcome("from the leader")))
    assert script.run(miss_flow(plan, KEY, ())) == "from the leader"
    assert (plan.stats.misses, plan.stats.waits) == (1, 1)


def test_a_follower_re_raises_the_leaders_exception() -> None:
    """A follower handed a failed Outcome raises the leader's own exception object."""
    plan = _plan()
    error = ValueError("the leader failed")
    script = Script(step(Lead, Outcome(error=error)))
    with pytest.raises(ValueError) as info:
        script.run(miss_flow(plan, KEY, ()))
    assert info.value is error
    assert (plan.stats.misses, plan.stats.waits) == (1, 1)


def test_a_follower_whose_leader_was_too_slow_computes_alone() -> None:
    """Lead answering None: the follower computes and writes plainly, without a lease."""
    plan = _plan()
    script = Script(
        step(Lead, None),
        step(Compute, ("mine", 0.0)),
        step(Put, True, token="", mode="fill"),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "mine"
    assert (plan.stats.misses, plan.stats.waits) == (1, 1)


def test_a_caller_re_entering_its_own_flight_computes_without_waiting_on_itself() -> None:
    """Lead answering REENTERED: compute and write at once, no lease and no wait counted."""
    plan = _plan()
    script = Script(
        step(Lead, REENTERED),
        step(Compute, ("inner", 0.0)),
        step(Put, True, token="", mode="fill"),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "inner"
    assert (plan.stats.misses, plan.stats.waits) == (1, 0)


def test_without_lock_a_miss_computes_and_writes_at_once() -> None:
    """lock=False: no flight, no lease; Compute then a Put that ends no lease either."""
    plan = _plan(lock=False)
    script = Script(
        step(Compute, ("v", 0.5)),
        step(Put, True, key=KEY, token="", mode="unlocked", delta=0.5),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "v"
    assert (plan.stats.misses, plan.stats.waits, plan.stats.compute_time) == (1, 0, 0.5)


# -- the lease across processes --------------------------------------------------------------


def test_without_a_shared_tier_the_leader_writes_a_fill_without_token() -> None:
    """Fetch answering (None, None) (no L2): compute, write a miss's fill, no token."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, None)),
        step(Compute, ("v", 0.0)),
        step(Put, True, token="", mode="fill"),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "v"


def test_a_lease_held_elsewhere_is_waited_for_and_the_holders_value_returned(
    clock: FakeClock,
) -> None:
    """Lease held elsewhere: Wait, then a Fetch finds the holder's value; nothing computed."""
    plan = _plan(lock_timeout=5.0)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, False)),
        step(Wait, None, key=KEY, timeout=1.0),
        step(Fetch, (Entry("theirs", expires=2e6), None)),
        step(Land, None),
        clock=clock,
    )
    assert script.run(miss_flow(plan, KEY, ())) == "theirs"
    assert script.ops[-1].outcome.value == "theirs"
    assert (plan.stats.misses, plan.stats.waits) == (1, 1)


def test_a_lease_freed_while_waiting_is_taken_and_the_value_computed(clock: FakeClock) -> None:
    """Held, then nothing stored and the lease free: the same Fetch took it; compute under it
    (the look and the claim are one step, so no second look is needed)."""
    plan = _plan(lock_timeout=5.0)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, False)),
        step(Wait, None),
        step(Fetch, (None, True)),
        step(Compute, ("v", 0.0)),
        step(Put, True, mode="fill"),
        step(Land, None),
        clock=clock,
    )
    assert script.run(miss_flow(plan, KEY, ())) == "v"
    token = _claim_token(script)
    assert script.ops[3].token == token and script.ops[5].token == token
    assert plan.stats.waits == 0


def test_a_leader_that_finds_the_entry_in_the_shared_tier_lands_a_hit() -> None:
    """looked=False (the caller's lookup left Redis to the leader): an entry the Fetch finds
    there is an L2 hit, landed as found so that followers count hits too."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (RemoteEntry("shared", 2e6, 0.0, 0.0), None)),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, (), False)) == "shared"
    assert script.ops[-1].outcome.found
    assert (plan.stats.l2_hits, plan.stats.misses, plan.stats.waits) == (1, 0, 0)
    follower = _plan()
    assert Script(step(Lead, script.ops[-1].outcome)).run(miss_flow(follower, KEY, ())) == (
        "shared"
    )
    assert (follower.stats.l2_hits, follower.stats.misses) == (1, 0)


def test_an_entry_stored_in_the_shared_tier_after_the_callers_lookup_is_a_wait() -> None:
    """looked=True (the caller already missed in Redis): an entry its Fetch finds there was
    stored meanwhile by another caller, so it counts as a miss served by a wait."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (RemoteEntry("theirs", 2e6, 0.0, 0.0), None)),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, (), True)) == "theirs"
    assert not script.ops[-1].outcome.found
    assert (plan.stats.l2_hits, plan.stats.misses, plan.stats.waits) == (0, 1, 1)


def test_waiting_past_lock_timeout_computes_but_never_overwrites(clock: FakeClock) -> None:
    """The holder never stores: after lock_timeout the caller computes and writes with "nx"."""
    plan = _plan(lock_timeout=2.0)
    start = clock.monotonic()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, False)),
        step(Wait, None, timeout=1.0),
        step(Fetch, (None, False)),
        step(Wait, None, timeout=1.0),
        step(Fetch, (None, False)),
        step(Compute, ("mine", 0.0)),
        step(Put, True, token="", mode="nx"),
        step(Land, None),
        clock=clock,
    )
    assert script.run(miss_flow(plan, KEY, ())) == "mine"
    assert clock.monotonic() - start == 2.0
    assert not any(isinstance(op, Release) for op in script.ops)


def test_the_last_wait_is_cut_to_the_time_left(clock: FakeClock) -> None:
    """lock_timeout=1.5: a wait of 1 s, then one of the 0.5 s left, then compute with "nx"."""
    plan = _plan(lock_timeout=1.5)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, False)),
        step(Wait, None, timeout=1.0),
        step(Fetch, (None, False)),
        step(Wait, None, timeout=0.5),
        step(Fetch, (None, False)),
        step(Compute, ("mine", 0.0)),
        step(Put, True, mode="nx"),
        step(Land, None),
        clock=clock,
    )
    assert script.run(miss_flow(plan, KEY, ())) == "mine"


def test_a_put_that_did_not_land_releases_the_lease() -> None:
    """Put answering False with a token: the lease is given back and the value returned to
    this caller; followers get no outcome (an invalidation may have ended the lease, and a
    follower may have come after it), so they compute for themselves."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, ("v", 0.0)),
        step(Put, False),
        step(Release, None),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "v"
    assert script.ops[4].token == _claim_token(script)
    assert script.ops[5].outcome is None


def test_a_put_that_did_not_land_without_a_lease_releases_nothing() -> None:
    """Put answering False with no token (no L2): there is no lease to give back."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, None)),
        step(Compute, ("v", 0.0)),
        step(Put, False, token=""),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == "v"


# -- failures --------------------------------------------------------------------------------


def test_a_compute_that_raises_releases_the_lease_and_lands_the_error() -> None:
    """The function's exception: Release, Land with that error for followers, then re-raised."""
    plan = _plan()
    error = ValueError("boom")
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, Raise(error)),
        step(Release, None),
        step(Land, None),
    )
    with pytest.raises(ValueError) as info:
        script.run(miss_flow(plan, KEY, ()))
    assert info.value is error
    assert script.ops[3].token == _claim_token(script)
    assert script.ops[4].outcome is not None and script.ops[4].outcome.error is error


@pytest.mark.parametrize("error", [asyncio.CancelledError(), KeyboardInterrupt()])
def test_a_cancelled_compute_releases_the_lease_and_lets_followers_compute(
    error: BaseException,
) -> None:
    """A BaseException in compute: Release, Land(None) so followers compute alone, re-raised."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, Raise(error)),
        step(Release, None),
        step(Land, None, outcome=None),
    )
    with pytest.raises(type(error)) as info:
        script.run(miss_flow(plan, KEY, ()))
    assert info.value is error


def test_a_compute_that_raises_without_a_lease_releases_nothing() -> None:
    """Fetch with no lease (None): the error lands for followers and is re-raised, no Release."""
    plan = _plan()
    error = RuntimeError("no L2 and a failure")
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, None)),
        step(Compute, Raise(error)),
        step(Land, None),
    )
    with pytest.raises(RuntimeError):
        script.run(miss_flow(plan, KEY, ()))
    assert script.ops[-1].outcome.error is error


# -- results that are not stored ---------------------------------------------------------------


def test_a_result_rejected_by_condition_is_returned_not_stored_and_the_lease_freed() -> None:
    """condition= refusing the result: no Put, the lease released, the value still landed."""
    plan = _plan(condition=lambda value: value > 0)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, (-1, 0.0)),
        step(Release, None),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) == -1
    assert script.ops[3].token == _claim_token(script)
    assert script.ops[4].outcome.value == -1


def test_a_none_result_is_not_stored_when_cache_none_is_off() -> None:
    """cache_none=False: a None result is returned and landed, never Put; the lease freed."""
    plan = _plan(cache_none=False)
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, (None, 0.0)),
        step(Release, None),
        step(Land, None),
    )
    assert script.run(miss_flow(plan, KEY, ())) is None


def test_a_rejected_result_without_a_lease_just_returns() -> None:
    """lock=False and condition= refusing: Compute, and nothing else."""
    plan = _plan(lock=False, condition=lambda value: False)
    script = Script(step(Compute, ("v", 0.0)))
    assert script.run(miss_flow(plan, KEY, ())) == "v"


def test_a_result_none_gets_none_ttl() -> None:
    """none_ttl: a None result is written with its own, shorter TTL."""
    plan = _plan(lock=False, none_ttl=5.0)
    script = Script(step(Compute, (None, 0.0)), step(Put, True, value=None, ttl=5.0))
    assert script.run(miss_flow(plan, KEY, ())) is None


def test_an_unserializable_result_warns_stays_in_l1_and_frees_the_lease() -> None:
    """SerializationError from Put: one RuntimeWarning, the lease released, the value landed."""
    plan = _plan()
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, ("v", 0.0)),
        step(Put, Raise(SerializationError("no serializer for it"))),
        step(Release, None),
        step(Land, None),
    )
    with pytest.warns(RuntimeWarning, match="cannot be stored in Redis"):
        assert script.run(miss_flow(plan, KEY, ())) == "v"
    assert script.ops[4].token == _claim_token(script)
    assert script.ops[5].outcome.value == "v"


def test_an_unpicklable_result_with_l1_copy_warns_and_frees_the_lease() -> None:
    """l1_copy with a result pickle refuses: a RuntimeWarning, no Put, the lease released."""
    plan = _plan(l1_copy=True)
    result = lambda: None  # noqa: E731 - pickle refuses a lambda
    script = Script(
        step(Lead, LEAD),
        step(Fetch, (None, True)),
        step(Compute, (result, 0.0)),
        step(Release, None),
        step(Land, None),
    )
    with pytest.warns(RuntimeWarning, match="l1_copy=True cannot pickle"):
        assert script.run(miss_flow(plan, KEY, ())) is result


def test_every_miss_is_counted_whoever_computes() -> None:
    """misses counts each call of miss_flow; waits only the calls served by another's compute."""
    plan = _plan()
    Script(step(Lead, Outcome("v"))).run(miss_flow(plan, KEY, ()))
    Script(
        step(Lead, LEAD),
        step(Fetch, (None, None)),
        step(Compute, ("v", 0.5)),
        step(Put, True),
        step(Land, None),
    ).run(miss_flow(plan, KEY, ()))
    Script(step(Lead, REENTERED), step(Compute, ("v", 0.25)), step(Put, True)).run(
        miss_flow(plan, KEY, ())
    )
    assert (plan.stats.misses, plan.stats.waits, plan.stats.compute_time) == (3, 1, 0.75)
    assert (plan.stats.l1_hits, plan.stats.l2_hits, plan.stats.refreshes) == (0, 0, 0)
