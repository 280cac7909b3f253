"""A miss in progress, between its driver and the frame that calls the function.

The driver (`advance_*`) does a miss's store operations and stops when the policy needs the
function's result, answering COMPUTE. The caller then calls the function itself, from its
own frame, and resumes the driver with the result: a recursive cached function nests only
its own frame and memo's hit path per level (`fib(400)` fits the default recursion limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memo._keys.key import CacheKey
from memo._policy.flows import Flow

__all__ = ["COMPUTE", "Pending"]

COMPUTE: Any = object()  # the driver's answer when the flow needs the function (never a value)


class Pending:
    """One call's miss: its policy flow (None: memo is disabled, call through), its key,
    the function's call (a shared async run makes it), the observers' tokens, and `step`:
    COMPUTE while the function's result is awaited, then the call's value."""

    __slots__ = ("call", "flow", "key", "observed", "step")

    def __init__(
        self,
        flow: Flow | None,
        key: CacheKey | None,
        call: Callable[[], Any],
        observed: list[Any] | None = None,
    ) -> None:
        self.flow = flow
        self.key = key
        self.call = call
        self.observed = observed
        self.step: Any = COMPUTE
