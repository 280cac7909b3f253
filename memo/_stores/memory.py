"""L1: a bounded, thread-safe, in-process TTL store holding Python objects, evicting by W-TinyLFU.

Reads take no lock: a dict lookup, a deadline check and setting a flag are each atomic under
the GIL, so the hit path stays a few dozen nanoseconds. Writes, deletes and eviction hold one
lock. Each entry carries its own deadline (TTLs vary per entry with jitter and `none_ttl`).

Which entry leaves a full store is `eviction.py`'s decision (W-TinyLFU with a CLOCK main
region): a hit only sets the entry's `used` bit. Expired entries are swept as the store fills.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, MutableMapping
from typing import Any, cast

from memo._clock import CLOCK
from memo._errors import ConfigurationError
from memo._keys.key import CacheKey
from memo._policy.entry import FOREVER, Entry
from memo._stores.eviction import GONE, Resident, WindowTinyLFU

__all__ = ["MemoryStore"]

_FOREVER = float("inf")
_new_resident = object.__new__


class MemoryStore:
    """In-process cache: `maxsize` entries at most, each for at most `ttl` seconds if given."""

    # Every lookup is a look into `l1` and no key ever reaches a shared tier: a function over
    # this store skips repeating its hit path's lookup and never hashes a Redis key it
    # is not asked for (a store without the attribute is taken to have a shared tier).
    in_process_only = True

    def __init__(self, maxsize: int = 10_000, ttl: float | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(
                f"MemoryStore(maxsize={maxsize!r}): maxsize must be a positive int "
                "(the most entries L1 keeps)."
            )
        if ttl is not None and (isinstance(ttl, bool) or not ttl > 0):
            raise ConfigurationError(
                f"MemoryStore(ttl={ttl!r}): ttl must be a positive number of seconds or None "
                "(no cap on how long L1 keeps an entry)."
            )
        self.maxsize = maxsize
        self.ttl = None if ttl is None else float(ttl)
        self.data: dict[Hashable, Resident] = {}
        self._lock = threading.Lock()
        self._tags: dict[str, set[Hashable]] = {}
        self._tags_of: dict[Hashable, tuple[str, ...]] = {}
        # Under a TieredStore: Redis key <-> L1 key, so another process's invalidation
        # (which names the Redis key) finds the L1 entry. Empty for an L1-only store.
        self._by_remote: dict[str, Hashable] = {}
        self._remote_of: dict[Hashable, str] = {}
        marked = (self._tags_of, self._remote_of)
        self._policy = WindowTinyLFU(self.data, maxsize, self._forget, marked)
        self._leases: dict[Hashable, str] = {}  # L1 key -> token of a compute in flight
        self._lease_tags: dict[Hashable, tuple[str, ...]] = {}  # its tags: delete_tag fences it
        self._writes_until_sweep = maxsize

    def __repr__(self) -> str:
        return f"MemoryStore(maxsize={self.maxsize}, ttl={self.ttl}, size={len(self.data)})"

    def __len__(self) -> int:
        return len(self.data)

    @property
    def l1(self) -> MutableMapping[Hashable, Entry]:
        """The dict the hit path reads without a lock (it only reads: every write goes
        through set_local, which keeps the eviction queues in step)."""
        return cast("MutableMapping[Hashable, Entry]", self.data)

    # -- the narrow store protocol -------------------------------------------------------

    def get(self, key: CacheKey, *, local_only: bool = False, fresh: bool = False) -> Entry | None:
        """The live entry for key, or None (a miss)."""
        local = key.local  # read once: a miss asks the store three times per call
        entry = self.data.get(local)
        if entry is None:
            return None
        if entry.expires <= CLOCK.monotonic():
            self._drop_expired(local, entry)
            return None
        entry.used = True
        return entry

    def set(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float = 0.0,
        tags: Iterable[str] = (),
        token: str = "",
        mode: str = "set",
        soft: float | None = None,
    ) -> bool:
        """Store value for ttl seconds (None: until evicted), capped by the store's own ttl.

        mode="nx" stores only when no live entry is there; with a token, only while that
        token holds the key's lease (an invalidation ends it); soft: seconds until a hit
        should start a background refresh.
        """
        local = key.local
        if mode == "nx" and self.get_local(local) is not None:
            return False
        held = self._end_lease(local) if self._leases else None
        if token and held != token:
            return False  # the lease ended (invalidated, or a newer write) while computing
        tags = tags if type(tags) is tuple else tuple(tags)
        self.set_local(local, value, ttl, delta=delta, tags=tags, soft=soft)
        return True

    def delete(self, key: CacheKey) -> bool:
        """Remove key; True if a live entry was removed."""
        return self.delete_local(key.local)

    def delete_tag(self, tag: str) -> int:
        """Remove every entry stored with tag; how many live entries were removed."""
        with self._lock:
            keys = self._tags.pop(tag, set())
            for local, tags in list(self._lease_tags.items()):
                if tag in tags:  # a compute in flight for the tag: its write will be refused
                    self._end_lease(local)
            return sum(self._pop(k) for k in keys)

    async def aget(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None:
        """`get` for async callers (L1 does no I/O)."""
        return self.get_local(key.local)

    async def aset(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float = 0.0,
        tags: Iterable[str] = (),
        token: str = "",
        mode: str = "set",
        soft: float | None = None,
    ) -> bool:
        """`set` for async callers."""
        return self.set(key, value, ttl, delta=delta, tags=tags, token=token, mode=mode, soft=soft)

    async def adelete(self, key: CacheKey) -> bool:
        """`delete` for async callers."""
        return self.delete_local(key.local)

    async def adelete_tag(self, tag: str) -> int:
        """`delete_tag` for async callers."""
        return self.delete_tag(tag)

    # -- batches (warming) ----------------------------------------------------------------

    def get_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """The entries of keys, in order."""
        return [self.get_local(key.local) for key in keys]

    def set_many(self, items: list[Any]) -> int:
        """Store (key, value, ttl, delta, tags, soft) items; how many."""
        for key, value, ttl, delta, tags, soft in items:
            self.set_local(key.local, value, ttl, delta=delta, tags=tags, soft=soft)
        return len(items)

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """`get_many` for async callers."""
        return self.get_many(keys)

    async def aset_many(self, items: list[Any]) -> int:
        """`set_many` for async callers."""
        return self.set_many(items)

    # -- leases and generations: one process needs neither -----------------------------

    def claim(self, key: CacheKey, token: str, *, tags: tuple[str, ...] = ()) -> bool | None:
        """Granted (single-flight already elected one computer per key in this process).

        The token is remembered so that a write carrying it is refused once the key was
        invalidated or claimed again meanwhile: a refresh never brings back a deleted key.
        """
        self._leases[key.local] = token
        if tags:  # delete_tag(tag) ends the lease of this compute too
            self._lease_tags[key.local] = tags
        return True

    async def aclaim(self, key: CacheKey, token: str, *, tags: tuple[str, ...] = ()) -> bool | None:
        """`claim` for async callers."""
        return self.claim(key, token, tags=tags)

    def fetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]:
        """The live entry for key, or else the lease: (None, True)."""
        entry = self.get_local(key.local)
        return (entry, None) if entry is not None else (None, self.claim(key, token))

    async def afetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]:
        """`fetch` for async callers."""
        return self.fetch(key, token)

    def release(self, key: CacheKey, token: str) -> None:
        """Forget the lease token (the compute failed)."""
        if self._leases.get(key.local) == token:
            self._end_lease(key.local)

    async def arelease(self, key: CacheKey, token: str) -> None:
        """`release` for async callers."""
        self.release(key, token)

    def wait(self, key: CacheKey, timeout: float) -> None:
        """Never needed: claims are always granted."""

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """Never needed: claims are always granted."""

    def generation(self, name: str) -> int:
        """In-process functions forget by token; their generation stays 0."""
        return 0

    def bump_generation(self, name: str) -> int | None:
        """Nothing shared to bump."""
        return None

    async def abump_generation(self, name: str) -> int | None:
        """Nothing shared to bump."""
        return None

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self.data.clear()
            self._policy.clear()
            self._tags.clear()
            self._tags_of.clear()
            self._by_remote.clear()
            self._remote_of.clear()
            self._leases.clear()
            self._lease_tags.clear()

    def close(self) -> None:
        """Nothing to release; here so every store can be closed alike."""

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held it) and no entries."""
        self._lock = threading.Lock()
        self.clear()

    # -- by L1 key -----------------------------------------------------------------------

    def get_local(self, local: Hashable) -> Entry | None:
        """Lookup by L1 key, marking it used (the eviction policy's reference bit)."""
        entry = self.data.get(local)
        if entry is None:
            return None
        if entry.expires <= CLOCK.monotonic():
            self._drop_expired(local, entry)
            return None
        entry.used = True
        return entry

    def set_local(
        self,
        local: Hashable,
        value: Any,
        ttl: float | None,
        *,
        delta: float = 0.0,
        tags: tuple[str, ...] = (),
        remote: str | None = None,
        soft: float | None = None,
        only_if: Callable[[], bool] | None = None,
    ) -> None:
        """Store by L1 key (remote: the entry's Redis key, when there is an L2).

        only_if is checked under the store's lock, atomically with the insert: the tiered
        store passes "no invalidation event came in meanwhile".
        """
        now = CLOCK.monotonic()
        if self.ttl is not None and (ttl is None or ttl > self.ttl):
            ttl = self.ttl
        expires = _FOREVER if ttl is None else now + ttl
        soft_at = FOREVER if soft is None else min(now + soft, expires)
        entry = _new_resident(Resident)  # its fields set here: a frame less on every miss
        entry.key, entry.value, entry.expires = local, value, expires
        entry.delta, entry.soft, entry.used = delta, soft_at, False
        with self._lock:
            if only_if is not None and not only_if():
                self._pop(local)  # raced: neither the new value nor the one it replaced
                return
            if local in self._tags_of:
                self._untag(local)
            data = self.data
            old = data.setdefault(local, entry)
            if old is not entry:  # replaced: its queue slot is dead
                data[local] = entry
                old.key = GONE
                self._policy.discarded()
            if tags:
                self._tag(local, tags)
            if remote is not None:
                self._by_remote[remote] = local
                self._remote_of[local] = remote
            self._writes_until_sweep -= 1
            if not self._writes_until_sweep:
                self._sweep_expired()
            self._policy.inserted(entry)

    def delete_remote(self, remote: str) -> bool:
        """Delete the entry stored under Redis key remote, if L1 has it."""
        with self._lock:
            local = self._by_remote.get(remote)
            return False if local is None else self._pop(local)

    def _drop_expired(self, local: Hashable, entry: Entry) -> None:
        with self._lock:
            if self.data.get(local) is entry:  # not a newer entry written meanwhile
                self._pop(local)

    def drop_token(self, token: object) -> int:
        """Delete every entry whose L1 key starts with token (a function's entries from before
        its invalidate_all()); how many. One pass over the store: invalidate_all is rare."""
        with self._lock:
            stale = [k for k in self.data if type(k) is tuple and k and k[0] == token]
            for local in stale:
                self._pop(local)
            return len(stale)

    def delete_local(self, local: Hashable) -> bool:
        """Delete by L1 key; True if a live entry was removed."""
        with self._lock:
            return self._pop(local)

    # -- internals (called with the lock held) -------------------------------------------

    def _pop(self, local: Hashable) -> bool:
        entry = self.data.pop(local, None)
        if entry is not None:
            entry.key = GONE
            self._policy.discarded()
        if self._leases:
            self._end_lease(local)  # an invalidation ends any compute's right to write
        self._forget(local)
        return entry is not None and entry.expires > CLOCK.monotonic()

    def _end_lease(self, local: Hashable) -> str | None:
        """Drop local's lease (and its tags); the token it held."""
        self._lease_tags.pop(local, None)
        return self._leases.pop(local, None)

    def _forget(self, local: Hashable) -> None:
        if local in self._tags_of:
            self._untag(local)
        if self._remote_of:
            remote = self._remote_of.pop(local, None)
            if remote is not None and self._by_remote.get(remote) == local:
                del self._by_remote[remote]

    def _tag(self, local: Hashable, tags: tuple[str, ...]) -> None:
        self._tags_of[local] = tags
        for tag in tags:
            self._tags.setdefault(tag, set()).add(local)

    def _untag(self, local: Hashable) -> None:
        for tag in self._tags_of.pop(local, ()):
            members = self._tags.get(tag)
            if members is not None:
                members.discard(local)
                if not members:
                    del self._tags[tag]

    def _sweep_expired(self) -> None:
        # Amortised O(1): one full pass per `maxsize` writes keeps dead entries from
        # crowding out live ones when TTLs are short and the key space is wide.
        self._writes_until_sweep = self.maxsize
        now = CLOCK.monotonic()
        for local in [k for k, e in self.data.items() if e.expires <= now]:
            self._pop(local)
