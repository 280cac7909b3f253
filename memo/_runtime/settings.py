"""Process-wide settings: the default store, the namespace, and every decorated function.

`configure()` swaps the default store for functions decorated before the call too: each
decorated function registers here and is re-pointed, so its hit path never has to ask.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from memo._redis.store import RedisStore
from memo._stores.memory import MemoryStore
from memo._stores.protocol import Store
from memo._stores.tiered import TieredStore

if TYPE_CHECKING:
    from memo._runtime.core import Core

__all__ = ["Settings", "default_store", "settings", "tiered"]


def tiered(
    url: str,
    *,
    namespace: str,
    secret: Any,
    serializer: Any,
    l1_maxsize: int,
    l1_ttl: float | None,
) -> Store:
    """L1 over a RedisStore at url: what configure(redis_url=...) and MEMO_REDIS_URL mean."""
    l2 = RedisStore(url, namespace=namespace, secret=secret, serializer=serializer)
    return TieredStore(MemoryStore(l1_maxsize, l1_ttl), l2)


def default_store() -> Store:
    """The store before any configure(): L1 only, or L1 over Redis if MEMO_REDIS_URL is set."""
    url = os.environ.get("MEMO_REDIS_URL") or None
    if url is None:
        return MemoryStore()
    return tiered(
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
