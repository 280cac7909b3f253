"""L2: Redis, shared by every process. Knows bytes and keys, never raises into a caller.

One `RedisStore` serves sync and `async def` functions: it holds a redis-py client and, per
event loop, a `redis.asyncio` client, each made on first use. Its operations are written
once as generators of commands (`_redis/commands.py`) and run, blocking or awaiting, behind
the circuit breaker (`_redis/resilience.py`): a failure is counted, logged at most once a
second, and turned into the operation's fallback (a miss, a skipped write), unless the store
was built with `on_error="raise"`. This module holds the store's public face.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _secrets
import threading
import weakref
from collections import deque
from collections.abc import Hashable, Iterable, MutableMapping
from typing import Any

from memo._codec.envelope import Codec
from memo._errors import ConfigurationError
from memo._keys.builder import valid_segment
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import Entry, RemoteEntry
from memo._redis.breaker import CircuitBreaker
from memo._redis.client import Endpoint, import_redis, parse_url
from memo._redis.coherence import Events
from memo._redis.commands import Item
from memo._redis.generations import Generations

__all__ = ["RedisStore", "RemoteEntry"]


class RedisStore(Generations):
    """The shared tier: entries in Redis, signed when a secret is given."""

    l1: MutableMapping[Hashable, Entry] | None = None

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        async_client: Any = None,
        namespace: str = "default",
        secret: str | bytes | list[str | bytes] | None = None,
        serializer: Any = None,
        socket_timeout: float = 0.2,
        on_error: str = "ignore",
        lease_ttl: float = 5.0,
    ) -> None:
        if url is None and client is None:
            url = os.environ.get("MEMO_REDIS_URL") or None
        if url is None and client is None:
            raise ConfigurationError(
                "RedisStore() needs a url= (redis://host:6379/0), a client=, or MEMO_REDIS_URL."
            )
        if on_error not in ("ignore", "raise"):
            raise ConfigurationError(f"RedisStore(on_error={on_error!r}): use 'ignore' or 'raise'.")
        if not valid_segment(namespace):
            raise ConfigurationError(
                f"RedisStore(namespace={namespace!r}): use letters, digits, '.', '_' or '-'."
            )
        if secret is None:
            secret = os.environ.get("MEMO_SECRET") or None
        import_redis()  # without redis-py: refused here, at configuration, not at a call
        self.endpoint: Endpoint | None = parse_url(url) if url is not None else None
        self.namespace = namespace
        self.codec = Codec(serializer, secret)
        self.socket_timeout = socket_timeout
        self.on_error = on_error
        self.lease_ttl = lease_ttl
        self.writer_id = _secrets.token_hex(8)
        self.channel = f"memo:{namespace}:events"
        self.generations_key = f"memo:{namespace}:generations"
        self.errors = 0
        self.corrupt = 0
        self._client = client
        self._given_async = async_client
        self._async_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._closers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, str]] = deque()
        self._pending_overflow = False
        self._replaying = False
        self.closed = False
        self._last_log = 0.0
        self.generations: dict[str, int] = {}
        self._generations_loaded = False
        self.scopes: dict[str, str] = {}  # key prefix -> generation name of bound functions
        self.breaker = CircuitBreaker(self.name, self._probe, on_change=self._health_changed)
        self.listeners: list[Any] = []  # objects with on_l2_health(bool); TieredStore registers
        self.on_close: list[Any] = []  # callables(store) run by close(), e.g. a stats publisher
        self.functions: weakref.WeakSet[Any] = weakref.WeakSet()  # runtimes bound here
        self.events = Events(self)
        self._leases: dict[str, str] = {}  # remote key -> token of leases held in this process
        self._keeper: threading.Thread | None = None
        _register_for_fork(self)

    def __repr__(self) -> str:
        return f"RedisStore({self.name!r}, namespace={self.namespace!r})"

    # -- the store protocol, sync --------------------------------------------------------

    def get(self, key: CacheKey, *, local_only: bool = False, fresh: bool = False) -> Entry | None:
        """The entry under key.remote, or None (missing, unreadable, or Redis failing).

        local_only asks for the in-process tier, which an L2-only store does not have.
        """
        if local_only or self._skip(key):
            return None
        generation = self._generation(key)
        try:  # the hit path: one GET, no operation generator
            raw = self.client.execute_command("GET", key.remote)
        except Exception as exc:
            return self._failed(exc, None, key)  # type: ignore[no-any-return]
        self._succeeded()
        entry = None if raw is None else self._decode(key, raw, generation)
        return self._seen(key, entry, generation)

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
        """Store value; with token, only while that lease is held; mode 'nx': only if absent.

        soft: seconds until a hit should refresh it. The entry carries the generation the
        call's lookup saw (else the current one), so a value computed across another
        process's invalidate_all() is stored already stale.
        """
        generation = self._stamp(key)
        if generation < 0:
            generation = self._generation(key)
        op = self._set(
            key,
            value,
            ttl,
            delta=delta,
            tags=tuple(tags),
            token=token,
            mode=mode,
            soft=soft,
            generation=generation,
        )
        if token:
            self._forget_lease(key.remote)
        written = bool(self._run(op, False, key))
        self._after_write(key, written, token, mode)
        return written

    def _after_write(self, key: CacheKey, written: bool, token: str, mode: str) -> None:
        """An authoritative write Redis did not take leaves an older value there: delete it
        when Redis is back (the new value lives in this process's L1 meanwhile)."""
        if not written and trace.failed(key) and mode == "set" and not token:
            self._remember("k", key.remote)

    def delete(self, key: CacheKey) -> bool:
        """Remove key (and its lease) and tell every process; replayed later if Redis is down."""
        removed = self._run(self._delete(key.remote), None, key)
        if removed is None:
            self._remember("k", key.remote)
        return bool(removed)

    def delete_tag(self, tag: str) -> int:
        """Remove every entry stored with tag, in every process."""
        return len(self.delete_tag_keys(tag))

    def delete_tag_keys(self, tag: str) -> list[str]:
        """Like delete_tag; the Redis keys it removed (replayed later if Redis is away)."""
        removed = self._run(self._delete_tag(tag), None)
        if removed is None:
            self._remember("t", tag)
        return list(removed or [])

    def claim(self, key: CacheKey, token: str, ttl: float | None = None) -> bool | None:
        """Take the key's lease: True if taken, False if held elsewhere, None if Redis fails."""
        trace.open_for(key).generation = self._generation(key)  # the compute starts here
        result = self._run(self._claim(key.remote, token, ttl or self.lease_ttl), None, key)
        if result:
            self._keep_lease(key.remote, token)
        return None if result is None else bool(result)

    def get_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """Entries of keys in one round trip (a pipeline); all None if Redis fails."""
        generations = self._generations_of(keys)
        found = self._run(self._get_many(keys, generations), None)
        return [None] * len(keys) if found is None else list(found)

    def set_many(self, items: list[Item]) -> int:
        """Store (key, value, ttl, delta, tags, soft) items in one round trip; how many."""
        generations = self._generations_of([item[0] for item in items])
        return int(self._run(self._set_many(items, generations), 0) or 0)

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """`get_many` for async callers."""
        generations = await self._agenerations_of(keys)
        found = await self._arun(self._get_many(keys, generations), None)
        return [None] * len(keys) if found is None else list(found)

    async def aset_many(self, items: list[Item]) -> int:
        """`set_many` for async callers."""
        generations = await self._agenerations_of([item[0] for item in items])
        return int(await self._arun(self._set_many(items, generations), 0) or 0)

    def release(self, key: CacheKey, token: str) -> None:
        """Give up a lease (the compute failed, or its write did not land) so waiters retry
        now; if Redis does not answer, the release is replayed when it does."""
        self._forget_lease(key.remote)
        if self._run(self._release(key.remote, token), None) is None:
            self._remember("r", f"{key.remote}\x00{token}")

    def wait(self, key: CacheKey, timeout: float) -> None:
        """Block until key is filled or deleted by anyone, or timeout passes."""
        self.events.ensure_started()
        self.events.wait_for(key.remote, timeout)

    def attach(self, function: Any) -> None:
        """A function's runtime now uses this store (its generation is replayed after outages,
        and is looked up by its keys' prefix when its entries are read and written)."""
        self.functions.add(function)
        self.register(function.keys)

    def close(self) -> None:
        """Stop background threads and close the clients."""
        self.closed = True
        for hook in list(self.on_close):
            hook(self)
        self.events.stop()
        self.breaker.close()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()

    # -- the store protocol, async -------------------------------------------------------

    async def aget(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None:
        """`get` for async callers."""
        if local_only or self._skip(key):
            return None
        generation = await self._ageneration(key)
        try:  # the hit path: one GET, no operation generator
            client = await self.async_client()
            raw = await client.execute_command("GET", key.remote)
        except Exception as exc:
            return self._failed(exc, None, key)  # type: ignore[no-any-return]
        self._succeeded()
        entry = None if raw is None else self._decode(key, raw, generation)
        return self._seen(key, entry, generation)

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
        generation = self._stamp(key)
        if generation < 0:
            generation = await self._ageneration(key)
        op = self._set(
            key,
            value,
            ttl,
            delta=delta,
            tags=tuple(tags),
            token=token,
            mode=mode,
            soft=soft,
            generation=generation,
        )
        if token:
            self._forget_lease(key.remote)
        written = bool(await self._arun(op, False, key))
        self._after_write(key, written, token, mode)
        return written

    async def adelete(self, key: CacheKey) -> bool:
        """`delete` for async callers."""
        removed = await self._arun(self._delete(key.remote), None, key)
        if removed is None:
            self._remember("k", key.remote)
        return bool(removed)

    async def adelete_tag(self, tag: str) -> int:
        """`delete_tag` for async callers."""
        return len(await self.adelete_tag_keys(tag))

    async def adelete_tag_keys(self, tag: str) -> list[str]:
        """`delete_tag_keys` for async callers."""
        removed = await self._arun(self._delete_tag(tag), None)
        if removed is None:
            self._remember("t", tag)
        return list(removed or [])

    async def aclaim(self, key: CacheKey, token: str, ttl: float | None = None) -> bool | None:
        """`claim` for async callers."""
        trace.open_for(key).generation = await self._ageneration(key)
        result = await self._arun(self._claim(key.remote, token, ttl or self.lease_ttl), None, key)
        if result:
            self._keep_lease(key.remote, token)
        return None if result is None else bool(result)

    async def arelease(self, key: CacheKey, token: str) -> None:
        """`release` for async callers."""
        self._forget_lease(key.remote)
        if await self._arun(self._release(key.remote, token), None) is None:
            self._remember("r", f"{key.remote}\x00{token}")

    async def await_fill(self, key: CacheKey, timeout: float) -> None:
        """`wait` for async callers."""
        self.events.ensure_started()
        await self.events.await_for(key.remote, timeout)

    def after_fork(self) -> None:
        """In a forked child: new connections, no inherited threads or locks."""
        self._lock = threading.Lock()
        self._async_clients = weakref.WeakKeyDictionary()
        self._closers = weakref.WeakKeyDictionary()
        if self.endpoint is not None:
            self._client = None
        self._leases = {}
        self._keeper = None
        self._generations_loaded = False
        self.breaker.after_fork()
        self.events.after_fork()
        for listener in list(self.listeners):
            listener.on_fork()


_STORES: weakref.WeakSet[RedisStore] = weakref.WeakSet()


def _register_for_fork(store: RedisStore) -> None:
    _STORES.add(store)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
