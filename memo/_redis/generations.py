"""Function generations: what `invalidate_all()` moves, stamped into entries, never into keys.

Every function has a generation, shared in the namespace's hash `memo:{namespace}:generations`
(HINCRBY on `invalidate_all()`, announced on the events channel). A store reads the hash once
per process, on its first read from Redis, and the events connection keeps it current. Each
entry carries the generation its value was computed in: one older than its function's current
generation is a miss, and the next write replaces it. A function's generation is found from a
key's prefix: bound functions register theirs (`attach`); any other key names its function.
"""

from __future__ import annotations

from typing import Any

from memo._keys.builder import GENERATION_FLOOR
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import Entry
from memo._redis.resilience import Resilience

__all__ = ["Generations"]


class Generations(Resilience):
    """The generation bookkeeping of a RedisStore."""

    events: Any  # the store's coherence listener (`_redis/coherence.py`)
    scopes: dict[str, str]  # key prefix -> generation name, of the functions bound here
    _generations_loaded: bool

    def register(self, keys: Any) -> None:
        """A function's KeyBuilder: its keys' prefix here names its generation."""
        self.scopes[keys.prefix(self.namespace)] = keys.generation_name

    def generation_name(self, remote: str) -> str:
        """The name under which the function that owns Redis key remote shares its generation.

        Functions bound to this store registered their key prefix (`attach`); any other key
        names its function itself: `memo:{namespace}:{name}:v{version}:{<digest>}`.
        """
        prefix = remote[: remote.rfind("{")]
        name = self.scopes.get(prefix)
        return prefix[len(self.namespace) + 6 : -1] if name is None else name

    def generation(self, name: str) -> int:
        """The function's current generation, shared through Redis.

        The first call in a process reads them all (one HGETALL, bounded by the socket
        timeout) so that no entry older than the last invalidate_all() anywhere is read;
        the events connection keeps them current after that. Keys never depend on it:
        the generation is stamped into each entry, and checked when it is read.
        """
        self.events.ensure_started()
        if not self._generations_loaded:
            self.load_generations()
        return self._current(name)

    def generations_loaded(self) -> None:
        """The events connection read every generation: reads need not load them again."""
        self._generations_loaded = True

    def load_generations(self) -> bool:
        """Read every function's generation now; False if Redis did not answer."""
        return self._loaded(self._run(self._read_generations(), None))

    async def aload_generations(self) -> bool:
        """`load_generations` for async callers."""
        return self._loaded(await self._arun(self._read_generations(), None))

    def _loaded(self, reply: list[tuple[str, int]] | None) -> bool:
        if reply is None:
            return False
        for name, generation in reply:
            if generation > self.generations.get(name, 0):
                self.generations[name] = generation
        self._generations_loaded = True
        return True

    def _generation(self, key: CacheKey) -> int:
        """The current generation of key's function, read with all the others on a process's
        first use. A failure to read them is the store's (counted on no call: the read goes
        on); a call that already met an outage does not try again."""
        self.events.ensure_started()
        if not self._generations_loaded and not trace.skips(key):
            self.load_generations()
        return self._current(self.generation_name(key.remote))

    async def _ageneration(self, key: CacheKey) -> int:
        """`_generation` for async callers."""
        self.events.ensure_started()
        if not self._generations_loaded and not trace.skips(key):
            await self.aload_generations()
        return self._current(self.generation_name(key.remote))

    def _generations_of(self, keys: list[CacheKey]) -> list[int]:
        """The current generation of each key's function (a batch reads them at most once)."""
        self.events.ensure_started()
        if not self._generations_loaded:
            self.load_generations()
        return [self._current(self.generation_name(key.remote)) for key in keys]

    async def _agenerations_of(self, keys: list[CacheKey]) -> list[int]:
        """`_generations_of` for async callers."""
        self.events.ensure_started()
        if not self._generations_loaded:
            await self.aload_generations()
        return [self._current(self.generation_name(key.remote)) for key in keys]

    def _current(self, name: str) -> int:
        """A function's generation: its own, or the floor a repaired hash set for all."""
        generations = self.generations
        return max(generations.get(name, 0), generations.get(GENERATION_FLOOR, 0))

    def _stamp(self, key: CacheKey) -> int:
        """The generation key's call saw when it looked the entry up (-1: none seen)."""
        seen = trace.find(key)
        return -1 if seen is None else seen.generation

    def _seen(self, key: CacheKey, entry: Entry | None, generation: int) -> Entry | None:
        """After a lookup: a miss opens the call's trace with the generation it saw, for the
        write that follows the compute (a hit records it only in a trace already open)."""
        seen = trace.find(key) if entry is not None else trace.open_for(key)
        if seen is not None:
            seen.generation = generation
        return entry

    def bump_generation(self, name: str) -> int | None:
        """Move function name to a new generation everywhere; None if Redis fails."""
        generation = self._run(self._bump(name), None)
        if generation is None:
            self._remember("g", name)
        else:
            self.generations[name] = int(generation)
        return None if generation is None else int(generation)

    async def abump_generation(self, name: str) -> int | None:
        """`bump_generation` for async callers."""
        generation = await self._arun(self._bump(name), None)
        if generation is None:
            self._remember("g", name)
        else:
            self.generations[name] = int(generation)
        return None if generation is None else int(generation)
