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

_NAMES_KEPT = 4_096  # Redis keys whose generation name is remembered (cleared when full)


class Generations(Resilience):
    """The generation bookkeeping of the Redis backend."""

    events: Any  # the store's coherence listener (`_redis/coherence.py`)
    scopes: dict[str, str]  # key prefix -> generation name, of the functions bound here
    # Redis key -> generation name, for keys of bound functions read lately: every read
    # from Redis asks, and the key strings repeat (Core keeps them), so a lookup by a key
    # whose hash is already known beats cutting its prefix out and hashing that.
    _names: dict[str, str]
    _generations_loaded: bool

    def register(self, keys: Any) -> None:
        """A function's KeyBuilder: its keys' prefix here names its generation."""
        self.scopes[keys.prefix(self.namespace)] = keys.generation_name
        self._names.clear()  # a prefix may have changed its name

    def generation_name(self, remote: str) -> str:
        """The name under which the function that owns Redis key remote shares its generation.

        Functions bound to this store registered their key prefix (`attach`); any other key
        names its function itself: `memo:{namespace}:{name}:v{version}:{<digest>}`.
        """
        return self._names.get(remote) or self._name_of(remote)

    def current_generation(self, remote: str) -> int:
        """The current generation of the function that owns Redis key remote (every read
        from Redis asks: generation_name's lookup is written inline, a call less)."""
        return self._current(self._names.get(remote) or self._name_of(remote))

    def _name_of(self, remote: str) -> str:
        prefix = remote[: remote.rfind("{")]
        name = self.scopes.get(prefix)
        if name is None:
            return prefix[len(self.namespace) + 6 : -1]
        names = self._names
        if len(names) >= _NAMES_KEPT:
            names.clear()
        names[remote] = name
        return name

    def generations_loaded(self) -> None:
        """The events connection read every generation: reads need not load them again."""
        self._generations_loaded = True

    def _loaded(self, reply: list[tuple[str, int]] | None) -> bool:
        if reply is None:
            return False
        for name, generation in reply:
            if generation > self.generations.get(name, 0):
                self.generations[name] = generation
        self._generations_loaded = True
        return True

    def _current(self, name: str) -> int:
        """A function's generation: its own, or the floor a repaired hash set for all."""
        generations = self.generations
        own, floor = generations.get(name, 0), generations.get(GENERATION_FLOOR, 0)
        return own if own > floor else floor  # not max(): a builtin call on every L2 read

    def stamp(self, key: CacheKey) -> int:
        """The generation key's call saw when it looked the entry up (-1: none seen)."""
        seen = trace.find(key)
        return -1 if seen is None else seen.generation

    def seen(self, key: CacheKey, entry: Entry | None, generation: int) -> Entry | None:
        """After a lookup: a miss opens the call's trace with the generation it saw, for the
        write that follows the compute (a hit records it only in a trace already open)."""
        seen = trace.find(key) if entry is not None else trace.open_for(key)
        if seen is not None:
            seen.generation = generation
        return entry
