"""The colour-free part of memo's Django cache backend: keys, timeouts, values, the store.

A Django key (`make_and_validate_key`: KEY_PREFIX, VERSION, KEY_FUNCTION) becomes a memo
`CacheKey`: the made key itself in L1, and `memo:{namespace}:django.cache:v1:{<xxh3>}` in
Redis. Every entry of the cache shares one generation, `django.cache:v1`: `clear()` moves it,
so the namespace's old entries become misses in every process without KEYS or FLUSHDB.

Values are pickled once, at `set()`: L1 and Redis both keep those bytes, so a caller that
mutates what it stored or read never changes the cached copy (as Django's locmem backend).
Redis entries are HMAC-signed (`memo.django` requires the secret), so the bytes unpickled
were written by a holder of the secret.
"""

from __future__ import annotations

import pickle
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from memo._clock import CLOCK
from memo._keys.canonical import digest
from memo._keys.key import CacheKey
from memo._policy import trace
from memo._policy.entry import FOREVER, Entry
from memo._stores.tiered import TieredStore

__all__ = ["DEFAULT", "GENERATION", "CacheBase", "PickledBytes", "lease_token"]

DEFAULT: Any = object()  # "the cache's default timeout" (Django's DEFAULT_TIMEOUT means it too)

GENERATION = "django.cache:v1"  # the generation every entry of a Django cache shares
LEASE_ATTEMPTS = 200  # incr/add/touch retry a lease held by a concurrent writer this often
LEASE_PAUSE = 0.005  # seconds between attempts (bounded: 1 s in all)


class PickledBytes:
    """The L2 serializer of the Django backend: the value is already pickled bytes.

    The codec hands `loads` only entries whose HMAC tag it verified, and the backend then
    unpickles them; pickling happens once, at `set()`.
    """

    __slots__ = ()
    name = "django-pickle"

    def dumps(self, value: Any) -> bytes:
        return bytes(value)

    def loads(self, data: bytes) -> Any:
        return bytes(data)


def lease_token() -> str:
    """A token no other writer holds (the lease key's value while this one holds it)."""
    return secrets.token_hex(8)


class CacheBase:
    """What the operations in both colours share; `memo.django.MemoCache` supplies
    `make_and_validate_key` and `ttl_of` (Django's timeout rules)."""

    store: TieredStore
    prefix: str  # the Redis key of a made key is prefix + "{digest}"

    make_and_validate_key: Callable[..., str]

    def ttl_of(self, timeout: Any) -> float | None:
        raise NotImplementedError

    def key_of(self, key: Any, version: int | None) -> CacheKey:
        """The memo key of Django key `key` at `version`."""
        made = self.make_and_validate_key(key, version=version)
        return CacheKey(made, f"{self.prefix}{{{digest(made.encode())}}}")

    @staticmethod
    def pack(value: Any) -> bytes:
        """The bytes both tiers keep (pickling errors reach the caller, as in Django)."""
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def unpack(entry: Entry) -> Any:
        """A fresh copy of the value entry holds."""
        return pickle.loads(entry.value)

    @staticmethod
    def remaining(entry: Entry) -> float | None:
        """The seconds entry has left (None: no expiry), for writes that keep its timeout."""
        if entry.expires == FOREVER:
            return None
        return max(entry.expires - CLOCK.monotonic(), 0.001)

    @staticmethod
    @contextmanager
    def traced(*keys: CacheKey) -> Iterator[None]:
        """One Django operation is one memo call: its traces close when it ends."""
        try:
            yield
        finally:
            for key in reversed(keys):
                trace.close(key)
