"""L2 on its own: a Redis backend with the entry codec above it, the store protocol's face.

`RedisStore` is what users configure (`store=memo.RedisStore(url)`, or the l2 of a
TieredStore). It holds a bytes-level `RedisBackend` (`_redis/backend.py`: clients, breaker,
leases, generations, events) and the `Entries` codec (`_redis/entries.py`); its I/O methods
are written once (`_redis/_async/store.py`, the sync ones generated).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Hashable, MutableMapping
from typing import Any

from memo._codec.envelope import Codec
from memo._errors import ConfigurationError
from memo._keys.builder import valid_segment
from memo._policy.entry import Entry, RemoteEntry
from memo._redis._async.store import AsyncStore
from memo._redis._sync.store import SyncStore
from memo._redis.backend import RedisBackend
from memo._redis.client import parse_url
from memo._redis.entries import Entries

__all__ = ["RedisStore", "RemoteEntry", "StoreBase"]


class StoreBase:
    """The colour-free part of a RedisStore: its backend, its codec, its hooks."""

    l1: MutableMapping[Hashable, Entry] | None = None

    def __init__(self, backend: RedisBackend, codec: Codec) -> None:
        self.backend = backend
        self.codec = codec
        self.entries = Entries(codec, backend._log)
        self.events = backend.events  # read on every tiered call: a plain attribute, no hop
        self.breaker = backend.breaker
        self.on_close: list[Any] = []  # callables(store) run by close(), e.g. a stats publisher
        _STORES.add(self)

    def __getattr__(self, name: str) -> Any:
        # The store's operational face (events, breaker, client, generations, errors, the
        # executors) is its backend's: reachable under the store as before the split.
        if name == "backend":  # not set yet (unpickling, a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self.backend, name)

    @property
    def corrupt(self) -> int:
        """Entries read from Redis that failed a check."""
        return self.entries.corrupt

    def attach(self, function: Any) -> None:
        """A function's runtime now uses this store (and its entries, its return type)."""
        self.backend.attach(function)
        prefix = function.keys.prefix(self.backend.namespace)
        self.entries.register(prefix, getattr(function, "returns", None))

    def close(self) -> None:
        """Run the on_close hooks, then stop the backend's threads and close its clients."""
        self.backend.closed = True
        for hook in list(self.on_close):
            hook(self)
        self.backend.close()


class RedisStore(SyncStore, AsyncStore, StoreBase):
    """The shared tier: entries in Redis, signed when a secret is given."""

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
        backend = RedisBackend(
            parse_url(url) if url is not None else None,
            client=client,
            async_client=async_client,
            namespace=namespace,
            socket_timeout=socket_timeout,
            on_error=on_error,
            lease_ttl=lease_ttl,
        )
        super().__init__(backend, Codec(serializer, secret))

    def __repr__(self) -> str:
        return f"RedisStore({self.backend.name!r}, namespace={self.backend.namespace!r})"


_STORES: weakref.WeakSet[StoreBase] = weakref.WeakSet()  # every store made: tests close them
