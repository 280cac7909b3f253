"""The scripted store itself: a flow that departs from its script fails, saying where."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from memo._policy.flows import Claim, Compute, Lookup, Put, Release, Wait
from memo.testing import FakeClock
from tests.policy.script import Raise, Script, cache_key, step

KEY = cache_key()


def _flow() -> Generator[Any, Any, Any]:
    found = yield Lookup(KEY, local_only=True)
    if found == "stop":
        return "stopped"
    value, _ = yield Compute()
    yield Put(KEY, value, 1.0, 0.0, ())
    return value


def test_a_played_script_gives_the_return_value_and_the_operations() -> None:
    """run() returns the flow's value; ops lists what it yielded, in order."""
    script = Script(step(Lookup, None), (Compute, ("v", 0.0)), step(Put, True, value="v"))
    assert script.run(_flow()) == "v"
    assert [type(op) for op in script.ops] == [Lookup, Compute, Put]


def test_an_operation_of_another_type_fails_naming_the_step() -> None:
    """The flow yielding Compute where the script expects Claim fails at that step."""
    script = Script(step(Lookup, None), step(Claim, True))
    with pytest.raises(AssertionError, match=r"step 2 of 2: the flow yielded Compute\(\)"):
        script.run(_flow())


def test_a_field_that_differs_fails_showing_it() -> None:
    """A field the script pins (local_only) that the operation does not carry fails."""
    script = Script(step(Lookup, None, local_only=False))
    with pytest.raises(AssertionError, match=r"step 1 of 1: .*\{'local_only': True\}"):
        script.run(_flow())


def test_a_flow_returning_early_fails_listing_the_steps_left() -> None:
    """The flow returning before the script's end fails with the steps still expected."""
    script = Script(step(Lookup, "stop"), step(Compute, ("v", 0.0)), step(Put, True))
    with pytest.raises(AssertionError, match=r"step 2 of 3: the flow returned 'stopped'"):
        script.run(_flow())


def test_a_flow_going_past_the_script_fails() -> None:
    """The flow yielding after the last step fails with the operation it yielded."""
    script = Script(step(Lookup, None))
    with pytest.raises(AssertionError, match="the script has ended, but the flow went on"):
        script.run(_flow())


def test_a_flow_raising_early_fails_and_chains_the_error() -> None:
    """An exception out of the flow before the script's end is a mismatch, with its cause."""
    script = Script(step(Lookup, None), step(Compute, Raise(OSError("x"))), step(Put, True))
    with pytest.raises(AssertionError, match="step 3 of 3: the flow raised OSError") as info:
        script.run(_flow())
    assert isinstance(info.value.__cause__, OSError)


def test_a_wait_takes_its_timeout_on_the_fake_clock(clock: FakeClock) -> None:
    """A scripted Wait advances the script's fake clock by the Wait's timeout."""

    def waits() -> Generator[Any, Any, Any]:
        yield Wait(KEY, 0.75)
        yield Release(KEY, "t")

    start = clock.monotonic()
    Script(step(Wait, None), step(Release, None), clock=clock).run(waits())
    assert clock.monotonic() - start == 0.75
