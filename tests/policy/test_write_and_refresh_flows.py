"""refresh_flow, write_flow, hit() and prepare() against a scripted store."""

from __future__ import annotations

import pytest

from memo._errors import SerializationError
from memo._policy.entry import Entry, RemoteEntry
from memo._policy.flows import Compute, Put, Remove, hit, prepare, refresh_flow, write_flow
from memo._policy.plan import Plan
from tests.policy.script import Raise, Script, cache_key, step

KEY = cache_key()


def test_refresh_flow_recomputes_writes_and_counts_a_refresh() -> None:
    """refresh_flow: Compute and a plain Put whatever the store holds; refreshes, not misses."""
    plan = Plan(name="f()", ttl=30.0)
    script = Script(
        step(Compute, ("new", 0.5)),
        step(Put, True, key=KEY, value="new", ttl=30.0, delta=0.5, token="", mode="set"),
    )
    assert script.run(refresh_flow(plan, KEY, ())) == "new"
    assert (plan.stats.refreshes, plan.stats.misses, plan.stats.compute_time) == (1, 0, 0.5)


def test_refresh_flow_passes_the_functions_error_on() -> None:
    """refresh_flow with a compute that raises: nothing written, the error reaches the caller."""
    plan = Plan(name="f()", ttl=30.0)
    script = Script(step(Compute, Raise(ValueError("boom"))))
    with pytest.raises(ValueError, match="boom"):
        script.run(refresh_flow(plan, KEY, ()))
    assert plan.stats.refreshes == 1


def test_write_flow_puts_the_value_as_the_calls_entry() -> None:
    """write_flow: one Put with mode "set", no lease, no compute time; nothing removed."""
    plan = Plan(name="f()", ttl=30.0, tags=lambda args: (f"id:{args[0]}",))
    script = Script(step(Put, True, value="v", ttl=30.0, delta=0.0, tags=("id:3",), token=""))
    assert script.run(write_flow(plan, KEY, (3,), "v")) is None
    assert plan.stats.misses == 0


def test_write_flow_of_a_refused_value_removes_the_entry() -> None:
    """A value condition= refuses is not written: the stale entry is removed instead."""
    plan = Plan(name="f()", ttl=30.0, condition=lambda value: value != "bad")
    script = Script(step(Remove, True, key=KEY))
    assert script.run(write_flow(plan, KEY, (), "bad")) is None


def test_write_flow_of_none_without_cache_none_removes_the_entry() -> None:
    """cache_none=False: writing None removes the entry rather than caching None."""
    plan = Plan(name="f()", ttl=30.0, cache_none=False)
    script = Script(step(Remove, False))
    assert script.run(write_flow(plan, KEY, (), None)) is None


def test_write_flow_that_did_not_land_removes_nothing() -> None:
    """A Put answering False (nothing to release without a lease) ends the write."""
    plan = Plan(name="f()", ttl=30.0)
    script = Script(step(Put, False))
    assert script.run(write_flow(plan, KEY, (), "v")) is None


def test_write_flow_of_an_unserializable_value_warns_and_keeps_it_in_l1() -> None:
    """SerializationError from Put: a RuntimeWarning; the entry is not removed."""
    plan = Plan(name="f()", ttl=30.0)
    script = Script(step(Put, Raise(SerializationError("no"))))
    with pytest.warns(RuntimeWarning, match="stays in this process's L1 only"):
        script.run(write_flow(plan, KEY, (), "v"))


def test_hit_counts_l1_and_l2_hits_by_tier() -> None:
    """hit() counts a local entry as an L1 hit and a RemoteEntry as an L2 hit."""
    plan = Plan(name="f()", ttl=30.0)
    assert hit(plan, Entry("local", expires=2e6)) == "local"
    assert hit(plan, Entry("local", expires=2e6)) == "local"
    assert hit(plan, RemoteEntry("shared", expires=2e6, delta=0.0, created=1.0)) == "shared"
    assert (plan.stats.l1_hits, plan.stats.l2_hits, plan.stats.misses) == (2, 1, 0)
    assert plan.stats.hit_rate == 1.0


def test_hit_hands_out_a_fresh_copy_with_l1_copy() -> None:
    """With l1_copy, each hit unpickles its own copy of the stored bytes."""
    plan = Plan(name="f()", ttl=30.0, l1_copy=True)
    stored = plan.pack({"a": [1]})
    first, second = hit(plan, Entry(stored, 2e6)), hit(plan, Entry(stored, 2e6))
    assert first == second == {"a": [1]}
    assert first is not second


def test_prepare_gives_what_a_batch_write_stores() -> None:
    """prepare(): (key, packed value, ttl, delta, tags, soft) for a value the options keep."""
    plan = Plan(name="f()", ttl=10.0, refresh_at=0.8, tags=lambda args: ("t",))
    assert prepare(plan, KEY, (1,), "v", 0.25) == (KEY, "v", 10.0, 0.25, ("t",), 8.0)


def test_prepare_skips_what_the_options_refuse() -> None:
    """prepare(): None for a value condition= or cache_none=False refuses."""
    assert prepare(Plan(name="f()", ttl=1.0, condition=lambda v: False), KEY, (), 1, 0.0) is None
    assert prepare(Plan(name="f()", ttl=1.0, cache_none=False), KEY, (), None, 0.0) is None


def test_prepare_skips_an_unpicklable_value_with_l1_copy() -> None:
    """prepare() with l1_copy and a value pickle refuses: None, after one RuntimeWarning."""
    plan = Plan(name="f()", ttl=1.0, l1_copy=True)
    with pytest.warns(RuntimeWarning, match="cannot pickle"):
        assert prepare(plan, KEY, (), lambda: None, 0.0) is None
