"""Process-wide settings: the default store, the namespace, and every decorated function.

`configure()` swaps the default store for functions decorated before the call too: each
decorated function registers here and is re-pointed, so its hit path never has to ask.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from memo._errors import ConfigurationError
from memo._keys.builder import valid_segment
from memo._runtime import fleet as _fleet
from memo._stores.memory import MemoryStore
from memo._stores.protocol import Store

if TYPE_CHECKING:
    from memo._runtime.core import Core

__all__ = ["configure", "settings"]


def _tiered(
    url: str,
    *,
    namespace: str,
    secret: Any,
    serializer: Any,
    l1_maxsize: int,
    l1_ttl: float | None,
) -> Store:
    """L1 over a RedisStore at url: what configure(redis_url=...) and MEMO_REDIS_URL mean."""
    from memo._redis.store import RedisStore  # noqa: PLC0415 - keeps `import memo` light
    from memo._stores.tiered import TieredStore  # noqa: PLC0415

    l2 = RedisStore(url, namespace=namespace, secret=secret, serializer=serializer)
    return TieredStore(MemoryStore(l1_maxsize, l1_ttl), l2)


def default_store() -> Store:
    """The store before any configure(): L1 only, or L1 over Redis if MEMO_REDIS_URL is set."""
    url = os.environ.get("MEMO_REDIS_URL") or None
    if url is None:
        return MemoryStore()
    return _tiered(
        url, namespace="default", secret=None, serializer=None, l1_maxsize=10_000, l1_ttl=None
    )


class Settings:
    """What `configure()` sets."""

    def __init__(self) -> None:
        self.namespace = "default"
        self.store: Store = default_store()
        self.l1_copy = False
        self.cores: weakref.WeakSet[Core] = weakref.WeakSet()
        self.lock = threading.Lock()

    def register(self, core: Core) -> None:
        """Track a decorated function so configure() can re-point it."""
        with self.lock:
            self.cores.add(core)

    def all_cores(self) -> list[Core]:
        """Every live decorated function."""
        with self.lock:
            return list(self.cores)

    def stores(self) -> list[Store]:
        """The default store and every explicit store in use, each once."""
        seen: dict[int, Store] = {id(self.store): self.store}
        for core in self.all_cores():
            seen.setdefault(id(core.store), core.store)
        return [store for store in seen.values() if not getattr(store, "closed", False)]


settings = Settings()


def _after_fork_in_child() -> None:
    settings.lock = threading.Lock()  # a thread of the parent may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def configure(
    *,
    store: Store | None = None,
    redis_url: str | None = None,
    namespace: str = "default",
    secret: str | bytes | list[str | bytes] | None = None,
    serializer: Any = None,
    l1_maxsize: int = 10_000,
    l1_ttl: float | None = None,
    l1_copy: bool = False,
) -> None:
    """Replace the default store (also for functions decorated earlier).

    With no arguments: a fresh L1-only `MemoryStore`. `redis_url` (or `MEMO_REDIS_URL`)
    puts Redis under L1 as a shared L2 tier.
    """
    if not isinstance(namespace, str) or not valid_segment(namespace) or len(namespace) > 64:
        raise ConfigurationError(
            f"configure(namespace={namespace!r}): the namespace becomes part of every key; "
            "use 1-64 letters, digits, '.', '_' or '-'."
        )
    url = redis_url if redis_url is not None else (os.environ.get("MEMO_REDIS_URL") or None)
    if store is not None and redis_url is not None:
        raise ConfigurationError(
            "configure(): pass either store= or redis_url=, not both; to combine tiers "
            "yourself use store=memo.TieredStore(memo.MemoryStore(), memo.RedisStore(url))."
        )
    if url is None and (secret is not None or serializer is not None):
        raise ConfigurationError(
            "configure(secret=..., serializer=...) configure the Redis tier: pass redis_url= "
            "(or set MEMO_REDIS_URL) too, or leave them out for the in-process store."
        )
    if store is None and url is not None:
        store = _tiered(
            url,
            namespace=namespace,
            secret=secret,
            serializer=serializer,
            l1_maxsize=l1_maxsize,
            l1_ttl=l1_ttl,
        )
    new_store = store if store is not None else MemoryStore(l1_maxsize, l1_ttl)
    old_store = settings.store
    settings.namespace = namespace
    settings.store = new_store
    settings.l1_copy = l1_copy
    for core in settings.all_cores():
        core.rebind()
    if url is not None:
        _fleet.start_from_env(new_store)  # publish counters for `memo stats` fleet-wide
    if old_store is not new_store and old_store is not store:
        old_store.close()
