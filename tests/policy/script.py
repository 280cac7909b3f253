"""Run a policy flow against a scripted fake store: no threads, no sockets, no sleeping.

A script is the list of operations the flow is expected to yield, in order, each with the
reply the fake store gives (or an exception it throws into the flow):

    ops = Script(
        step(Lead, LEAD),
        step(Lookup, None, local_only=True),
        step(Claim, True),
        step(Compute, ("v", 0.5)),
        step(Put, True, mode="fill"),
        step(Land, None),
    ).run(miss_flow(plan, key, ()))

`step(kind, reply, **fields)` also checks the operation's fields; `Raise(exc)` as a reply
throws exc into the flow, the way the drivers hand over a store's or the function's error.
A `Wait` takes its whole timeout on the fake clock given to the script (nobody fills the key
while it waits), so lock_timeout is reached without sleeping.

Any mismatch fails with the step's number and what the flow did instead: an operation of
another type or with other fields, the flow returning or raising before the script's end,
or yielding past it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from memo._keys.key import CacheKey, LazyCacheKey
from memo._policy.operations import Wait
from memo.testing import FakeClock

__all__ = ["Raise", "Script", "Step", "cache_key", "step"]


@dataclass(frozen=True)
class Raise:
    """A reply that throws error into the flow instead of sending a result."""

    error: BaseException


@dataclass(frozen=True)
class Step:
    """One expected operation: its type, the fields it must carry, and the store's reply."""

    kind: type
    reply: Any = None
    fields: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The step as the failure messages show it, e.g. `Lookup(local_only=True)`."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.fields.items())
        return f"{self.kind.__name__}({shown})"


def step(kind: type, reply: Any = None, /, **fields: Any) -> Step:
    """Expect an operation of type kind whose fields equal fields; answer it with reply."""
    return Step(kind, reply, fields)


def cache_key(name: str = "k") -> CacheKey:
    """A key as a decorated function builds it: its L1 name, and its Redis name on demand."""
    return LazyCacheKey((name,), lambda _local, _values: f"memo:test:f:v1:{{{name}}}", ())


class Script:
    """The operations a flow must yield, with the fake store's replies; `run()` plays it."""

    def __init__(self, *steps: Step | tuple[type, Any], clock: FakeClock | None = None) -> None:
        self.steps = [s if isinstance(s, Step) else Step(s[0], s[1]) for s in steps]
        self.clock = clock
        self.ops: list[Any] = []  # every operation the flow yielded, in order

    def run(self, flow: Generator[Any, Any, Any]) -> Any:
        """Play the script against flow: its return value, or the exception it raised once the
        whole script was played. Any departure from the script fails with an AssertionError."""
        reply: Any = None
        for number, expected in enumerate(self.steps, 1):
            try:
                op = flow.throw(reply.error) if isinstance(reply, Raise) else flow.send(reply)
            except StopIteration as stop:
                self._fail(number, f"the flow returned {stop.value!r}")
            except BaseException as exc:
                raise AssertionError(self._message(number, f"the flow raised {exc!r}")) from exc
            self.ops.append(op)
            self._check(number, expected, op)
            if self.clock is not None and isinstance(op, Wait):
                self.clock.advance(op.timeout)
            reply = expected.reply
        try:
            op = flow.throw(reply.error) if isinstance(reply, Raise) else flow.send(reply)
        except StopIteration as stop:
            return stop.value
        self.ops.append(op)
        raise AssertionError(f"the script has ended, but the flow went on with {op!r}")

    def _check(self, number: int, expected: Step, op: Any) -> None:
        if type(op) is not expected.kind:
            self._fail(number, f"the flow yielded {op!r}")
        wrong = {
            name: getattr(op, name, "<missing>")
            for name, value in expected.fields.items()
            if getattr(op, name, "<missing>") != value
        }
        if wrong:
            self._fail(number, f"the flow yielded {op!r}, which has {wrong}")

    def _message(self, number: int, happened: str) -> str:
        expected = ", ".join(s.describe() for s in self.steps[number - 1 :])
        return f"step {number} of {len(self.steps)}: {happened}; the script expected {expected}"

    def _fail(self, number: int, happened: str) -> NoReturn:
        raise AssertionError(self._message(number, happened))
