"""RedisStore's object-level operations in one colour (the async one is the source:
scripts/unasync.py).

Each is the backend's bytes-level operation with the entry codec around it: a read decodes
what one GET returned against the function's generation; a write encodes the value stamped
with the generation its call's lookup saw (else the current one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import Entry
from memo._redis.commands import Write

if TYPE_CHECKING:  # a base for the type checker only: store.py imports this module
    from memo._redis.store import StoreBase
else:
    StoreBase = object

__all__ = ["AsyncStore"]

# One entry to store in a batch: key, value, ttl, delta, tags, soft.
Item = tuple[CacheKey, Any, "float | None", float, tuple[str, ...], "float | None"]


class AsyncStore(StoreBase):
    """The store protocol's I/O methods of a RedisStore, in one colour."""

    async def aget(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None:
        """The entry under key.remote, or None (missing, unreadable, or Redis failing).

        local_only asks for the in-process tier, which an L2-only store does not have.
        """
        if local_only:
            return None
        backend = self.backend
        generation = await backend.ageneration_of(key)
        data = await backend.aget(key)
        entry = None if data is None else self.entries.decode(key.remote, data, generation)
        return backend.seen(key, entry, generation)

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
        """Store value; with token, only while that lease is held; mode 'nx': only if absent.

        soft: seconds until a hit should refresh it. The entry carries the generation the
        call's lookup saw (else the current one), so a value computed across another
        process's invalidate_all() is stored already stale.
        """
        backend = self.backend
        generation = backend.stamp(key)
        if generation < 0:
            generation = await backend.ageneration_of(key)
        data, ttl_ms = self.entries.encode(
            key.remote, value, ttl, delta=delta, soft=soft, generation=generation
        )
        return await backend.aset(key, data, ttl_ms, tags=tuple(tags), token=token, mode=mode)

    async def adelete(self, key: CacheKey) -> bool:
        """Remove key (and its lease) and tell every process; replayed later if Redis is down."""
        return await self.backend.adelete(key)

    async def adelete_tag(self, tag: str) -> int:
        """Remove every entry stored with tag, in every process."""
        return len(await self.backend.adelete_tag(tag))

    async def adelete_tag_keys(self, tag: str) -> list[str]:
        """Like delete_tag; the Redis keys it removed (replayed later if Redis is away)."""
        return await self.backend.adelete_tag(tag)

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """Entries of keys in one round trip (a pipeline); all None if Redis fails."""
        generations = await self.backend.agenerations_of(keys)
        found = await self.backend.aget_many(keys)
        decode = self.entries.decode
        return [
            None if data is None else decode(key.remote, data, generation)
            for key, data, generation in zip(keys, found, generations, strict=True)
        ]

    async def aset_many(self, items: list[Item]) -> int:
        """Store (key, value, ttl, delta, tags, soft) items in one round trip; how many."""
        generations = await self.backend.agenerations_of([item[0] for item in items])
        writes: list[Write] = []
        for (key, value, ttl, delta, tags, soft), generation in zip(
            items, generations, strict=True
        ):
            data, ttl_ms = self.entries.encode(
                key.remote, value, ttl, delta=delta, soft=soft, generation=generation
            )
            writes.append((key.remote, data, ttl_ms, tuple(tags)))
        return await self.backend.aset_many(writes)

    async def aclaim(
        self, key: CacheKey, token: str, ttl: float | None = None, tags: tuple[str, ...] = ()
    ) -> bool | None:
        """Take the key's lease: True if taken, False if held elsewhere, None if Redis fails.
        tags: the call's tags, which fence its compute against invalidate_tag."""
        trace.open_for(key).generation = await self.backend.ageneration_of(key)  # compute starts
        return await self.backend.aclaim(key, token, ttl, tags)

    async def afetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]:
        """The entry under key.remote, or, when there is none, the key's lease asked for in the
        same round trip: (None, True if taken, False if held elsewhere, None if Redis fails).

        An entry Redis holds but this process cannot use (of an older generation, expired,
        failing a check) is a miss whose lease is then claimed on its own.
        """
        backend = self.backend
        generation = await backend.ageneration_of(key)
        data, claimed = await backend.afetch(key, token)
        entry = None if data is None else self.entries.decode(key.remote, data, generation)
        if data is not None and entry is None:
            claimed = await backend.aclaim(key, token)
        backend.seen(key, entry, generation)  # a miss: its write is stamped with generation
        return entry, claimed

    async def arelease(self, key: CacheKey, token: str) -> None:
        """Give up a lease (the compute failed, or its write did not land) so waiters retry
        now; if Redis does not answer, the release is replayed when it does."""
        await self.backend.arelease(key, token)

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """Until key is filled or deleted by anyone, or timeout passes."""
        await self.backend.await_fill(key, timeout)

    async def abump_generation(self, name: str) -> int | None:
        """Move function name to a new generation everywhere; None if Redis fails."""
        return await self.backend.abump_generation(name)

    async def ageneration(self, name: str) -> int:
        """The function's current generation, shared through Redis."""
        return await self.backend.ageneration(name)
