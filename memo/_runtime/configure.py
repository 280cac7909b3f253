"""`memo.configure()`: swap the default store, also for functions decorated earlier."""

from __future__ import annotations

import os
from typing import Any

from memo._errors import ConfigurationError
from memo._keys.builder import valid_segment
from memo._runtime import publisher
from memo._runtime.settings import settings, tiered
from memo._stores.memory import MemoryStore
from memo._stores.protocol import Store

__all__ = ["configure"]


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
        store = tiered(
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
        publisher.start_from_env(new_store)  # publish counters for `memo stats` fleet-wide
    if old_store is not new_store and old_store is not store:
        old_store.close()
