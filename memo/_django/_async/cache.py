"""Django's cache API over a memo TieredStore, in one colour (the async one is the source:
scripts/unasync.py writes the sync twin).

Reads and writes are the tiered store's (L1, then Redis; overwrites and deletes evict every
process's L1 copy). Read-modify-writes (`add`, `incr`, `touch`) hold the key's lease in
Redis while they read and write, so two processes incrementing one counter never lose an
increment; when Redis does not answer they act on L1 alone, as every memo write does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from memo._django.base import DEFAULT, GENERATION, LEASE_ATTEMPTS, LEASE_PAUSE, lease_token
from memo._keys.key import CacheKey

if TYPE_CHECKING:  # a base for the type checker only
    from memo._django.base import CacheBase
else:
    CacheBase = object

__all__ = ["AsyncCacheOps"]


class AsyncCacheOps(CacheBase):
    """get / set / add / delete / incr / touch / has_key / clear and the batches."""

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        """The value stored under key, else default."""
        cache_key = self.key_of(key, version)
        with self.traced(cache_key):
            entry = await self.store.aget(cache_key)
        return default if entry is None else self.unpack(entry)

    async def aset(
        self, key: Any, value: Any, timeout: Any = DEFAULT, version: int | None = None
    ) -> None:
        """Store value under key (timeout 0 or less: remove it instead)."""
        cache_key = self.key_of(key, version)
        data, ttl = self.pack(value), self.ttl_of(timeout)
        with self.traced(cache_key):
            if ttl is not None and ttl <= 0:
                await self.store.adelete(cache_key)
            else:
                await self.store.aset(cache_key, data, ttl)

    async def aadd(
        self, key: Any, value: Any, timeout: Any = DEFAULT, version: int | None = None
    ) -> bool:
        """Store value only if key holds nothing; whether it did."""
        cache_key = self.key_of(key, version)
        data, ttl = self.pack(value), self.ttl_of(timeout)
        with self.traced(cache_key):
            token = await self._alease(cache_key)
            if await self.store.aget(cache_key, fresh=bool(token)) is not None:
                await self._arelease(cache_key, token)
                return False
            if ttl is not None and ttl <= 0:  # added, and expired at once
                await self._arelease(cache_key, token)
                return True
            written = await self.store.aset(cache_key, data, ttl, token=token)
            return written or not token  # no lease: Redis is away, L1 took it

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        """Remove key in both tiers and every process's L1; whether something was there."""
        cache_key = self.key_of(key, version)
        with self.traced(cache_key):
            return await self.store.adelete(cache_key)

    async def atouch(self, key: Any, timeout: Any = DEFAULT, version: int | None = None) -> bool:
        """Give key a new timeout; whether it held a value."""
        cache_key = self.key_of(key, version)
        ttl = self.ttl_of(timeout)
        with self.traced(cache_key):
            token = await self._alease(cache_key)
            entry = await self.store.aget(cache_key, fresh=bool(token))
            if entry is None:
                await self._arelease(cache_key, token)
                return False
            if ttl is not None and ttl <= 0:
                await self.store.adelete(cache_key)
            else:
                await self.store.aset(cache_key, entry.value, ttl, token=token)
            return True

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        """Add delta to the number under key, keeping its timeout; the new number.
        ValueError if key holds nothing."""
        cache_key = self.key_of(key, version)
        with self.traced(cache_key):
            token = await self._alease(cache_key)
            written = False
            try:
                entry = await self.store.aget(cache_key, fresh=bool(token))
                if entry is None:
                    raise ValueError(f"Key '{key}' not found.")
                value = self.unpack(entry) + delta
                ttl = self.remaining(entry)
                written = await self.store.aset(cache_key, self.pack(value), ttl, token=token)
            finally:
                if not written:
                    await self._arelease(cache_key, token)
            return value

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        """Whether key holds a value."""
        cache_key = self.key_of(key, version)
        with self.traced(cache_key):
            return await self.store.aget(cache_key) is not None

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        """The values of the keys that hold one: L1 first, the rest in one round trip."""
        named = {key: self.key_of(key, version) for key in keys}
        cache_keys = list(named.values())
        with self.traced(*cache_keys):
            entries = await self.store.aget_many(cache_keys)
        return {
            key: self.unpack(entry)
            for key, entry in zip(named, entries, strict=True)
            if entry is not None
        }

    async def aset_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT, version: int | None = None
    ) -> list[Any]:
        """Store every pair in one round trip; the keys that failed (none: a value Redis
        did not take is still kept in L1, as every memo write)."""
        ttl = self.ttl_of(timeout)
        items = [(self.key_of(key, version), self.pack(value)) for key, value in data.items()]
        cache_keys = [cache_key for cache_key, _ in items]
        with self.traced(*cache_keys):
            if ttl is not None and ttl <= 0:
                for cache_key in cache_keys:
                    await self.store.adelete(cache_key)
            elif items:
                await self.store.aset_many(
                    [(cache_key, value, ttl, 0.0, (), None) for cache_key, value in items]
                )
        return []

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        """Remove every key."""
        for key in keys:
            await self.adelete(key, version)

    async def aclear(self) -> None:
        """Forget every entry of this cache's namespace, in every process: its generation
        moves (old entries become misses and age out; no KEYS, no FLUSHDB)."""
        await self.store.abump_generation(GENERATION)
        self.store.memory.clear()

    # -- the lease of a read-modify-write ---------------------------------------------------

    async def _alease(self, cache_key: CacheKey) -> str:
        """Hold key's lease: its token, or "" when Redis does not answer (or a holder that
        died has not yet let it go: then the write goes ahead without it)."""
        token = lease_token()
        for _ in range(LEASE_ATTEMPTS):
            claimed = await self.store.aclaim(cache_key, token)
            if claimed is None:
                return ""
            if claimed:
                return token
            await asyncio.sleep(LEASE_PAUSE)
        return ""

    async def _arelease(self, cache_key: CacheKey, token: str) -> None:
        if token:
            await self.store.arelease(cache_key, token)
