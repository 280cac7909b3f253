"""The Redis backend: keys and bytes in Redis, shared by every process; never raises.

One `RedisBackend` serves both colours: it holds a redis-py client and, per event loop, a
`redis.asyncio` client, each made on first use. Its operations are written once as
generators of commands (`_redis/commands.py`) and run, blocking or awaiting, behind the
circuit breaker (`_redis/resilience.py`). It knows nothing of values: `_redis/entries.py`
turns them into bytes, and `RedisStore` (`_redis/store.py`) puts the two together.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _secrets
import threading
import weakref
from typing import Any

from memo._redis._async.backend import AsyncBackend
from memo._redis._sync.backend import SyncBackend
from memo._redis.breaker import CircuitBreaker
from memo._redis.client import Endpoint, import_redis
from memo._redis.coherence import Events
from memo._redis.generations import Generations

__all__ = ["RedisBackend"]


class RedisBackend(SyncBackend, AsyncBackend, Generations):
    """The shared tier at the bytes level: the `L2Backend` protocol on Redis."""

    def __init__(
        self,
        endpoint: Endpoint | None,
        *,
        client: Any = None,
        async_client: Any = None,
        namespace: str = "default",
        socket_timeout: float = 0.2,
        on_error: str = "ignore",
        lease_ttl: float = 5.0,
    ) -> None:
        import_redis()  # without redis-py: refused here, at configuration, not at a call
        self.endpoint = endpoint
        self.namespace = namespace
        self.socket_timeout = socket_timeout
        self.on_error = on_error
        self.lease_ttl = lease_ttl
        self.writer_id = _secrets.token_hex(8)
        self.channel = f"memo:{namespace}:events"
        self.generations_key = f"memo:{namespace}:generations"
        self.errors = 0
        self.plain_fills = True
        self._client = self._given_client = client
        self._link = None
        self._given_async = async_client
        self._given_link = None
        self._async_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._async_links = weakref.WeakKeyDictionary()
        self._closers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], None] = {}  # invalidations to replay
        self._pending_overflow = False
        self._unsent = 0  # invalidations taken for replay and not yet sent
        self._replaying = False
        self.closed = False
        self._last_log = 0.0
        self.generations: dict[str, int] = {}
        self._generations_loaded = False
        self.scopes: dict[str, str] = {}  # key prefix -> generation name of bound functions
        self._names: dict[str, str] = {}  # Redis key -> generation name, of keys read lately
        self.breaker = CircuitBreaker(self.name, self._probe, on_change=self._health_changed)
        # objects with on_l2_health(bool) and, optionally, on_l2_blip_ended(); TieredStore
        self.listeners: list[Any] = []
        self.functions: weakref.WeakSet[Any] = weakref.WeakSet()  # runtimes bound here
        self.events = Events(self)
        # remote key -> (token, the task or thread computing under it) of leases held here
        self._leases: dict[str, tuple[str, Any]] = {}
        self._keeper: threading.Thread | None = None
        _BACKENDS.add(self)

    def __repr__(self) -> str:
        return f"RedisBackend({self.name!r}, namespace={self.namespace!r})"

    def attach(self, function: Any) -> None:
        """A function's runtime now uses this backend (its generation is replayed after
        outages, and is looked up by its keys' prefix when its entries are read and written)."""
        self.functions.add(function)
        self.register(function.keys)

    def close(self) -> None:
        """Stop background threads and close the clients."""
        self.closed = True
        self.events.stop()
        self.breaker.close()
        client, self._client, self._link = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()

    def after_fork(self) -> None:
        """In a forked child: new connections, no inherited threads or locks."""
        self._lock = threading.Lock()
        self._async_clients = weakref.WeakKeyDictionary()
        self._async_links = weakref.WeakKeyDictionary()
        self._closers = weakref.WeakKeyDictionary()
        self._link = self._given_link = None  # the parent's connections are not ours
        if self.endpoint is not None:
            self._client = None
        self._leases = {}
        self._keeper = None
        self._generations_loaded = False
        self.breaker.after_fork()
        self.events.after_fork()
        for listener in list(self.listeners):
            listener.on_fork()


_BACKENDS: weakref.WeakSet[RedisBackend] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for backend in list(_BACKENDS):
        backend.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
