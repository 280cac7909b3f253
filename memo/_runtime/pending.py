"""A miss in progress, between its driver and the frame that calls the function.

The driver (`advance_*`) does a miss's store operations and stops when the policy needs the
function's result, answering COMPUTE. The caller then calls the function itself, from its
own frame, and resumes the driver with the result: a recursive cached function nests only
its own frame and memo's hit path per level (`fib(400)` fits the default recursion limit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from memo._keys.key import CacheKey
from memo._policy.flows import Flow

__all__ = ["COMPUTE", "Pending"]

_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})
COMPUTE: Any = object()  # the driver's answer when the flow needs the function (never a value)


class Pending:
    """One call's miss: its policy flow (None: memo is disabled, call through), its key,
    the function and its arguments (`call()` runs them: a shared async run does), the
    observers' tokens, and `step`: COMPUTE while the function's result is awaited, then the
    call's value."""

    __slots__ = ("args", "flow", "function", "key", "kwargs", "observed", "step")

    def __init__(
        self,
        flow: Flow | None,
        key: CacheKey | None,
        function: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] = _NO_KWARGS,
    ) -> None:
        # The arguments are kept as they came, not wrapped in a partial: most misses never
        # need `call` (the caller's frame runs the function), and a partial costs each miss.
        self.flow = flow
        self.key = key
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.observed: list[Any] | None = None  # the observers' tokens, when any listen
        self.step: Any = COMPUTE

    def call(self) -> Any:
        """The function, called with the miss's arguments."""
        return self.function(*self.args, **self.kwargs)
