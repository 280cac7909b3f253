"""Core's call paths that do I/O, in one colour (the async one is the source: scripts/unasync.py).

Core (`_runtime/core.py`) adds them to its colour-free part (options, keys, store binding).
Each method reaches the store through a policy flow and the driver of the same colour.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from memo._clock import CLOCK
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.flows import Flow, Remove, hit, miss_flow, refresh_flow, write_flow
from memo._runtime import observe
from memo._runtime._async.drivers import run_async
from memo._runtime.disabled import is_disabled
from memo._runtime.observe import OBSERVERS

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
        if is_disabled():
            return await self.function(*args, **kwargs)
        normalised, values = (
            (values, values) if local is not None else self.keys.split(args, kwargs)
        )
        key = self.key_for(values, local)
        if self.plan.adaptive is not None:
            self.plan.adaptive.observe(key.local)
        # The lookup is the one step every call makes: done here, in this colour, so a hit
        # does not pay for the policy generator; the policy starts at the miss. While misses
        # prevail, Redis is left to the policy's Fetch (entry or lease, one round trip).
        plan = self.plan
        fetch = plan.fetch_first()
        entry = await self.store.aget(key, local_only=fetch)
        if entry is not None:
            now = CLOCK.monotonic()
            if plan.refreshes and plan.due(entry, now):
                self.refresh_later(args, kwargs, key, normalised, entry=entry, now=now)
            return hit(plan, entry)
        flow = miss_flow(plan, key, normalised, not fetch)
        if not OBSERVERS:
            return await self._arun(flow, key, args, kwargs)
        tokens = observe.start(plan.name, key)
        try:
            value = await self._arun(flow, key, args, kwargs)
        except BaseException as exc:
            observe.finish(tokens, exc)
            raise
        observe.finish(tokens, None)
        return value

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
