"""The Redis backend's operations in one colour (the async one is the source: scripts/unasync.py).

Each takes keys and bytes and answers with bytes, counts or flags; none raises into a caller
(a failure is the operation's fallback, behind the circuit breaker). `_redis/backend.py`
combines both colours with the colour-free part (clients, breaker, generations, replay).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from memo._keys.key import CacheKey
from memo._policy import trace
from memo._redis.commands import Write

if TYPE_CHECKING:  # a base for the type checker only: backend.py imports this module
    from memo._redis.generations import Generations
else:
    Generations = object

__all__ = ["LEASE_POLL", "AsyncBackend"]

LEASE_POLL = 0.05  # seconds a lease waiter goes without looking at Redis: the bound's 50 ms


class AsyncBackend(Generations):
    """get / set / delete / delete_tag, batches, leases and generations, in one colour."""

    async def aget(self, key: CacheKey) -> bytes | None:
        """The bytes under key.remote, or None (missing, or Redis failing)."""
        if self._skip(key):
            return None
        try:  # the hit path: one GET, no operation generator
            link = await self.async_link()
            data = await link.execute("GET", key.remote)
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
        removes the lease and the compute's write is refused (`_redis/tagging.py`).
        A claim sent without an answer may still land (a slow or frozen link delivers it
        late): its release is kept for replay, so no later miss waits on a lease nobody holds.
        (An error reply, NOPERM say, tells it did not run: nothing to give back.)
        """
        if self._skip(key):
            return None
        ttl = ttl or self.lease_ttl
        if tags:
            op = self._claim_tagged(key.remote, token, ttl, tags)
        else:
            op = self._claim(key.remote, token, ttl)
        result = await self._arun(op, None, key)
        if result is None and trace.skips(key):  # timed out or cut off: it may have run
            self._remember("r", f"{key.remote}\x00{token}")
        elif result:
            self._keep_lease(key.remote, token)
        return None if result is None else bool(result)

    async def afetch(
        self, key: CacheKey, token: str, ttl: float | None = None
    ) -> tuple[bytes | None, bool | None]:
        """The bytes under key.remote and no lease, or, when there are none, the key's lease
        asked for in the same round trip: (None, True if taken, False if held elsewhere);
        (None, None) if Redis fails."""
        if self._pending:  # before the fetch, whose success would hand it to the replayer
            await self._afree_left_lease(key.remote)
        op = self._fetch(key.remote, token, ttl or self.lease_ttl)
        data, claimed = await self._arun(op, (None, None), key)
        if data is None and claimed is None and not trace.skips(key):
            # Not an outage (a script refused: NOPERM, a squatter's WRONGTYPE): the entry
            # may still be read with a plain GET, as a user without scripts may.
            data = await self.aget(key)
        if claimed:
            self._keep_lease(key.remote, token)
        return data, claimed

    async def _afree_left_lease(self, remote: str) -> None:
        """Free the lease a lost write of this process left at remote (its release waits for
        replay), so that this process's next miss of the key does not wait it out."""
        token = self._take_release(remote)
        if token is not None and await self._arun(self._release(remote, token), None) is None:
            self._remember("r", f"{remote}\x00{token}")

    def _take_release(self, remote: str) -> str | None:
        """The token of a release of remote kept for replay, taken out of the replay queue."""
        prefix = remote + "\x00"
        with self._lock:
            for item in self._pending:
                if item[0] == "r" and item[1].startswith(prefix):
                    del self._pending[item]
                    return item[1][len(prefix) :]
        return None

    async def arelease(self, key: CacheKey, token: str) -> None:
        """Give up a lease so waiters retry now; replayed when Redis answers if it does not."""
        self._forget_lease(key.remote)
        if await self._arun(self._release(key.remote, token), None) is None:
            self._remember("r", f"{key.remote}\x00{token}")

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """Until key is filled or deleted by anyone, its lease is freed, or timeout passes.

        The events connection tells at once; between its events the lease is looked at every
        LEASE_POLL seconds, so a fill it missed (it is down) costs a waiter one poll, and a
        Redis fault one poll and one socket timeout: a look that fails ends the wait (the
        call then leaves Redis out and computes itself). docs/failures.md: the bound.
        """
        self.events.ensure_started()
        deadline = time.monotonic() + timeout
        with self.events.waiting(key.remote) as filled:  # across the looks: waiter.py
            for _ in range(math.ceil(timeout / LEASE_POLL) + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                if await filled.await_for(min(remaining, LEASE_POLL)):
                    return
                if await self._arun(self._lease_held(key.remote), None, key) is not True:
                    return  # freed, or Redis did not answer: the caller looks and decides

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
        return self.current_generation(key.remote)

    async def agenerations_of(self, keys: list[CacheKey]) -> list[int]:
        """The current generation of each key's function (a batch reads them at most once)."""
        self.events.ensure_started()
        if not self._generations_loaded:
            await self.aload_generations()
        return [self.current_generation(key.remote) for key in keys]

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
