"""The Redis backend's operations in one colour (the async one is the source: scripts/unasync.py).

Each takes keys and bytes and answers with bytes, counts or flags; none raises into a caller
(a failure is the operation's fallback, behind the circuit breaker). `_redis/backend.py`
combines both colours with the colour-free part (clients, breaker, generations, replay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memo._keys.key import CacheKey
from memo._policy import trace
from memo._redis.commands import Write

if TYPE_CHECKING:  # a base for the type checker only: backend.py imports this module
    from memo._redis.generations import Generations
else:
    Generations = object

__all__ = ["AsyncBackend"]


class AsyncBackend(Generations):
    """get / set / delete / delete_tag, batches, leases and generations, in one colour."""

    async def aget(self, key: CacheKey) -> bytes | None:
        """The bytes under key.remote, or None (missing, or Redis failing)."""
        if self._skip(key):
            return None
        try:  # the hit path: one GET, no operation generator
            client = await self.async_client()
            data = await client.execute_command("GET", key.remote)
        except Exception as exc:
            return self._failed(exc, None, key)  # type: ignore[no-any-return]
        self._succeeded()
        return data  # type: ignore[no-any-return]

    async def aset(
        self,
        key: CacheKey,
        data: bytes,
        ttl_ms: int,
        *,
        tags: tuple[str, ...] = (),
        token: str = "",
        mode: str = "set",
    ) -> bool:
        """Store data (PX ttl_ms, 0: none); with token, only while that lease is held; mode
        'nx': only if absent. An authoritative write Redis did not take is replayed as a
        delete when Redis is back (the new value lives in L1 meanwhile)."""
        if token:
            self._forget_lease(key.remote)
        op = self._set(key.remote, data, ttl_ms, tags, token=token, mode=mode)
        written = bool(await self._arun(op, False, key))
        if not written and trace.failed(key) and mode == "set" and not token:
            self._remember("k", key.remote)
        return written

    async def adelete(self, key: CacheKey) -> bool:
        """Remove key (and its lease) and tell every process; replayed later if Redis is down."""
        removed = await self._arun(self._delete(key.remote), None, key)
        if removed is None:
            self._remember("k", key.remote)
        return bool(removed)

    async def adelete_tag(self, tag: str) -> list[str]:
        """Remove every entry stored with tag, in every process; the Redis keys removed."""
        removed = await self._arun(self._delete_tag(tag), None)
        if removed is None:
            self._remember("t", tag)
        return list(removed or [])

    async def aget_many(self, keys: list[CacheKey]) -> list[bytes | None]:
        """The bytes of keys in one round trip (a pipeline); all None if Redis fails."""
        found = await self._arun(self._get_many([key.remote for key in keys]), None)
        return [None] * len(keys) if found is None else list(found)

    async def aset_many(self, items: list[Write]) -> int:
        """Store (remote, data, ttl_ms, tags) items in one round trip; how many."""
        return int(await self._arun(self._set_many(items), 0) or 0)

    async def aclaim(
        self, key: CacheKey, token: str, ttl: float | None = None, tags: tuple[str, ...] = ()
    ) -> bool | None:
        """Take the key's lease: True if taken, False if held elsewhere, None if Redis fails.

        With tags, the key first joins each tag's set, so an invalidate_tag from now on
        removes the lease and the compute's write is refused (`_redis/tagging.py`)."""
        ttl = ttl or self.lease_ttl
        if tags:
            op = self._claim_tagged(key.remote, token, ttl, tags)
        else:
            op = self._claim(key.remote, token, ttl)
        result = await self._arun(op, None, key)
        if result:
            self._keep_lease(key.remote, token)
        return None if result is None else bool(result)

    async def arelease(self, key: CacheKey, token: str) -> None:
        """Give up a lease so waiters retry now; replayed when Redis answers if it does not."""
        self._forget_lease(key.remote)
        if await self._arun(self._release(key.remote, token), None) is None:
            self._remember("r", f"{key.remote}\x00{token}")

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """Until key is filled or deleted by anyone, or timeout passes."""
        self.events.ensure_started()
        await self.events.await_for(key.remote, timeout)

    async def abump_generation(self, name: str) -> int | None:
        """Move function name to a new generation everywhere; None if Redis fails."""
        generation = await self._arun(self._bump(name), None)
        if generation is None:
            self._remember("g", name)
        else:
            self.generations[name] = int(generation)
        return None if generation is None else int(generation)

    async def ageneration_of(self, key: CacheKey) -> int:
        """The current generation of key's function, read with all the others on a process's
        first use; a call that already met an outage does not try again."""
        self.events.ensure_started()
        if not self._generations_loaded and not trace.skips(key):
            await self.aload_generations()
        return self._current(self.generation_name(key.remote))

    async def agenerations_of(self, keys: list[CacheKey]) -> list[int]:
        """The current generation of each key's function (a batch reads them at most once)."""
        self.events.ensure_started()
        if not self._generations_loaded:
            await self.aload_generations()
        return [self._current(self.generation_name(key.remote)) for key in keys]

    async def aload_generations(self) -> bool:
        """Read every function's generation now; False if Redis did not answer."""
        return self._loaded(await self._arun(self._read_generations(), None))

    async def ageneration(self, name: str) -> int:
        """The function's current generation, shared through Redis.

        The first call in a process reads them all (one HGETALL, bounded by the socket
        timeout) so that no entry older than the last invalidate_all() anywhere is read;
        the events connection keeps them current after that.
        """
        self.events.ensure_started()
        if not self._generations_loaded:
            await self.aload_generations()
        return self._current(name)
