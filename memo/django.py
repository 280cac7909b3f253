"""memo as a Django cache backend: Django's cache API over memo's L1 + Redis, kept coherent.

    CACHES = {
        "default": {
            "BACKEND": "memo.django.MemoCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "OPTIONS": {"NAMESPACE": "django"},
        }
    }

Each process keeps recent entries in its own L1 and shares them through Redis; a write or
delete in any process evicts the L1 copies of every other one (memo's coherence events), and
`clear()` forgets the cache's own namespace only. Values are pickled, as with every Django
backend, so Redis entries are HMAC-signed: with the `SECRET` option, else with a key derived
from `settings.SECRET_KEY` (and `SECRET_KEY_FALLBACKS`, so rotating it keeps entries readable).
This module is the only one in memo that imports Django. Guide: docs/django.md.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.utils.crypto import salted_hmac

from memo._django._async.cache import AsyncCacheOps
from memo._django._sync.cache import SyncCacheOps
from memo._django.base import DEFAULT, GENERATION, CacheBase, PickledBytes
from memo._errors import ConfigurationError
from memo._keys.builder import GENERATION_FLOOR
from memo._redis.store import RedisStore
from memo._stores.memory import MemoryStore
from memo._stores.tiered import TieredStore

__all__ = ["MemoCache"]

_OPTIONS = {
    "NAMESPACE": "django",  # memo's namespace: the Redis keys are memo:{NAMESPACE}:django.cache:…
    "SECRET": None,  # signs Redis entries; None: derived from settings.SECRET_KEY
    "L1_MAXSIZE": 10_000,  # entries kept in each process
    "L1_TTL": None,  # seconds an L1 copy may live at most (None: the entry's own timeout)
    "SOCKET_TIMEOUT": 0.2,  # seconds before a Redis command counts as failed (fail-open)
}
_SALT = "memo.django.MemoCache"


class MemoCache(SyncCacheOps, AsyncCacheOps, CacheBase, BaseCache):
    """A Django cache backend over a memo `TieredStore` (L1 in the process, L2 in Redis)."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(params)
        options = _options(params.get("OPTIONS", {}))
        url = _location(server)
        secret = options["SECRET"] or _derived_secret()
        namespace = options["NAMESPACE"]
        self.prefix = f"memo:{namespace}:{GENERATION}:"
        self.store = _shared_store(
            _Config(
                url,
                namespace,
                tuple(secret) if isinstance(secret, list) else (secret,),
                options["L1_MAXSIZE"],
                options["L1_TTL"],
                options["SOCKET_TIMEOUT"],
            )
        )

    def ttl_of(self, timeout: Any) -> float | None:
        """Django's timeout rules: the default, None (forever), 0 or less (expire now)."""
        if timeout is DEFAULT or timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        return float(timeout) if timeout > 0 else 0.0

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        """Subtract delta from the number under key (ValueError if key holds nothing)."""
        return self.incr(key, -delta, version)

    async def adecr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        """Subtract delta from the number under key (ValueError if key holds nothing)."""
        return await self.aincr(key, -delta, version)


def _options(given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"memo.django.MemoCache: unknown OPTIONS {unknown}; the options are "
            f"{sorted(_OPTIONS)} (memo bounds each process's L1 with L1_MAXSIZE and leaves "
            "Redis's size to its maxmemory, so MAX_ENTRIES and CULL_FREQUENCY do not apply)."
        )
    return {**_OPTIONS, **given}


def _location(server: str | list[str]) -> str:
    servers = [server] if isinstance(server, str) else list(server)
    servers = [part for entry in servers for part in entry.replace(",", ";").split(";") if part]
    if len(servers) != 1:
        raise ConfigurationError(
            f"memo.django.MemoCache: LOCATION={server!r} must be one Redis URL "
            "(redis://, rediss://, redis+sentinel:// or a cluster URL), e.g. "
            "'redis://127.0.0.1:6379/0'."
        )
    return servers[0]


def _derived_secret() -> list[str]:
    """Signing keys from SECRET_KEY and its fallbacks (newest last, as memo rotates)."""
    keys = [*getattr(settings, "SECRET_KEY_FALLBACKS", ()), settings.SECRET_KEY]
    if not keys[-1]:
        raise ConfigurationError(
            "memo.django.MemoCache signs its Redis entries: set settings.SECRET_KEY, or give "
            "the cache a secret with OPTIONS={'SECRET': '...'}."
        )
    return [salted_hmac(_SALT, "entries", secret=key).hexdigest() for key in keys]


class _Config(NamedTuple):
    """What makes two Django cache aliases share one store in a process."""

    url: str
    namespace: str
    secret: tuple[Any, ...]
    l1_maxsize: int
    l1_ttl: float | None
    socket_timeout: float


_SHARED: dict[_Config, TieredStore] = {}
_SHARED_LOCK = threading.Lock()


def _shared_store(config: _Config) -> TieredStore:
    """One store per configuration and process: Django makes a backend object per thread and
    per task, and they must share one L1, one Redis client and one events connection."""
    with _SHARED_LOCK:
        store = _SHARED.get(config)
        if store is None or store.closed:
            store = _SHARED[config] = _tiered(config)
        return store


def _tiered(config: _Config) -> TieredStore:
    redis = RedisStore(
        config.url,
        namespace=config.namespace,
        secret=list(config.secret),
        serializer=PickledBytes(),
        socket_timeout=config.socket_timeout,
    )
    store = TieredStore(MemoryStore(config.l1_maxsize, config.l1_ttl), redis)
    redis.events.sinks.append(_Cleared(store))
    return store


class _Cleared:
    """Hears another process's clear(): this process's L1 copies of the cache go too."""

    def __init__(self, store: TieredStore) -> None:
        self.store = store

    def on_generation(self, name: str, generation: int) -> None:
        if name in (GENERATION, GENERATION_FLOOR):  # the floor moves every generation
            self.store.memory.clear()

    def on_key(self, remote: str) -> None:
        """The TieredStore evicts single keys itself."""

    def on_tag(self, tag: str) -> None:
        """The cache stores no tags."""

    def on_coherence(self, healthy: bool) -> None:
        """The TieredStore flushes L1 itself."""
