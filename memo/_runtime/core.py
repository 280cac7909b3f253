"""One decorated function's runtime: its options, keys, store binding and counters.

The wrappers in `_runtime/wrapper.py` read `token` and `l1` on every call, so those two are plain
attributes, re-pointed by `rebind()` when `configure()` swaps the default store and by
`invalidate_all()`, which moves the function to a fresh token (old L1 entries become
unreachable and age out under LRU).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from typing import Any

from memo._clock import CLOCK
from memo._keys.builder import GENERATION_FLOOR, KeyBuilder
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import Entry
from memo._policy.flows import (
    Flow,
    Plan,
    Remove,
    background_flow,
    hit,
    miss_flow,
    refresh_flow,
    write_flow,
)
from memo._runtime import observe
from memo._runtime._async.drivers import run_async
from memo._runtime._sync.drivers import run_sync
from memo._runtime.disabled import is_disabled
from memo._runtime.flight import AsyncFlights, ThreadFlights
from memo._runtime.observe import OBSERVERS
from memo._runtime.refresher import REFRESHER
from memo._runtime.settings import settings
from memo._stores.protocol import Store

__all__ = ["Core"]

_TOKENS = itertools.count(1)
_NO_L1: MutableMapping[Hashable, Entry] = {}
_REMOTES_KEPT = 4_096  # Redis keys remembered per function (bounded: cleared when full)


class Core:
    """Everything one cached function needs at call time."""

    __slots__ = (
        "__weakref__",
        "explicit_store",
        "function",
        "is_async",
        "keys",
        "l1",
        "l1_copy",
        "on_rebind",
        "plan",
        "prefix",
        "remotes",
        "store",
        "task_flights",
        "thread_flights",
        "token",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        keys: KeyBuilder,
        plan: Plan,
        *,
        store: Store | None,
        is_async: bool,
    ) -> None:
        self.function = function
        self.keys = keys
        self.plan = plan
        self.is_async = is_async
        self.explicit_store = store
        self.remotes: dict[Hashable, str] = {}
        self.l1_copy = plan.l1_copy  # as decorated; configure(l1_copy=True) adds to it
        self.on_rebind: Callable[[], None] | None = None
        self.thread_flights = ThreadFlights()
        self.task_flights = AsyncFlights()
        self.token = next(_TOKENS)
        self.prefix = (self.token,)
        self.store: Store = settings.store
        self.l1: MutableMapping[Hashable, Entry] = _NO_L1
        self.rebind()
        settings.register(self)

    def rebind(self) -> None:
        """Point at the current store (the explicit one, else the configured default)."""
        store = self.explicit_store if self.explicit_store is not None else settings.store
        self.store = store
        attach = getattr(store, "attach", None)
        if attach is not None:  # the store tells this runtime of rebinds and generation moves
            attach(self)
        self.remotes.clear()  # the namespace may have changed with the store
        self.l1 = store.l1 if store.l1 is not None else _NO_L1
        l1_copy = self.l1_copy or (self.explicit_store is None and settings.l1_copy)
        if l1_copy != self.plan.l1_copy:
            self.plan.l1_copy = l1_copy
            if self.on_rebind is not None:
                self.on_rebind()

    # -- keys ------------------------------------------------------------------------------

    def key_for(self, values: tuple[Any, ...], local: Hashable | None = None) -> CacheKey:
        """Both keys of a call from its normalised values (no I/O: the Redis key is hashed
        from them when a tier first asks for it)."""
        if local is None:
            local = self.keys.local(self.prefix, values)
        return CacheKey(local, lambda: self.remote_for(local, values))

    def remote_key(self, values: tuple[Any, ...]) -> str:
        """The Redis key of these values: namespace, function, version and values, only."""
        return self.keys.remote(self.namespace(), values)

    def remote_for(self, local: Hashable, values: tuple[Any, ...]) -> str:
        """remote_key, remembered for recent L1 keys: an L2 hit then skips the hashing."""
        remote = self.remotes.get(local)
        if remote is None:
            if len(self.remotes) >= _REMOTES_KEPT:
                self.remotes.clear()
            remote = self.remotes[local] = self.remote_key(values)
        return remote

    def on_generation(self, name: str) -> None:
        """Another process ran invalidate_all(): move this process's L1 entries aside too."""
        if name in (self.keys.generation_name, GENERATION_FLOOR):
            self._new_token()

    def namespace(self) -> str:
        """The store's own namespace if it has one, else the configured one."""
        return str(getattr(self.store, "namespace", None) or settings.namespace)

    def cache_key(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        """The Redis key of a call, the one its next call uses (pure: no I/O, no thread)."""
        return self.remote_key(self.keys.values(args, kwargs))

    # -- sync --------------------------------------------------------------------------------

    def call(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        local: Hashable | None = None,
        values: tuple[Any, ...] = (),
    ) -> Any:
        """A call that the hit path did not answer (with its key when the hit path made one)."""
        if is_disabled():
            return self.function(*args, **kwargs)
        normalised, values = (
            (values, values) if local is not None else self.keys.split(args, kwargs)
        )
        key = self.key_for(values, local)
        if self.plan.adaptive is not None:
            self.plan.adaptive.observe(key.local)
        # The lookup is the one step every call makes: done here, in this colour, so a hit
        # does not pay for the policy generator; the policy starts at the miss.
        entry = self.store.get(key)
        if entry is not None:
            now = CLOCK.monotonic()
            if self.plan.refreshes and self.plan.due(entry, now):
                self.refresh_later(args, kwargs, key, normalised, entry=entry, now=now)
            return hit(self.plan, entry)
        if not OBSERVERS:
            return self._run(miss_flow(self.plan, key, normalised), key, args, kwargs)
        tokens = observe.start(self.plan.name, key)
        try:
            value = self._run(miss_flow(self.plan, key, normalised), key, args, kwargs)
        except BaseException as exc:
            observe.finish(tokens, exc)
            raise
        observe.finish(tokens, None)
        return value

    def refresh_later(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        key: Hashable | CacheKey,
        normalised: tuple[Any, ...],
        *,
        entry: Entry,
        now: float,
    ) -> None:
        """A hit found its entry due: recompute it in the background, once per key."""
        stale_ttl = self.plan.stale_ttl
        if stale_ttl and now >= entry.expires - stale_ttl:
            self.plan.stats.stale += 1  # served past its TTL while a refresh runs
        if not isinstance(key, CacheKey):  # from the hit path, which has only the L1 key
            key = self.key_for(normalised, key)
        flow = background_flow(self.plan, key, normalised, entry.expires)
        cache_key = key
        if self.is_async:
            REFRESHER.spawn(
                (self.token, key.local), lambda: self._arun(flow, cache_key, args, kwargs)
            )
        else:
            REFRESHER.submit(
                (self.token, key.local), lambda: self._run(flow, cache_key, args, kwargs)
            )

    def refresh(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Recompute, store and return."""
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        return self._run(refresh_flow(self.plan, key, normalised), key, args, kwargs)

    def write(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], value: Any) -> None:
        """Make value the entry of this call (a write-through), in every tier and process."""
        if is_disabled():
            return
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        self._run(write_flow(self.plan, key, normalised, value), key)

    def invalidate(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Remove one call's entry; True if one was there."""
        key = self.key_for(self.keys.values(args, kwargs))
        return bool(self._run(_remove_flow(key), key))

    def invalidate_all(self) -> None:
        """Forget every entry of this function: a fresh L1 token, a new shared generation."""
        self._new_token()
        self.store.bump_generation(self.keys.generation_name)

    def _new_token(self) -> None:
        self.token = next(_TOKENS)
        self.prefix = (self.token,)

    def _run(self, flow: Flow, key: CacheKey, args: Any = (), kwargs: Any = None) -> Any:
        function, kw = self.function, kwargs or {}
        try:
            return run_sync(flow, self.store, lambda: function(*args, **kw), self.thread_flights)
        finally:
            if error := trace.close(key):  # a tier degraded on this call: counted, never raised
                self.plan.stats.error(error)

    # -- async -------------------------------------------------------------------------------

    async def acall(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        local: Hashable | None = None,
        values: tuple[Any, ...] = (),
    ) -> Any:
        """`call` for `async def` functions."""
        if is_disabled():
            return await self.function(*args, **kwargs)
        normalised, values = (
            (values, values) if local is not None else self.keys.split(args, kwargs)
        )
        key = self.key_for(values, local)
        if self.plan.adaptive is not None:
            self.plan.adaptive.observe(key.local)
        entry = await self.store.aget(key)
        if entry is not None:
            now = CLOCK.monotonic()
            if self.plan.refreshes and self.plan.due(entry, now):
                self.refresh_later(args, kwargs, key, normalised, entry=entry, now=now)
            return hit(self.plan, entry)
        if not OBSERVERS:
            return await self._arun(miss_flow(self.plan, key, normalised), key, args, kwargs)
        tokens = observe.start(self.plan.name, key)
        try:
            value = await self._arun(miss_flow(self.plan, key, normalised), key, args, kwargs)
        except BaseException as exc:
            observe.finish(tokens, exc)
            raise
        observe.finish(tokens, None)
        return value

    async def arefresh(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """`refresh` for `async def` functions."""
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        return await self._arun(refresh_flow(self.plan, key, normalised), key, args, kwargs)

    async def awrite(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], value: Any) -> None:
        """`write` for async callers."""
        if is_disabled():
            return
        normalised, values = self.keys.split(args, kwargs)
        key = self.key_for(values)
        await self._arun(write_flow(self.plan, key, normalised, value), key)

    async def ainvalidate(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """`invalidate` for `async def` functions."""
        key = self.key_for(self.keys.values(args, kwargs))
        return bool(await self._arun(_remove_flow(key), key))

    async def ainvalidate_all(self) -> None:
        """`invalidate_all` for `async def` functions."""
        self._new_token()
        await self.store.abump_generation(self.keys.generation_name)

    async def _arun(self, flow: Flow, key: CacheKey, args: Any = (), kwargs: Any = None) -> Any:
        function, kw = self.function, kwargs or {}
        try:
            return await run_async(
                flow, self.store, lambda: function(*args, **kw), self.task_flights
            )
        finally:
            if error := trace.close(key):
                self.plan.stats.error(error)


def _remove_flow(key: CacheKey) -> Flow:
    return (yield Remove(key))
