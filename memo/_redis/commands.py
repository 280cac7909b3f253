"""The operations memo asks of Redis, each written once as a generator of commands.

`Commands` holds what the Redis backend knows of its keyspace (key names, the events channel)
and turns each operation into `Command`s, `Script` calls and `Batch`es; `Resilience`
runs them, blocking or awaiting, behind the breaker.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from memo._keys.builder import GENERATION_FLOOR
from memo._redis.client import Endpoint
from memo._redis.coherence import pairs
from memo._redis.ops import (
    BUMP,
    CLAIM,
    DELETE,
    EXTEND,
    FETCH,
    RELEASE,
    WRITE,
    Batch,
    Command,
    Op,
    ScriptCall,
)
from memo._redis.transport import key_hash, tag_command

__all__ = ["Commands", "Write"]

log = logging.getLogger("memo")
# One entry to store in a batch, as bytes: Redis key, entry, PX in ms (0: none), tags.
Write = tuple[str, bytes, int, tuple[str, ...]]


class Commands:
    """Key names and operation generators of the Redis backend."""

    endpoint: Endpoint | None
    namespace: str
    lease_ttl: float
    writer_id: str
    channel: str
    generations_key: str
    generations: dict[str, int]
    corrupt: int
    _last_log: float
    plain_fills: bool  # the server takes SET ... GET (Redis 6.2+): see `_fill`

    def _function_names(self) -> set[str]:
        raise NotImplementedError  # Resilience knows the functions bound to the store

    @property
    def name(self) -> str:
        """The endpoint for logs (no credentials)."""
        return self.endpoint.name if self.endpoint is not None else "client"

    def entry_key(self, remote: str) -> str:
        """The lease key that shares remote's Cluster slot."""
        return remote + ":lease"

    def tag_key(self, tag: str) -> str:
        """The Redis set listing the keys stored with tag."""
        return f"memo:{self.namespace}:tag:{tag}"

    def message(self, kind: str, payload: str) -> str:
        """An event on the namespace channel: kind|writer|payload."""
        return f"{kind}|{self.writer_id}|{payload}"

    # -- operations, written once ------------------------------------------------------

    def _set(
        self, remote: str, data: bytes, ttl_ms: int, tags: tuple[str, ...], *, token: str, mode: str
    ) -> Op:
        written = None
        if mode == "unlocked":  # lock=False's fill (see `_fill`); WRITE knows it as 'fill'
            mode = "fill"
            if self.plain_fills:
                written = yield from self._fill(remote, data, ttl_ms)
        if written is None:
            args = (data, ttl_ms, token, mode, self.channel, self.message("k", remote))
            written = yield WRITE((remote, self.entry_key(remote)), args)
        if written and tags:
            yield Batch(tuple(tag_command(self.tag_key(t), remote, ttl_ms) for t in tags))
        return bool(written)

    def _fill(self, remote: str, data: bytes, ttl_ms: int) -> Op:
        """A miss's result stored by a function without single-flight: one plain SET, which
        hands back what it replaced, then an event only if it replaced something (another
        process may hold a copy), as WRITE's 'fill' does; no lease is checked or ended. The
        server answers a script later than a SET (measured: such a miss went from 1.13-1.23x
        to 1.00-1.04x a raw GET + SET, async). 1 when written; None when WRITE must store it:
        the key holds a foreign type, which SET ... GET does not replace, or Redis is older
        than 6.2 (no SET ... GET: the script from now on). Any other error reply (OOM,
        READONLY, NOPERM) fails the write as the script's would.
        """
        if ttl_ms:
            replaced = yield Command(("SET", remote, data, "PX", ttl_ms, "GET"), answered=True)
        else:
            replaced = yield Command(("SET", remote, data, "GET"), answered=True)
        if isinstance(replaced, Exception):
            message = str(replaced)
            if message.startswith("WRONGTYPE"):
                return None
            if "syntax error" in message:
                self.plain_fills = False
                return None
            raise replaced
        if replaced is not None:
            yield Command(("PUBLISH", self.channel, self.message("k", remote)))
        return 1

    def _delete(self, remote: str) -> Op:
        return bool((yield self._delete_call(remote)))

    def _delete_call(self, remote: str) -> ScriptCall:
        """Deleting remote and its lease, telling every process (one script)."""
        return DELETE((remote, self.entry_key(remote)), (self.channel, self.message("k", remote)))

    def _claim(self, remote: str, token: str, ttl: float) -> Op:
        taken = yield CLAIM((self.entry_key(remote),), (token, int(ttl * 1000)))
        return self._claimed(remote, taken)

    def _claimed(self, remote: str, taken: Any) -> bool:
        """CLAIM's answer: whether the lease is ours (a squatter replaced is logged)."""
        if taken == 2:
            self._squatter_lease(remote)
        return bool(taken)

    def _lease_held(self, remote: str) -> Op:
        """Whether remote's lease is still held (a waiter's look between events)."""
        return bool((yield Command(("EXISTS", self.entry_key(remote)))))

    def _fetch(self, remote: str, token: str, ttl: float) -> Op:
        """(the entry's bytes, None) if there is one; else (None, whether the lease was taken)."""
        reply = yield FETCH((remote, self.entry_key(remote)), (token, int(ttl * 1000)))
        if not isinstance(reply, int):  # the entry's bytes
            return reply, None
        if reply == 2:
            self._squatter_lease(remote)
        return None, bool(reply)

    def _squatter_lease(self, remote: str) -> None:
        self._log(
            f"the lease key of {key_hash(remote)} held a value memo did not make "
            "(no TTL): replaced, so misses of that key do not wait on it"
        )

    def _read_generations(self) -> Op:
        reply = yield Command(("HGETALL", self.generations_key))
        return [(name, int(value)) for name, value in pairs(reply)]

    def _get_many(self, remotes: list[str]) -> Op:
        return list((yield Batch(tuple(Command(("GET", remote)) for remote in remotes))))

    def _set_many(self, items: list[Write]) -> Op:
        calls: list[Command | ScriptCall] = []
        for remote, data, ttl_ms, tags in items:
            args = (data, ttl_ms, "", "set", self.channel, self.message("k", remote))
            calls.append(WRITE((remote, self.entry_key(remote)), args))
            calls.extend(tag_command(self.tag_key(t), remote, ttl_ms) for t in tags)
        if calls:
            yield Batch(tuple(calls))
        return len(items)

    def _release(self, remote: str, token: str) -> Op:
        return bool((yield self._release_call(remote, token)))

    def _release_call(self, remote: str, token: str) -> ScriptCall:
        """Freeing remote's lease if token holds it, waking its waiters (one script)."""
        args = (token, self.channel, self.message("k", remote))
        return RELEASE((self.entry_key(remote),), args)

    def _extend(self, remote: str, token: str) -> Op:
        ttl_ms = int(self.lease_ttl * 1000)
        return bool((yield EXTEND((self.entry_key(remote),), (token, ttl_ms))))

    def _bump(self, name: str) -> Op:
        floor = time.time_ns() // 1_000_000
        args = (name, floor, self.channel, self.message("g", ""))
        generation, repaired = yield BUMP((self.generations_key,), args)
        if repaired:
            self._log(
                f"{self.generations_key} held something else than memo's hash: replaced; "
                f"every earlier entry of every function is stale now ({GENERATION_FLOOR})"
            )
            self.generations[GENERATION_FLOOR] = floor
        return int(generation)

    def _log(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= 1.0:  # repeated faults: one line a second at most
            self._last_log = now
            log.warning(message)
