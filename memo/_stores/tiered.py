"""L1 over L2: one store with the protocol of its tiers, kept coherent across processes.

Reads try L1, then Redis (one GET), and put what Redis had into L1. Writes go to Redis and
then L1. L1 is used only while this process hears every invalidation (the events
connection is healthy) or while Redis is unreachable altogether (then L1 and the function
are all there is); otherwise it is flushed and bypassed. A value read or written while an
event from another process came in does not enter L1, so a concurrent write elsewhere can
never leave a stale copy here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any, NamedTuple

from memo._clock import CLOCK
from memo._errors import ConfigurationError
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import FOREVER, Entry
from memo._redis.store import RedisStore
from memo._stores._async.tiered import AsyncTiered
from memo._stores._sync.tiered import SyncTiered
from memo._stores.memory import MemoryStore

__all__ = ["TieredBase", "TieredStore"]


class TieredBase:
    """The colour-free part of a TieredStore: tiers, coherence hooks, the shared steps."""

    def __init__(self, l1: MemoryStore, l2: RedisStore) -> None:
        if not isinstance(l1, MemoryStore) or not isinstance(l2, RedisStore):
            raise ConfigurationError(
                "TieredStore(l1, l2) takes a memo.MemoryStore and a memo.RedisStore, e.g. "
                "TieredStore(MemoryStore(maxsize=10_000), RedisStore('redis://localhost'))."
            )
        self.memory = l1
        self.redis = l2
        self.namespace = l2.namespace
        self.functions: weakref.WeakSet[Any] = weakref.WeakSet()  # runtimes bound here
        l2.events.sinks.append(self)
        l2.listeners.append(self)

    def __repr__(self) -> str:
        return f"TieredStore({self.memory!r}, {self.redis!r})"

    @property
    def closed(self) -> bool:
        """Whether close() was called (its Redis tier no longer serves)."""
        return bool(self.redis.backend.closed)

    # -- when L1 may be used -------------------------------------------------------------

    @property
    def l1_active(self) -> bool:
        """L1 is trusted while invalidations arrive, or when Redis is down for everyone here:
        its breaker open, or failing before it opens (then too, no invalidation can arrive,
        and recomputing every call would only add load to a database already without cache)."""
        return self.redis.events.healthy or self.redis.breaker.failing

    @property
    def l1(self) -> MutableMapping[Hashable, Entry] | None:
        """The dict the hit path reads, or None while L1 is bypassed."""
        return self.memory.l1 if self.l1_active else None

    def on_coherence(self, healthy: bool) -> None:
        """The events connection came or went: either way, what L1 holds may be stale."""
        self.memory.clear()
        self._rebind()

    def on_l2_health(self, healthy: bool) -> None:
        """Redis came back or went away: L1's role changes with it."""
        if healthy:
            self.memory.clear()  # entries made during the outage may miss replayed events
        self._rebind()

    def on_l2_blip_ended(self) -> None:
        """Redis answered again before its breaker opened: L1, trusted while it failed, is
        bypassed again if no events arrive (what it took meanwhile may have missed some)."""
        if not self.redis.events.healthy:
            self.memory.clear()
        self._rebind()

    def on_fork(self) -> None:
        """In a forked child: what L1 holds was never checked against events here."""
        self.memory.after_fork()
        self._rebind()

    def on_key(self, remote: str) -> None:
        """Another process wrote or deleted remote."""
        self.memory.delete_remote(remote)

    def on_tag(self, tag: str) -> None:
        """Another process invalidated tag."""
        self.memory.delete_tag(tag)

    def on_generation(self, name: str, generation: int) -> None:
        """A function moved to a new generation: its L1 entries are unreachable now."""
        for core in self._cores():
            core.on_generation(name)

    def _rebind(self) -> None:
        for core in self._cores():
            core.rebind()

    def attach(self, function: Any) -> None:
        """A function's runtime now uses this store: it hears rebinds and generation moves."""
        self.functions.add(function)
        self.redis.attach(function)

    def _cores(self) -> list[Any]:
        return [core for core in list(self.functions) if core.store is self]

    # -- the store protocol's colour-free members (the rest: `_stores/_async/tiered.py`) --

    def generation(self, name: str) -> int:
        """The function's generation, shared through Redis."""
        return self.redis.generation(name)

    def close(self) -> None:
        """Close L2 (L1 needs nothing)."""
        self.redis.close()

    # -- the steps both colours share -----------------------------------------------------

    def _evict_copies(self, removed: list[str]) -> int:
        """L1 copies read from L2 carry no tags: evict them by the Redis keys Redis removed
        (other processes do so on the delete events; this one ignores its own)."""
        for remote in removed:
            self.memory.delete_remote(remote)
        return len(removed)

    def _before_get(self, key: CacheKey) -> tuple[Entry | None, int | None]:
        """(L1's entry, None) when L1 answers; else (None, the event count before Redis)."""
        self.redis.events.ensure_started()
        if self.l1_active:
            entry = self.memory.get_local(key.local)
            if entry is not None:
                return entry, None
        return None, self.redis.events.seq

    def _after_get(self, key: CacheKey, entry: Entry | None, seq: int) -> Entry | None:
        # While invalidations wait for replay, Redis may still hold what they remove: keep
        # such a copy out of L1, where it would outlive the replay.
        if entry is not None and self.l1_active and not self.redis.backend.pending_count():
            self._promote(key, entry, seq)
        return entry

    def _local(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float,
        tags: tuple[str, ...],
        soft: float | None,
    ) -> _Local:
        """A write's L1 copy, with the event count before Redis is asked."""
        return _Local(key, value, ttl, delta, tags, soft, self.redis.events.seq)

    def _after_set(self, local: _Local, written: bool) -> bool:
        if written or trace.failed(local.key):  # Redis failed: L1 is all this value has
            self._keep(local, raced=True)
        return written

    def _before_many(self, keys: list[CacheKey]) -> tuple[list[Entry | None], list[int], int]:
        active = self.l1_active
        found = [self.memory.get_local(key.local) if active else None for key in keys]
        missing = [i for i, entry in enumerate(found) if entry is None]
        return found, missing, self.redis.events.seq

    def _after_many(
        self,
        keys: list[CacheKey],
        found: list[Entry | None],
        missing: list[int],
        remote: list[Entry | None],
        seq: int,
    ) -> list[Entry | None]:
        for i, entry in zip(missing, remote, strict=True):
            found[i] = self._after_get(keys[i], entry, seq)
        return found

    def _keep_many(self, items: list[Any], seq: int) -> None:
        for key, value, ttl, delta, tags, soft in items:
            self._keep(_Local(key, value, ttl, delta, tags, soft, seq), raced=True)

    # -- helpers ---------------------------------------------------------------------------

    def _promote(self, key: CacheKey, entry: Entry, seq: int) -> None:
        now = CLOCK.monotonic()
        ttl = None if entry.expires == FOREVER else entry.expires - now
        soft = None if entry.soft == FOREVER else entry.soft - now
        if ttl is None or ttl > 0:
            self.memory.set_local(
                key.local,
                entry.value,
                ttl,
                delta=entry.delta,
                remote=key.remote,
                soft=soft,
                only_if=self._quiet_since(seq),
            )

    def _quiet_since(self, seq: int) -> Callable[[], bool]:
        """Checked under L1's lock: no event from another process since seq was read."""
        events = self.redis.events
        return lambda: events.seq == seq

    def _keep(self, local: _Local, *, raced: bool) -> None:
        """Put a written value in L1 (raced: unless an event came in since local.seq)."""
        if self.l1_active:
            self.memory.set_local(
                local.key.local,
                local.value,
                local.ttl,
                delta=local.delta,
                tags=local.tags,
                remote=local.key.remote,
                soft=local.soft,
                only_if=self._quiet_since(local.seq) if raced else None,
            )


class _Local(NamedTuple):
    """A write's L1 copy, waiting for Redis's answer."""

    key: CacheKey
    value: Any
    ttl: float | None
    delta: float
    tags: tuple[str, ...]
    soft: float | None
    seq: int


class TieredStore(SyncTiered, AsyncTiered, TieredBase):
    """L1 (a MemoryStore) in front of L2 (a RedisStore)."""
