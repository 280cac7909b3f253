"""L2: Redis, shared by every process. Knows bytes and keys, never raises into a caller.

One `RedisStore` serves sync and `async def` functions: it holds a redis-py client and, per
event loop, a `redis.asyncio` client, each made on first use. Every operation is a small
generator of commands (`_redis_ops`), run by `_run` (blocking) or `_arun` (awaiting) behind
the same guard: the circuit breaker is asked first, a failure is counted, logged at most
once a second, and turned into the operation's fallback (a miss, a skipped write), unless
the store was built with `on_error="raise"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets as _secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Hashable, Iterable, MutableMapping
from typing import Any

from memo._breaker import CircuitBreaker
from memo._clock import CLOCK
from memo._codec import Codec, Rejected
from memo._coherence import Events, pairs
from memo._entry import FOREVER, CacheKey, Entry
from memo._errors import ConfigurationError
from memo._redis_client import Endpoint, import_redis, parse_url
from memo._redis_ops import DELETE, EXTEND, RELEASE, TAG, WRITE, Batch, Command, Op, ScriptCall

__all__ = ["RedisStore", "RemoteEntry"]

log = logging.getLogger("memo")
_PENDING_LIMIT = 10_000
# One entry to store in a batch: key, value, ttl, delta, tags, soft.
Item = tuple[CacheKey, Any, "float | None", float, tuple[str, ...], "float | None"]


class RemoteEntry(Entry):
    """An entry read from L2; `expires` is already turned into an L1 (monotonic) deadline."""

    __slots__ = ("created",)
    remote = True

    def __init__(self, value: Any, expires: float, delta: float, created: float) -> None:
        super().__init__(value, expires, delta)
        self.created = created


class RedisStore:
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
        from memo._keys import valid_segment  # noqa: PLC0415 - avoids an import cycle

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
        self.breaker = CircuitBreaker(self.name, self._probe, on_change=self._health_changed)
        self.listeners: list[Any] = []  # objects with on_l2_health(bool); TieredStore registers
        self.events = Events(self)
        self._leases: dict[str, str] = {}  # remote key -> token of leases held in this process
        self._keeper: threading.Thread | None = None
        _register_for_fork(self)

    @property
    def name(self) -> str:
        """The endpoint for logs (no credentials)."""
        return self.endpoint.name if self.endpoint is not None else "client"

    def __repr__(self) -> str:
        return f"RedisStore({self.name!r}, namespace={self.namespace!r})"

    # -- clients -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The sync redis-py client, made on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _make_client(self.endpoint, self.socket_timeout, sync=True)
        return self._client

    async def async_client(self) -> Any:
        """The `redis.asyncio` client of the running event loop, made on first use.

        A client belongs to its loop. Each gets a tiny async generator parked in that loop,
        so `asyncio.run()` (which closes a loop's async generators on the way out) closes
        the client's connections too, instead of leaving them to warn at garbage collection.
        """
        if self._given_async is not None:
            return self._given_async
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = _make_client(self.endpoint, self.socket_timeout, sync=False)
            closer = _close_with_loop(client)
            await closer.__anext__()
            self._async_clients[loop] = client
            self._closers[loop] = closer
        return client

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

    def _get(self, key: CacheKey) -> Op:
        raw = yield Command(("GET", key.remote))
        return None if raw is None else self._decode(key, raw)

    def _set(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float,
        tags: tuple[str, ...],
        token: str,
        mode: str,
    ) -> Op:
        now = CLOCK.time()
        expires = None if ttl is None else now + ttl
        payload = self.codec.encode(key.remote, value, created=now, expires=expires, delta=delta)
        ttl_ms = 0 if ttl is None else max(1, int(ttl * 1000))
        args = (payload, ttl_ms, token, mode, self.channel, self.message("k", key.remote))
        written = yield WRITE((key.remote, self.entry_key(key.remote)), args)
        if written and tags:
            yield Batch(tuple(_tag_command(self.tag_key(t), key.remote, ttl_ms) for t in tags))
        return bool(written)

    def _delete(self, remote: str) -> Op:
        args = (self.channel, self.message("k", remote))
        removed = yield DELETE((remote, self.entry_key(remote)), args)
        return bool(removed)

    def _delete_tag(self, tag: str) -> Op:
        members = yield Command(("SMEMBERS", self.tag_key(tag)))
        removed = 0
        for member in members or ():
            remote = member.decode() if isinstance(member, bytes) else str(member)
            removed += bool((yield from self._delete(remote)))
        yield Command(("DEL", self.tag_key(tag)))
        yield Command(("PUBLISH", self.channel, self.message("t", tag)))
        return removed

    def _claim(self, remote: str, token: str, ttl: float) -> Op:
        ok = yield Command(("SET", self.entry_key(remote), token, "NX", "PX", int(ttl * 1000)))
        return bool(ok)

    def _read_generations(self) -> Op:
        reply = yield Command(("HGETALL", self.generations_key))
        return [(name, int(value)) for name, value in pairs(reply)]

    def _get_many(self, keys: list[CacheKey]) -> Op:
        replies = yield Batch(tuple(Command(("GET", key.remote)) for key in keys))
        return [
            None if raw is None else self._decode(key, raw)
            for key, raw in zip(keys, replies, strict=True)
        ]

    def _set_many(self, items: list[Item]) -> Op:
        calls: list[Command | ScriptCall] = []
        for key, value, ttl, delta, tags, _soft in items:
            now = CLOCK.time()
            expires = None if ttl is None else now + ttl
            payload = self.codec.encode(
                key.remote, value, created=now, expires=expires, delta=delta
            )
            ttl_ms = 0 if ttl is None else max(1, int(ttl * 1000))
            message = self.message("k", key.remote)
            args = (payload, ttl_ms, "", "set", self.channel, message)
            calls.append(WRITE((key.remote, self.entry_key(key.remote)), args))
            calls.extend(_tag_command(self.tag_key(t), key.remote, ttl_ms) for t in tags)
        if calls:
            yield Batch(tuple(calls))
        return len(items)

    def _release(self, remote: str, token: str) -> Op:
        args = (token, self.channel, self.message("k", remote))
        return bool((yield RELEASE((self.entry_key(remote),), args)))

    def _extend(self, remote: str, token: str) -> Op:
        ttl_ms = int(self.lease_ttl * 1000)
        return bool((yield EXTEND((self.entry_key(remote),), (token, ttl_ms))))

    def _bump(self, name: str) -> Op:
        generation = yield Command(("HINCRBY", self.generations_key, name, 1))
        yield Command(("PUBLISH", self.channel, self.message("g", f"{name}={generation}")))
        return int(generation)

    def _decode(self, key: CacheKey, raw: bytes) -> RemoteEntry | None:
        try:
            decoded = self.codec.decode(key.remote, raw)
        except Rejected as exc:
            self.corrupt += 1
            self._log(f"memo: rejected L2 entry {_key_hash(key.remote)} ({exc.reason}); a miss")
            return None
        now_wall, now = CLOCK.time(), CLOCK.monotonic()
        remaining = None if decoded.expires is None else decoded.expires - now_wall
        if remaining is not None and remaining <= 0:
            return None
        deadline = FOREVER if remaining is None else now + remaining
        entry = RemoteEntry(decoded.value, deadline, decoded.delta, decoded.created)
        if key.soft_rule is not None and decoded.expires is not None:
            fraction, minus = key.soft_rule
            ttl = decoded.expires - decoded.created
            entry.soft = now + (decoded.created + fraction * ttl - minus - now_wall)
        return entry

    # -- the store protocol, sync --------------------------------------------------------

    def get(self, key: CacheKey, *, local_only: bool = False) -> Entry | None:
        """The entry under key.remote, or None (missing, unreadable, or Redis failing).

        local_only asks for the in-process tier, which an L2-only store does not have.
        """
        if local_only:
            return None
        if self._skip(key):
            return None
        try:  # the hit path: one GET, no operation generator
            raw = self.client.execute_command("GET", key.remote)
        except Exception as exc:
            return self._failed(exc, None, key)  # type: ignore[no-any-return]
        self._succeeded()
        return None if raw is None else self._decode(key, raw)

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
        """Store value; with token, only while that lease is held; mode 'nx': only if absent."""
        op = self._set(key, value, ttl, delta=delta, tags=tuple(tags), token=token, mode=mode)
        if token:
            self._forget_lease(key.remote)
        return bool(self._run(op, False, key))

    def delete(self, key: CacheKey) -> bool:
        """Remove key (and its lease) and tell every process; replayed later if Redis is down."""
        removed = self._run(self._delete(key.remote), None, key)
        if removed is None:
            self._remember("k", key.remote)
        return bool(removed)

    def delete_tag(self, tag: str) -> int:
        """Remove every entry stored with tag, in every process."""
        removed = self._run(self._delete_tag(tag), None)
        if removed is None:
            self._remember("t", tag)
        return int(removed or 0)

    def claim(self, key: CacheKey, token: str, ttl: float | None = None) -> bool | None:
        """Take the key's lease: True if taken, False if held elsewhere, None if Redis fails."""
        self.events.ensure_started()
        result = self._run(self._claim(key.remote, token, ttl or self.lease_ttl), None, key)
        if result:
            self._keep_lease(key.remote, token)
        return None if result is None else bool(result)

    def get_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """Entries of keys in one round trip (a pipeline); all None if Redis fails."""
        found = self._run(self._get_many(keys), None)
        return [None] * len(keys) if found is None else list(found)

    def set_many(self, items: list[Item]) -> int:
        """Store (key, value, ttl, delta, tags, soft) items in one round trip; how many."""
        return int(self._run(self._set_many(items), 0) or 0)

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]:
        """`get_many` for async callers."""
        found = await self._arun(self._get_many(keys), None)
        return [None] * len(keys) if found is None else list(found)

    async def aset_many(self, items: list[Item]) -> int:
        """`set_many` for async callers."""
        return int(await self._arun(self._set_many(items), 0) or 0)

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

    def generation(self, name: str) -> int:
        """The function's current generation, shared through Redis.

        The first call in a process reads them all (one HGETALL, bounded by the socket
        timeout) so that no key is built from a generation older than the last
        invalidate_all() anywhere; the events connection keeps them current after that.
        """
        self.events.ensure_started()
        if not self._generations_loaded:
            self.load_generations()
        return self.generations.get(name, 0)

    def generations_loaded(self) -> None:
        """The events connection read every generation: keys need not read them again."""
        self._generations_loaded = True

    def load_generations(self) -> bool:
        """Read every function's generation now; False if Redis did not answer."""
        reply = self._run(self._read_generations(), None)
        if reply is None:
            return False
        for name, generation in reply:
            if generation > self.generations.get(name, 0):
                self.generations[name] = generation
        self._generations_loaded = True
        return True

    def bump_generation(self, name: str) -> int | None:
        """Move function name to a new generation everywhere; None if Redis fails."""
        generation = self._run(self._bump(name), None)
        if generation is None:
            self._remember("g", name)
        else:
            self.generations[name] = int(generation)
        return None if generation is None else int(generation)

    def close(self) -> None:
        """Stop background threads and close the clients."""
        self.closed = True
        self.events.stop()
        self.breaker.close()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()

    # -- the store protocol, async -------------------------------------------------------

    async def aget(self, key: CacheKey, *, local_only: bool = False) -> Entry | None:
        """`get` for async callers."""
        if local_only:
            return None
        return await self._arun(self._get(key), None, key)  # type: ignore[no-any-return]

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
        op = self._set(key, value, ttl, delta=delta, tags=tuple(tags), token=token, mode=mode)
        if token:
            self._forget_lease(key.remote)
        return bool(await self._arun(op, False, key))

    async def adelete(self, key: CacheKey) -> bool:
        """`delete` for async callers."""
        removed = await self._arun(self._delete(key.remote), None, key)
        if removed is None:
            self._remember("k", key.remote)
        return bool(removed)

    async def adelete_tag(self, tag: str) -> int:
        """`delete_tag` for async callers."""
        removed = await self._arun(self._delete_tag(tag), None)
        if removed is None:
            self._remember("t", tag)
        return int(removed or 0)

    async def aclaim(self, key: CacheKey, token: str, ttl: float | None = None) -> bool | None:
        """`claim` for async callers."""
        self.events.ensure_started()
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

    async def abump_generation(self, name: str) -> int | None:
        """`bump_generation` for async callers."""
        generation = await self._arun(self._bump(name), None)
        if generation is None:
            self._remember("g", name)
        else:
            self.generations[name] = int(generation)
        return None if generation is None else int(generation)

    # -- executors ---------------------------------------------------------------------------

    def _skip(self, key: CacheKey | None) -> bool:
        """Whether to leave Redis out: its breaker is open, or this call already met an outage
        (a hung server then costs a call one timeout, not one per command)."""
        if self.breaker.is_open or (key is not None and key.outage):
            if key is not None:
                key.failed = True  # degraded: L1 keeps the value, the call counts an error
                key.error = key.error or "RedisUnavailable"
            return True
        return False

    def _run(self, op: Op, fallback: Any, key: CacheKey | None = None) -> Any:
        if self._skip(key):
            op.close()
            return fallback
        client = self.client
        reply: Any = None
        try:
            while True:
                request = op.send(reply)
                reply = _send_sync(client, request)
        except StopIteration as stop:
            self._succeeded()
            return stop.value
        except Exception as exc:
            return self._failed(exc, fallback, key)

    async def _arun(self, op: Op, fallback: Any, key: CacheKey | None = None) -> Any:
        if self._skip(key):
            op.close()
            return fallback
        reply: Any = None
        try:
            client = await self.async_client()
            while True:
                request = op.send(reply)
                reply = await _send_async(client, request)
        except StopIteration as stop:
            self._succeeded()
            return stop.value
        except Exception as exc:
            return self._failed(exc, fallback, key)

    def _failed(self, exc: Exception, fallback: Any, key: CacheKey | None) -> Any:
        from memo._errors import SerializationError  # noqa: PLC0415

        if isinstance(exc, SerializationError) or self.on_error == "raise":
            raise exc
        redis = import_redis()
        self.errors += 1
        outage = _is_outage(redis, exc)
        if key is not None:
            key.failed = True
            key.error = type(exc).__name__
            key.outage = key.outage or outage
        if outage:
            self.breaker.failure(exc)
        self._log(f"memo: Redis {self.name} {type(exc).__name__}: {_short(exc)}; degraded")
        return fallback

    def _succeeded(self) -> None:
        self.breaker.success()
        if self._pending and not self._replaying:
            self._replay_soon()  # invalidations lost in a short blip: send them now

    def _replay_soon(self) -> None:
        self._replaying = True

        def run() -> None:
            try:
                self.replay()
            finally:
                self._replaying = False

        threading.Thread(target=run, name=f"memo-replay-{self.name}", daemon=True).start()

    def _log(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= 1.0:  # repeated faults: one line a second at most
            self._last_log = now
            log.warning(message)

    # -- leases held while computing ------------------------------------------------------

    def _keep_lease(self, remote: str, token: str) -> None:
        """Extend the lease every third of its TTL while this process computes."""
        with self._lock:
            self._leases[remote] = token
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(
                    target=self._extend_leases, daemon=True, name=f"memo-leases-{self.name}"
                )
                self._keeper.start()

    def _forget_lease(self, remote: str) -> None:
        with self._lock:
            self._leases.pop(remote, None)

    def _extend_leases(self) -> None:
        while True:
            time.sleep(self.lease_ttl / 3)
            with self._lock:
                held = list(self._leases.items())
                if not held:
                    self._keeper = None
                    return
            for remote, token in held:
                if not self._run(self._extend(remote, token), False):
                    self._forget_lease(remote)  # lost it: the final write will be refused

    # -- outages ---------------------------------------------------------------------------

    def _probe(self) -> None:
        self.client.execute_command("PING")

    def _remember(self, kind: str, payload: str) -> None:
        """Keep an invalidation made while Redis is unreachable, to replay when it is back."""
        with self._lock:
            if len(self._pending) >= _PENDING_LIMIT:
                self._pending_overflow = True
                return
            self._pending.append((kind, payload))

    def _health_changed(self, healthy: bool) -> None:
        if healthy:
            self.replay()
        for listener in list(self.listeners):
            listener.on_l2_health(healthy)

    def replay(self) -> int:
        """Send the invalidations kept during an outage; how many were sent."""
        with self._lock:
            pending, self._pending = list(self._pending), deque()
            overflow, self._pending_overflow = self._pending_overflow, False
        sent = 0
        for kind, payload in pending:
            op = self._pending_op(kind, payload)
            if self._run(op, None) is None:
                self._remember(kind, payload)
            else:
                sent += 1
        if overflow:
            for name in list(self.generations) or []:
                self._run(self._bump(name), None)
        return sent

    def _pending_op(self, kind: str, payload: str) -> Op:
        if kind == "r":
            remote, _, token = payload.partition("\x00")
            return self._release(remote, token)
        return {"k": self._delete, "t": self._delete_tag, "g": self._bump}[kind](payload)

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


async def _close_with_loop(client: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await _aclose(client)


async def _aclose(client: Any) -> None:
    """Close an asyncio client with every connection it owns (its pool, its sentinels)."""
    with contextlib.suppress(Exception):
        await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.disconnect()
    for sentinel in getattr(getattr(client, "memo_sentinel", None), "sentinels", ()):
        await _aclose(sentinel)


def _tag_command(tag_key: str, member: str, ttl_ms: int) -> ScriptCall:
    return TAG((tag_key,), (member, ttl_ms))


def _send_sync(client: Any, request: Any) -> Any:
    if isinstance(request, Command):
        return client.execute_command(*request.args)
    if isinstance(request, ScriptCall):
        return _script_sync(client, request)
    pipe = client.pipeline(transaction=False)
    for command in request.commands:
        if isinstance(command, ScriptCall):
            script = command.script
            pipe.execute_command(
                "EVAL", script.source, len(command.keys), *command.keys, *command.args
            )
        else:
            pipe.execute_command(*command.args)
    return pipe.execute()


async def _send_async(client: Any, request: Any) -> Any:
    if isinstance(request, Command):
        return await client.execute_command(*request.args)
    if isinstance(request, ScriptCall):
        return await _script_async(client, request)
    pipe = client.pipeline(transaction=False)
    for command in request.commands:
        if isinstance(command, ScriptCall):
            script = command.script
            pipe.execute_command(
                "EVAL", script.source, len(command.keys), *command.keys, *command.args
            )
        else:
            pipe.execute_command(*command.args)
    return await pipe.execute()


def _script_sync(client: Any, call: ScriptCall) -> Any:
    redis = import_redis()
    n, script = len(call.keys), call.script
    try:
        return client.execute_command("EVALSHA", script.sha, n, *call.keys, *call.args)
    except redis.exceptions.NoScriptError:
        return client.execute_command("EVAL", script.source, n, *call.keys, *call.args)


async def _script_async(client: Any, call: ScriptCall) -> Any:
    redis = import_redis()
    n, script = len(call.keys), call.script
    try:
        return await client.execute_command("EVALSHA", script.sha, n, *call.keys, *call.args)
    except redis.exceptions.NoScriptError:
        return await client.execute_command("EVAL", script.source, n, *call.keys, *call.args)


def _is_outage(redis: Any, exc: BaseException) -> bool:
    """Errors that say the server as a whole is unusable (they trip the breaker)."""
    exceptions = redis.exceptions
    outage = (
        exceptions.ConnectionError,
        exceptions.TimeoutError,
        exceptions.BusyLoadingError,
        exceptions.ReadOnlyError,
        OSError,
    )
    if isinstance(exc, outage):
        return True
    text = str(exc)
    return text.startswith(("OOM", "LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN"))


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _key_hash(remote: str) -> str:
    """The digest part of a key, for logs: never the payload, never a password."""
    start = remote.rfind("{")
    return remote[start:] if start >= 0 else remote[-40:]


def _make_client(endpoint: Endpoint | None, timeout: float, *, sync: bool) -> Any:
    if endpoint is None:
        raise ConfigurationError(
            "RedisStore(client=...) was given without async_client=; pass both to use "
            "async def functions, or build the store from a url=."
        )
    redis = import_redis()
    options = endpoint.options(timeout, sync=sync)
    if endpoint.kind == "standalone":
        factory = redis.Redis if sync else redis.asyncio.Redis
        return factory.from_url(endpoint.url, **options, **_without_maintenance_handshake())
    auth = {"username": endpoint.username, "password": endpoint.password}
    if endpoint.kind == "cluster":
        return _cluster_client(redis, endpoint, options, auth, sync=sync)
    module = redis.sentinel if sync else redis.asyncio.sentinel
    sentinel = module.Sentinel(
        list(endpoint.hosts),
        sentinel_kwargs={"socket_timeout": timeout},
        **options,
        **auth,
        db=endpoint.db,
        ssl=endpoint.tls,
    )
    client = sentinel.master_for(endpoint.service)
    client.memo_sentinel = sentinel  # its connections to the sentinels close with the client
    return client


def _without_maintenance_handshake() -> dict[str, Any]:
    """redis-py 8 asks each new connection for maintenance notifications, which older
    servers refuse with an error and a log line: a round trip a cache does not need."""
    try:
        from redis.maint_notifications import MaintNotificationsConfig  # noqa: PLC0415
    except ImportError:  # redis-py before the feature: nothing to turn off
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def _cluster_client(
    redis: Any, endpoint: Endpoint, options: dict[str, Any], auth: dict[str, Any], *, sync: bool
) -> Any:
    options = {k: v for k, v in options.items() if k != "health_check_interval"}
    if sync:
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in endpoint.hosts]
        return redis.cluster.RedisCluster(startup_nodes=nodes, ssl=endpoint.tls, **auth, **options)
    nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in endpoint.hosts]
    return redis.asyncio.cluster.RedisCluster(
        startup_nodes=nodes, ssl=endpoint.tls, **auth, **options
    )


_STORES: weakref.WeakSet[RedisStore] = weakref.WeakSet()


def _register_for_fork(store: RedisStore) -> None:
    _STORES.add(store)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
