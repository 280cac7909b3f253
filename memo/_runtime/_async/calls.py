"""Core's call paths that do I/O, in one colour (the async one is the source: scripts/unasync.py).

Core (`_runtime/core.py`) adds them to its colour-free part (options, keys, store binding).
Each method reaches the store through a policy flow and the driver of the same colour.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from memo._clock import CLOCK
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.flows import Flow, Remove, hit, miss_flow, refresh_flow, write_flow
from memo._runtime import observe
from memo._runtime._async.drivers import advance_async, run_async
from memo._runtime.disabled import ACTIVE, is_disabled
from memo._runtime.observe import OBSERVERS
from memo._runtime.pending import COMPUTE, Pending

if TYPE_CHECKING:  # a base for the type checker only: core.py imports this module
    from memo._runtime.core import CoreBase
else:
    CoreBase = object

__all__ = ["AsyncCalls"]


class AsyncCalls(CoreBase):
    """call / refresh / write / invalidate / invalidate_all of a Core, in one colour."""

    __slots__ = ()

    async def acall(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        local: Hashable | None = None,
        values: tuple[Any, ...] = (),
    ) -> Any:
        """A call that the hit path did not answer (with its key when the hit path made one)."""
        run = await self.astart(args, kwargs, local, values)
        if type(run) is not Pending:
            return run
        step = run.step
        while step is COMPUTE:  # the hit path of wrapper.py has this loop in its own frame
            start = time.perf_counter()
            try:
                value = await self.function(*args, **kwargs)
            except BaseException as exc:
                step = await self.aresume(run, None, exc)
            else:
                step = await self.aresume(run, (value, time.perf_counter() - start))
        return step

    async def astart(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        local: Hashable | None = None,
        values: tuple[Any, ...] = (),
    ) -> Any:
        """The value of a call found in a tier, else its Pending miss, advanced to the point
        where it needs the function (or done: `step` is then the value)."""
        if ACTIVE[0] and is_disabled():  # one list read while no block is open anywhere
            return Pending(None, None, self.function)
        if local is not None and self.keys.keep is None:
            normalised = values  # the hit path's values are every parameter's, in order
        else:
            normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values, local)
        if self.plan.adaptive is not None:
            self.plan.adaptive.observe(key.local)
        # The lookup is the one step every call makes: done here, in this colour, so a hit
        # does not pay for the policy generator; the policy starts at the miss.
        # While misses prevail, Redis is left to the policy's Fetch (entry or lease, one
        # round trip).
        plan = self.plan
        fetch = plan.fetch_first
        # A lookup of L1 alone would repeat the hit path's (which passed `local`); the
        # leader's Fetch looks there again anyway, after its election.
        looked = local is not None and self.l1_looked and (fetch or self.l1_only)
        entry = None if looked else await self.store.aget(key, local_only=fetch)
        if entry is not None:
            if plan.refreshes:
                now = CLOCK.monotonic()
                if plan.due(entry, now):
                    self.refresh_later(args, kwargs, key, normalised, entry=entry, now=now)
            return hit(plan, entry)
        run = Pending(
            miss_flow(plan, key, normalised, not fetch),
            key,
            self.function,
            args,
            kwargs,
        )
        if OBSERVERS:
            run.observed = observe.start(self.plan.name, key)
        run.step = await self.aresume(run)
        return run

    async def aresume(
        self, run: Pending, result: Any = None, error: BaseException | None = None
    ) -> Any:
        """Hand the function's (result, seconds) or error to a pending miss; its next step."""
        if run.flow is None:  # disabled: the function's own answer, nothing stored
            if error is not None:
                raise error
            return result[0]
        try:
            step = await advance_async(
                run.flow, self.store, run.call, self.task_flights, result=result, error=error
            )
        except BaseException as exc:
            self.ended(run, exc)
            raise
        if step is not COMPUTE and (run.observed is not None or trace.current() is not None):
            self.ended(run, None)  # (no call while nothing is open: the common miss)
        return step

    async def arefresh(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Recompute, store and return."""
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        return await self._arun(refresh_flow(self.plan, key, normalised), key, args, kwargs)

    async def awrite(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], value: Any) -> None:
        """Make value the entry of this call (a write-through), in every tier and process."""
        if is_disabled():
            return
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        await self._arun(write_flow(self.plan, key, normalised, value), key)

    async def ainvalidate(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Remove one call's entry; True if one was there."""
        key = self.key_for(self.keys.values(args, kwargs))
        return bool(await self._arun(_remove_flow(key), key))

    async def ainvalidate_all(self) -> None:
        """Forget every entry of this function: a fresh L1 token, a new shared generation."""
        self._new_token()
        await self.store.abump_generation(self.keys.generation_name)

    async def _arun(self, flow: Flow, key: CacheKey, args: Any = (), kwargs: Any = None) -> Any:
        function, kw = self.function, kwargs or {}
        try:
            return await run_async(
                flow, self.store, lambda: function(*args, **kw), self.task_flights
            )
        finally:
            if error := trace.close(key):  # a tier degraded on this call: counted, never raised
                self.plan.stats.error(error)


def _remove_flow(key: CacheKey) -> Flow:
    return (yield Remove(key))
