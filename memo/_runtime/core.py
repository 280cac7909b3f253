"""One decorated function's runtime: its options, keys, store binding and counters.

The wrappers in `_runtime/wrapper.py` read `token` and `l1` on every call, so those two are plain
attributes, re-pointed by `rebind()` when `configure()` swaps the default store and by
`invalidate_all()`, which moves the function to a fresh token (old L1 entries become
unreachable and age out under LRU).

`CoreBase` is the colour-free part, written by hand. The call paths that do I/O (call,
refresh, write, invalidate, invalidate_all, in both colours) come from `AsyncCalls`, written
once in `_async/calls.py`, and `SyncCalls`, generated from it by scripts/unasync.py; `Core`
combines the three.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, cast

from memo._codec.returns import ReturnType
from memo._keys.builder import GENERATION_FLOOR, KeyBuilder
from memo._keys.key import CacheKey, LazyCacheKey
from memo._policy import trace
from memo._policy.entry import Entry
from memo._policy.flows import Flow, Plan, background_flow
from memo._runtime import observe
from memo._runtime._async.calls import AsyncCalls
from memo._runtime._sync.calls import SyncCalls
from memo._runtime.flight import AsyncFlights, ThreadFlights
from memo._runtime.pending import Pending
from memo._runtime.refresher import REFRESHER
from memo._runtime.settings import settings
from memo._stores.protocol import Store

__all__ = ["Core", "CoreBase"]

_TOKENS = itertools.count(1)
_NO_L1: MutableMapping[Hashable, Entry] = {}
_REMOTES_KEPT = 4_096  # Redis keys remembered per function (bounded: cleared when full)


class CoreBase:
    """Everything one cached function needs at call time, but the call paths (see `Core`)."""

    __slots__ = (
        "__weakref__",
        "explicit_store",
        "function",
        "is_async",
        "keys",
        "l1",
        "l1_copy",
        "l1_looked",
        "l1_only",
        "on_rebind",
        "plan",
        "prefix",
        "remotes",
        "returns",
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
        returns: ReturnType | None = None,
    ) -> None:
        self.function = function
        self.returns = returns  # its return annotation: the L2 codec of its entries
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
        self.l1_only = False
        self.l1_looked = False
        self.rebind()
        settings.register(cast("Core", self))  # CoreBase is only ever built as a Core

    def rebind(self) -> None:
        """Point at the current store (the explicit one, else the configured default)."""
        store = self.explicit_store if self.explicit_store is not None else settings.store
        self.store = store
        attach = getattr(store, "attach", None)
        if attach is not None:  # the store tells this runtime of rebinds and generation moves
            attach(self)
        self.remotes.clear()  # the namespace may have changed with the store
        self.l1 = store.l1 if store.l1 is not None else _NO_L1
        # Whether the hit path looks into the store's L1 (a tiered store bypassing L1 gives
        # none), and whether every lookup of the store is that same look: a miss skips it.
        looked, self.l1_looked = self.l1_looked, self.l1 is not _NO_L1
        self.l1_only = bool(getattr(store, "in_process_only", False))
        l1_copy = self.l1_copy or (self.explicit_store is None and settings.l1_copy)
        if l1_copy != self.plan.l1_copy or looked != self.l1_looked:
            self.plan.l1_copy = l1_copy
            if self.on_rebind is not None:
                self.on_rebind()  # the hit path is generated for both

    # -- keys ------------------------------------------------------------------------------

    def key_for(self, values: tuple[Any, ...], local: Hashable | None = None) -> CacheKey:
        """Both keys of a call from its normalised values (no I/O: the Redis key is hashed
        from them when a tier first asks for it)."""
        if local is None:
            local = self.keys.local(self.prefix, values)
        if self.l1_only:  # the Redis key only when asked (a Django-style prefix, say)
            return LazyCacheKey(local, self.remote_for, values)
        return CacheKey(local, self.remote_for(local, values))  # every tier call reads it

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

    # -- colour-free helpers of the call paths (`_async/calls.py`) ---------------------

    if TYPE_CHECKING:  # defined by the call paths; refresh_later hands them to the refresher

        def _run(self, flow: Flow, key: CacheKey, args: Any = (), kwargs: Any = None) -> Any: ...

        async def _arun(
            self, flow: Flow, key: CacheKey, args: Any = (), kwargs: Any = None
        ) -> Any: ...

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
            values = normalised
            if self.keys.keep is not None:  # its values lack the ignored parameters
                normalised = self.keys.split(args, kwargs)[0]
            key = self.key_for(values, key)
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

    def ended(self, run: Pending, error: BaseException | None) -> None:
        """A miss is over: count what its tiers met, tell the observers."""
        if error_class := trace.close(run.key):  # a tier degraded: counted, never raised
            self.plan.stats.error(error_class)
        if run.observed is not None:
            observe.finish(run.observed, error)

    def _new_token(self) -> None:
        old, self.token = self.token, next(_TOKENS)
        self.prefix = (self.token,)
        # The old token's L1 entries can never be read again: drop them now, or an eviction
        # policy that admits by frequency would keep them in place of the new ones.
        drop = getattr(getattr(self.store, "memory", self.store), "drop_token", None)
        if drop is not None:
            drop(old)


class Core(SyncCalls, AsyncCalls, CoreBase):
    """Everything one cached function needs at call time."""

    __slots__ = ()
