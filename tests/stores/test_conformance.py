"""One conformance suite for every store (memory, redis, tiered), sync and async."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import memo
from memo._keys.key import CacheKey
from memo.testing import FakeClock

STORES = ["memory", "redis", "tiered"]
_COUNTER = itertools.count()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, namespace: str) -> Iterator[Any]:
    """A fresh store of each kind; Redis ones on the session server in their own namespace."""
    kind = request.param
    if kind == "memory":
        made: Any = memo.MemoryStore()
    else:
        url = request.getfixturevalue("redis_url")
        redis_store = memo.RedisStore(url, namespace=namespace, secret="conformance")
        made = redis_store if kind == "redis" else memo.TieredStore(memo.MemoryStore(), redis_store)
    yield made
    made.close()


@pytest.fixture(params=["sync", "async"])
def ops(request: pytest.FixtureRequest, store: Any) -> Ops:
    """The store's operations in one colour."""
    return Ops(store, request.param == "async")


class Ops:
    """Calls a store's sync methods, or runs its async twins to completion."""

    def __init__(self, store: Any, use_async: bool) -> None:
        self.store = store
        self.use_async = use_async
        self.namespace = getattr(store, "namespace", "default")

    def key(self) -> CacheKey:
        n = next(_COUNTER)
        remote = f"memo:{self.namespace}:conformance:v1:{{{n:032x}}}"
        return CacheKey(("conformance", n), lambda: remote)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.use_async:
            method: Callable[..., Any] = getattr(self.store, _ASYNC.get(name, "a" + name))
            return asyncio.run(method(*args, **kwargs))
        return getattr(self.store, name)(*args, **kwargs)

    def get(self, key: CacheKey) -> Any:
        entry = self._call("get", key)
        return None if entry is None else entry.value

    def set(self, key: CacheKey, value: Any, ttl: float | None = None, **kw: Any) -> Any:
        return self._call("set", key, value, ttl, **kw)

    def delete(self, key: CacheKey) -> bool:
        return bool(self._call("delete", key))

    def delete_tag(self, tag: str) -> int:
        return int(self._call("delete_tag", tag))

    def claim(self, key: CacheKey, token: str) -> Any:
        return self._call("claim", key, token)

    def release(self, key: CacheKey, token: str) -> None:
        self._call("release", key, token)


_ASYNC = {"wait": "await_fill"}

VALUES = [
    {"name": "ann", "tags": ["a", "b"], "age": 3},
    [1, 2.5, None, "x"],
    ("tuple", 1),
    b"\x00bytes",
    0,
    "",
]


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_set_then_get(ops: Ops, value: Any) -> None:
    """What is stored comes back equal and of the same type."""
    key = ops.key()
    ops.set(key, value)
    got = ops.get(key)
    assert got == value
    assert type(got) is type(value)


def test_missing_is_none(ops: Ops) -> None:
    """A key never stored is a miss."""
    assert ops.get(ops.key()) is None


def test_delete_reports_removal(ops: Ops) -> None:
    """delete is True for a stored key, then False."""
    key = ops.key()
    ops.set(key, 1)
    assert ops.delete(key) is True
    assert ops.get(key) is None
    assert ops.delete(key) is False


def test_overwrite(ops: Ops) -> None:
    """A second set replaces the value."""
    key = ops.key()
    ops.set(key, 1)
    ops.set(key, 2)
    assert ops.get(key) == 2


def test_ttl_expires(ops: Ops) -> None:
    """An entry is gone once its TTL has passed (fake clock: entries carry their expiry)."""
    key = ops.key()
    with FakeClock() as clock:
        ops.set(key, "v", 30)
        clock.advance(29)
        assert ops.get(key) == "v"
        clock.advance(2)
        assert ops.get(key) is None


def test_nx_keeps_existing(ops: Ops) -> None:
    """mode='nx' writes only where nothing is stored."""
    key = ops.key()
    assert ops.set(key, "first", mode="nx") is True
    assert ops.set(key, "second", mode="nx") is False
    assert ops.get(key) == "first"


def test_tags(ops: Ops) -> None:
    """delete_tag removes every entry with the tag and only those."""
    tag = f"t{next(_COUNTER)}"
    a, b, c = ops.key(), ops.key(), ops.key()
    ops.set(a, 1, tags=(tag,))
    ops.set(b, 2, tags=(tag, "other"))
    ops.set(c, 3)
    assert ops.delete_tag(tag) == 2
    assert (ops.get(a), ops.get(b), ops.get(c)) == (None, None, 3)
    assert ops.delete_tag(tag) == 0


def test_claim(ops: Ops) -> None:
    """A lease goes to one claimant at a time (always granted in a single process store)."""
    key = ops.key()
    assert ops.claim(key, "one") is True
    second = ops.claim(key, "two")
    if isinstance(ops.store, memo.MemoryStore):
        assert second is True
    else:
        assert second is False
        ops.release(key, "one")
        assert ops.claim(key, "two") is True


def test_write_with_lost_lease_is_refused(ops: Ops) -> None:
    """A write carrying a lease token is refused once an invalidation ended the lease."""
    key = ops.key()
    assert ops.claim(key, "holder") is True
    ops.delete(key)  # an invalidation also ends the lease
    assert ops.set(key, "late", token="holder") is False
    assert ops.get(key) is None


def test_write_with_held_lease_lands(ops: Ops) -> None:
    """A write carrying the token of the lease it holds is stored and ends the lease."""
    key = ops.key()
    assert ops.claim(key, "holder") is True
    assert ops.set(key, "mine", token="holder") is True
    assert ops.get(key) == "mine"
    assert ops.claim(key, "next") is True


def test_plain_write_ends_a_lease(ops: Ops) -> None:
    """An authoritative write (refresh, write-through) ends a compute's lease in flight."""
    key = ops.key()
    assert ops.claim(key, "old-compute") is True
    assert ops.set(key, "newer") is True
    assert ops.set(key, "older", token="old-compute") is False
    assert ops.get(key) == "newer"
