"""TieredStore's I/O methods in one colour (the async one is the source: scripts/unasync.py).

Each is the same few steps around one call to L2: try L1, ask Redis, keep what came back in
L1 unless an event raced it (`_stores/tiered.py` holds the steps and the coherence hooks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from memo._errors import SerializationError
from memo._keys.key import CacheKey
from memo._policy.entry import Entry

if TYPE_CHECKING:  # a base for the type checker only: tiered.py imports this module
    from memo._stores.tiered import TieredBase
else:
    TieredBase = object

__all__ = ["AsyncTiered"]


class AsyncTiered(TieredBase):
    """get / set / delete / delete_tag, batches, leases and generations over both tiers."""

    async def aget(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None:
        """L1, else Redis; a Redis hit is copied into L1 unless an event raced it.

        fresh skips L1: a refresh deciding whether another process already refreshed must
        not trust an L1 copy whose eviction event may still be on its way.
        """
        entry, seq = (None, self.redis.events.seq) if fresh else self._before_get(key)
        if entry is not None or local_only or seq is None:
            return entry
        return self._after_get(key, await self.redis.aget(key), seq)

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
        """Redis first, then L1 (if the write won and no event raced it)."""
        local = self._local(key, value, ttl, delta=delta, tags=tuple(tags), soft=soft)
        try:
            written = await self.redis.aset(
                key, value, ttl, delta=delta, tags=local.tags, token=token, mode=mode, soft=soft
            )
        except SerializationError:
            self._keep(local, raced=False)
            raise
        return self._after_set(local, written)

    async def adelete(self, key: CacheKey) -> bool:
        """Remove from both tiers and from every process's L1."""
        local = self.memory.delete_local(key.local)
        return await self.redis.adelete(key) or local

    async def adelete_tag(self, tag: str) -> int:
        """Remove every entry with tag from both tiers, in every process."""
        local = self.memory.delete_tag(tag)
        return max(self._evict_copies(await self.redis.adelete_tag_keys(tag)), local)

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """L1 for each key, then one pipelined round trip to Redis for the rest."""
        found, missing, seq = self._before_many(keys)
        remote = await self.redis.aget_many([keys[i] for i in missing])
        return self._after_many(keys, found, missing, remote, seq)

    async def aset_many(self, items: list[Any]) -> int:
        """One pipelined round trip to Redis, then L1."""
        seq = self.redis.events.seq
        stored = await self.redis.aset_many(items)
        self._keep_many(items, seq)
        return stored

    async def aclaim(self, key: CacheKey, token: str, *, tags: tuple[str, ...] = ()) -> bool | None:
        """The key's lease across processes (tags: the call's, which fence the compute)."""
        return await self.redis.aclaim(key, token, tags=tags)

    async def afetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]:
        """L1, else Redis's entry or, when it has none, the key's lease (one round trip)."""
        entry, seq = self._before_get(key)
        if entry is not None or seq is None:
            return entry, None
        entry, claimed = await self.redis.afetch(key, token)
        return self._after_get(key, entry, seq), claimed

    async def arelease(self, key: CacheKey, token: str) -> None:
        """Give the lease back."""
        await self.redis.arelease(key, token)

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """Until key is filled elsewhere, or timeout."""
        await self.redis.await_fill(key, timeout)

    async def abump_generation(self, name: str) -> int | None:
        """Move the function to a new generation in every process."""
        return await self.redis.abump_generation(name)
