"""background_flow against a scripted store: one refresh per key, a failure keeps the entry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from memo._errors import SerializationError
from memo._policy.entry import Entry
from memo._policy.flows import Claim, Compute, Lookup, Put, Release, background_flow
from memo._policy.plan import Plan
from tests.policy.script import Raise, Script, cache_key, step

KEY = cache_key()
SEEN = 1_000.0  # the expiry of the entry whose hit started the refresh


def _plan() -> Plan:
    return Plan(name="f()", ttl=10.0, refresh_at=0.5)


def test_a_refresh_takes_the_lease_recomputes_and_writes_under_it() -> None:
    """Claim, a fresh Lookup of the same entry, Compute, Put with the token; counted once."""
    plan = _plan()
    script = Script(
        step(Claim, True, key=KEY),
        step(Lookup, Entry("old", expires=SEEN), key=KEY, fresh=True, local_only=False),
        step(Compute, ("new", 0.5)),
        step(Put, True, value="new", ttl=10.0, soft=5.0, mode="set"),
    )
    assert script.run(background_flow(plan, KEY, (), SEEN)) is None
    assert script.ops[3].token == script.ops[0].token != ""
    assert (plan.stats.refreshes, plan.stats.misses, plan.stats.compute_time) == (1, 0, 0.5)


@pytest.mark.parametrize("claimed", [False, None], ids=["held elsewhere", "no answer"])
def test_a_refresh_whose_lease_is_not_won_does_nothing(claimed: bool | None) -> None:
    """Claim False (another process refreshes) or None (Redis silent): no compute, no write."""
    plan = _plan()
    script = Script(step(Claim, claimed))
    assert script.run(background_flow(plan, KEY, (), SEEN)) is None
    assert (plan.stats.refreshes, plan.stats.errors) == (0, 0)


def test_an_entry_refreshed_meanwhile_is_left_and_the_lease_released() -> None:
    """A later expiry than the hit saw: another process refreshed it; Release, no compute."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, Entry("newer", expires=SEEN + 10.0)),
        step(Release, None),
    )
    assert script.run(background_flow(plan, KEY, (), SEEN)) is None
    assert script.ops[2].token == script.ops[0].token
    assert plan.stats.refreshes == 0


def test_the_same_entry_seen_through_another_tier_is_still_refreshed() -> None:
    """An expiry within the tiers' rounding of the one seen is the same entry: it refreshes."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, Entry("old", expires=SEEN + 0.005)),
        step(Compute, ("new", 0.0)),
        step(Put, True),
    )
    script.run(background_flow(plan, KEY, (), SEEN))
    assert plan.stats.refreshes == 1


def test_an_entry_gone_meanwhile_is_recomputed() -> None:
    """The fresh Lookup finds nothing (expired or deleted): the refresh computes and writes."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, None),
        step(Compute, ("new", 0.0)),
        step(Put, True),
    )
    script.run(background_flow(plan, KEY, (), SEEN))
    assert plan.stats.refreshes == 1


def test_a_failed_refresh_keeps_the_entry_releases_the_lease_and_counts_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Compute raising: no write or delete, Release, one error by class, one log line."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, Entry("old", expires=SEEN)),
        step(Compute, Raise(ValueError("backend down"))),
        step(Release, None),
    )
    with caplog.at_level(logging.WARNING, logger="memo"):
        assert script.run(background_flow(plan, KEY, (), SEEN)) is None
    assert script.ops[3].token == script.ops[0].token
    assert (plan.stats.refreshes, plan.stats.errors) == (0, 1)
    assert plan.stats.errors_by_class == {"ValueError": 1}
    assert "background refresh failed" in caplog.text
    assert "the cached value is kept" in caplog.text


def test_a_second_failed_refresh_is_counted_but_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each failure counts an error; the log line comes the first time only."""
    plan = _plan()
    with caplog.at_level(logging.WARNING, logger="memo"):
        for _ in range(2):
            Script(
                step(Claim, True),
                step(Lookup, None),
                step(Compute, Raise(KeyError("gone"))),
                step(Release, None),
            ).run(background_flow(plan, KEY, (), SEEN))
    assert plan.stats.errors_by_class == {"KeyError": 2}
    assert caplog.text.count("background refresh failed") == 1


def test_a_cancelled_refresh_releases_the_lease_and_propagates() -> None:
    """A CancelledError in compute: Release, then the cancellation goes on; no error counted."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, None),
        step(Compute, Raise(asyncio.CancelledError())),
        step(Release, None),
    )
    with pytest.raises(asyncio.CancelledError):
        script.run(background_flow(plan, KEY, (), SEEN))
    assert (plan.stats.refreshes, plan.stats.errors) == (0, 0)


def test_a_refresh_whose_write_did_not_land_releases_the_lease() -> None:
    """Put answering False: the lease is given back; the refresh still counts."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, None),
        step(Compute, ("new", 0.0)),
        step(Put, False),
        step(Release, None),
    )
    script.run(background_flow(plan, KEY, (), SEEN))
    assert script.ops[4].token == script.ops[0].token
    assert plan.stats.refreshes == 1


def test_a_refreshed_value_that_cannot_be_serialized_warns_and_releases() -> None:
    """SerializationError from Put: a RuntimeWarning and Release, no error counted."""
    plan = _plan()
    script = Script(
        step(Claim, True),
        step(Lookup, None),
        step(Compute, ("new", 0.0)),
        step(Put, Raise(SerializationError("no"))),
        step(Release, None),
    )
    with pytest.warns(RuntimeWarning, match="cannot be stored in Redis"):
        script.run(background_flow(plan, KEY, (), SEEN))
    assert (plan.stats.refreshes, plan.stats.errors) == (1, 0)
