"""Running Redis operations without ever failing the caller.

`Resilience` sends an operation's commands with the sync client or the asyncio client of the
running loop, asks the circuit breaker first, turns any failure into the operation's
fallback (counted, logged at most once a second, unless `on_error="raise"`), keeps the
leases of computes in flight alive, and replays invalidations made while Redis was away.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from typing import Any

from memo._errors import SerializationError
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._redis import replayer
from memo._redis._async.executor import AsyncExecutor
from memo._redis._async.link import AsyncLink
from memo._redis._sync.executor import SyncExecutor
from memo._redis._sync.link import SyncLink
from memo._redis.breaker import CircuitBreaker
from memo._redis.client import close_with_loop, import_redis, make_client
from memo._redis.ops import Batch, Op, ScriptCall
from memo._redis.tagging import Tagging
from memo._redis.transport import is_outage, short_error

__all__ = ["Executing", "Resilience"]

_PENDING_LIMIT = 10_000
_REPLAY_BATCH = 200  # kept key deletes and lease releases replayed per round trip
_BATCHED = ("k", "r")


class Executing(Tagging):
    """The colour-free part of running operations: clients, the breaker, failures."""

    socket_timeout: float
    on_error: str
    errors: int
    breaker: CircuitBreaker
    generations: dict[str, int]
    listeners: list[Any]
    functions: Any  # runtimes bound to this store (a WeakSet)
    closed: bool
    _client: Any
    _given_client: Any
    _link: SyncLink | None
    _given_async: Any
    _given_link: AsyncLink | None
    _async_clients: weakref.WeakKeyDictionary[Any, Any]
    _async_links: weakref.WeakKeyDictionary[Any, AsyncLink]
    _closers: weakref.WeakKeyDictionary[Any, Any]
    _lock: threading.Lock
    _pending: dict[tuple[str, str], None]  # an ordered set
    _pending_overflow: bool
    _unsent: int
    _replaying: bool
    _leases: dict[str, tuple[str, Any]]
    _keeper: threading.Thread | None

    # -- clients -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The sync redis-py client, made on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self.endpoint, self.socket_timeout, sync=True)
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
            client = make_client(self.endpoint, self.socket_timeout, sync=False)
            closer = close_with_loop(client)
            await closer.__anext__()
            self._async_clients[loop] = client
            self._closers[loop] = closer
        return client

    @property
    def link(self) -> SyncLink:
        """The sync client's Link (`_async/link.py`): the commands of calls go through it."""
        client = self.client
        link = self._link
        if link is None or link.client is not client:
            with self._lock:
                link = self._link
                if link is None or link.client is not client:
                    mine = client is not self._given_client  # else the application's too
                    link = self._link = SyncLink(client, keep=mine)
        return link

    async def async_link(self) -> AsyncLink:
        """The Link of the running loop's client (`_async/link.py`)."""
        if self._given_async is not None:
            given = self._given_link
            if given is None:
                given = self._given_link = AsyncLink(self._given_async, keep=False)
            return given
        loop = asyncio.get_running_loop()
        link = self._async_links.get(loop)
        if link is None:
            link = AsyncLink(await self.async_client(), keep=True)
            self._async_links[loop] = link
        return link

    # -- executors ---------------------------------------------------------------------------

    def _skip(self, key: CacheKey | None) -> bool:
        """Whether to leave Redis out: its breaker is open, or this call already met an outage
        (a hung server then costs a call one timeout, not one per command)."""
        if self.breaker.is_open:
            if key is not None:  # degraded: L1 keeps the value, the call counts an error
                trace.degrade(key, "RedisUnavailable", keep_error=True)
            return True
        if key is not None and trace.skips(key):
            trace.degrade(key, "RedisUnavailable", keep_error=True)
            return True
        return False

    def _failed(self, exc: Exception, fallback: Any, key: CacheKey | None) -> Any:
        if isinstance(exc, SerializationError) or self.on_error == "raise":
            raise exc
        redis = import_redis()
        self.errors += 1
        outage = is_outage(redis, exc)
        if key is not None:  # this call degraded: counted when it ends
            trace.degrade(key, type(exc).__name__, outage=outage)
        if outage:
            self.breaker.failure(exc)
        self._log(f"Redis {self.name} {type(exc).__name__}: {short_error(exc)}; degraded")
        return fallback

    def _succeeded(self) -> None:
        breaker = self.breaker
        if breaker.failures and breaker.success():  # the count first: no call while none
            # A blip ended before the breaker opened. While it lasted, a tiered store trusted
            # its L1 even without events (`l1_active`): it must stop now if they are still
            # down, and its hit path's view of L1 must change with it.
            for listener in list(self.listeners):
                ended = getattr(listener, "on_l2_blip_ended", None)
                if ended is not None:
                    ended()
        if self._pending and not self._replaying:
            self._replay_soon()  # invalidations lost in a short blip: send them now

    def replay(self) -> int:
        raise NotImplementedError  # Resilience sends the invalidations kept during an outage

    def _replay_soon(self) -> None:
        self._replaying = True

        def run() -> None:
            try:
                self.replay()
            finally:
                self._replaying = False

        threading.Thread(target=run, name=f"memo-replay-{self.name}", daemon=True).start()


class Resilience(SyncExecutor, AsyncExecutor, Executing):
    """Executors, outage handling and lease keeping of the Redis backend."""

    # -- leases held while computing ------------------------------------------------------

    def _keep_lease(self, remote: str, token: str) -> None:
        """Extend the lease every third of its TTL while this process computes.

        One keeper thread per store, started with the first lease and kept (asleep) while
        the store lives: restarting it per burst of misses would make callers, an event loop
        among them, wait on Thread.start() again and again.
        """
        with self._lock:
            self._leases[remote] = (token, _computing())
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=self._extend_leases, daemon=True, name=f"memo-leases-{self.name}"
                )
                self._keeper.start()

    def _forget_lease(self, remote: str) -> None:
        with self._lock:
            self._leases.pop(remote, None)

    def _extend_leases(self) -> None:
        while not self.closed:
            time.sleep(self.lease_ttl / 3)
            with self._lock:
                held = list(self._leases.items())
            for remote, (token, owner) in held:
                if _finished(owner):
                    # Its compute is gone without a release (a task destroyed, a loop
                    # stopped at shutdown): give the lease back rather than keep others
                    # waiting on a value that will never come.
                    self._forget_lease(remote)
                    self._run(self._release(remote, token), None)
                elif not self._run(self._extend(remote, token), False):
                    self._forget_lease(remote)  # lost it: the final write will be refused

    # -- outages ---------------------------------------------------------------------------

    def _probe(self) -> None:
        self.client.execute_command("PING")

    def _remember(self, kind: str, payload: str) -> None:
        """Keep an invalidation made while Redis is unreachable, to replay when it is back.
        Each is idempotent: one kept already is kept once."""
        item = (kind, payload)
        with self._lock:
            if item not in self._pending and len(self._pending) >= _PENDING_LIMIT:
                self._pending_overflow = True
                return
            self._pending[item] = None
        replayer.start(self)  # sent as soon as Redis answers, whether or not we call again

    def pending_count(self) -> int:
        """Invalidations kept for replay, and those being replayed right now (until one is
        sent, Redis may still hold what it removes)."""
        return len(self._pending) + self._unsent

    def _health_changed(self, healthy: bool) -> None:
        if healthy:
            self.replay()
        for listener in list(self.listeners):
            listener.on_l2_health(healthy)

    def replay(self) -> int:
        """Send the invalidations kept during an outage; how many were sent.

        A busy process keeps hundreds in an outage of a second. Sent one by one they took
        seconds once Redis was back, while the other processes served what they remove; so
        key deletes and lease releases go `_REPLAY_BATCH` to a round trip (tags and
        generations, a few, go one by one)."""
        with self._lock:
            pending, self._pending = list(self._pending), {}
            overflow, self._pending_overflow = self._pending_overflow, False
            self._unsent += len(pending)
        groups = [pending[i : i + _REPLAY_BATCH] for i in range(0, len(pending), _REPLAY_BATCH)]
        batched = [[item for item in group if item[0] in _BATCHED] for group in groups]
        alone = [[item] for item in pending if item[0] not in _BATCHED]
        sent = done = 0
        try:
            for items in [*filter(None, batched), *alone]:
                sent += self._replay_items(items)
                done += len(items)
                with self._lock:
                    self._unsent -= len(items)
        finally:
            with self._lock:  # left early (an exception): the rest is not in flight either
                self._unsent -= len(pending) - done
        if overflow:  # some invalidations were not kept: forget every function here instead
            for name in self._function_names():
                self._run(self._bump(name), None)
        return sent

    def _replay_items(self, items: list[tuple[str, str]]) -> int:
        """Send kept invalidations (one operation, or one round trip of batched ones); how
        many were sent. One that fails is kept again."""
        if items[0][0] in _BATCHED:
            op = _batch(tuple(self._replay_call(kind, payload) for kind, payload in items))
        else:
            op = self._pending_op(*items[0])
        if self._run(op, None) is None:
            if len(items) > 1 and not self.breaker.failing:
                # An error reply, not an outage (a squatter's value at a lease, say): the
                # others ran; each is sent alone so only that one is kept again.
                return sum(self._replay_items([item]) for item in items)
            for kind, payload in items:
                self._remember(kind, payload)
            return 0
        for kind, payload in items:
            self._evict_own(kind, payload)
        return len(items)

    def _replay_call(self, kind: str, payload: str) -> ScriptCall:
        """The script that replays a kept key delete ("k") or lease release ("r")."""
        if kind == "r":
            remote, _, token = payload.partition("\x00")
            return self._release_call(remote, token)
        return self._delete_call(payload)

    def _evict_own(self, kind: str, payload: str) -> None:
        """A replayed invalidation tells other processes through events this one ignores:
        evict here too (a read since the blip may have brought the old value back)."""
        for listener in list(self.listeners):
            if kind == "k":
                listener.on_key(payload)
            elif kind == "t":
                listener.on_tag(payload)

    def _function_names(self) -> set[str]:
        """The generation names of every function using this store, known here or shared."""
        names = set(self.generations)
        for function in list(self.functions):
            store: Any = function.store
            if _backend_of(store) is self:
                names.add(function.keys.generation_name)
        return names

    def _pending_op(self, kind: str, payload: str) -> Op:
        """The operation that replays a kept tag invalidation ("t") or generation bump ("g")
        (key deletes and lease releases go in batches: `_replay_call`)."""
        return {"t": self._delete_tag, "g": self._bump}[kind](payload)


def _backend_of(store: Any) -> Any:
    """The Redis backend under a store: a RedisStore's, or a TieredStore's L2's."""
    store = getattr(store, "redis", store)
    return getattr(store, "backend", None)


def _computing() -> Any:
    """What computes under a lease claimed now: the running task, else this thread."""
    loop = asyncio._get_running_loop()  # None, not an exception, in a thread without one
    return threading.current_thread() if loop is None else asyncio.current_task(loop)


def _finished(owner: Any) -> bool:
    """Whether the task or thread that claimed a lease has ended."""
    if isinstance(owner, threading.Thread):
        return not owner.is_alive()
    return owner is None or owner.done()


def _batch(calls: tuple[ScriptCall, ...]) -> Op:
    """One round trip of scripts (a pipeline); their replies."""
    return (yield Batch(calls))
