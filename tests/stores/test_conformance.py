"""One conformance suite for every store (memory, redis, tiered) and every L2 backend (Redis
standalone and Cluster, at the bytes level), sync and async."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import memo
from memo._keys.key import CacheKey, LazyCacheKey
from memo._redis.backend import RedisBackend
from memo._redis.client import parse_url
from memo._stores.backend import L2Backend
from memo.testing import FakeClock

STORES = ["memory", "redis", "tiered"]
# These tests check what a store does, not how it degrades (tests/system/test_faults.py does):
# on a loaded machine a reply slower than the default 0.2 s must not turn into a miss here.
SEMANTICS_TIMEOUT = 3.0
_COUNTER = itertools.count()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, namespace: str) -> Iterator[Any]:
    """A fresh store of each kind; Redis ones on the session server in their own namespace."""
    kind = request.param
    if kind == "memory":
        made: Any = memo.MemoryStore()
    else:
        url = request.getfixturevalue("redis_url")
        redis_store = memo.RedisStore(
            url, namespace=namespace, secret="conformance", socket_timeout=SEMANTICS_TIMEOUT
        )
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
        return LazyCacheKey(("conformance", n), lambda _local, _values: remote, ())

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

    def fetch(self, key: CacheKey, token: str) -> Any:
        return self._call("fetch", key, token)

    def store_token(self, key: CacheKey, first: str, second: str) -> str:
        """The token holding key's lease after two fetches: the second caller's in a single
        process store (always granted), else the first's."""
        return second if isinstance(self.store, memo.MemoryStore) else first


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


def test_fetch_answers_the_entry_or_grants_the_lease(ops: Ops) -> None:
    """fetch: (None, True) when nothing is stored, then (None, False) to another caller
    across processes; a stored value comes back as the entry, with no lease taken."""
    key = ops.key()
    assert ops.fetch(key, "one") == (None, True)
    entry, claimed = ops.fetch(key, "two")
    assert entry is None
    assert claimed is isinstance(ops.store, memo.MemoryStore)
    assert ops.set(key, "value", token=ops.store_token(key, "one", "two")) is True
    entry, claimed = ops.fetch(key, "three")
    assert (entry.value, claimed) == ("value", None)


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


def test_batches(ops: Ops) -> None:
    """set_many then get_many: values back in order, a missing key as None."""
    keys = [ops.key() for _ in range(3)]
    items = [(key, {"n": i}, None, 0.0, (), None) for i, key in enumerate(keys)]
    assert ops._call("set_many", items) == 3
    entries = ops._call("get_many", [*keys, ops.key()])
    assert [None if e is None else e.value for e in entries] == [{"n": 0}, {"n": 1}, {"n": 2}, None]


def test_generation_bump(ops: Ops) -> None:
    """bump_generation moves a function to a newer generation (None: a store without one)."""
    bumped = ops._call("bump_generation", "conformance")
    assert bumped is None or bumped > 0


# -- the bytes level: every L2 backend, sync and async ------------------------------------

BACKENDS = ["redis", "cluster"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, namespace: str) -> Iterator[Any]:
    """A fresh Redis backend (standalone or Cluster) in its own namespace; no codec above it."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        url = request.getfixturevalue("redis_cluster").url
    made = RedisBackend(parse_url(url), namespace=namespace, socket_timeout=SEMANTICS_TIMEOUT)
    yield made
    made.close()


@pytest.fixture(params=["sync", "async"])
def raw(request: pytest.FixtureRequest, backend: Any) -> Raw:
    """The backend's operations in one colour."""
    return Raw(backend, request.param == "async")


class Raw(Ops):
    """Calls a backend's sync methods, or runs its async twins to completion."""

    def get(self, key: CacheKey) -> Any:
        return self._call("get", key)

    def set(self, key: CacheKey, value: Any, ttl: float | None = None, **kw: Any) -> Any:
        ttl_ms = 0 if ttl is None else int(ttl * 1000)
        return self._call("set", key, value, ttl_ms, **kw)

    def delete_tag(self, tag: str) -> Any:
        return self._call("delete_tag", tag)


def test_backend_is_an_l2_backend(backend: Any) -> None:
    """The Redis backend has every member of the L2Backend protocol."""
    assert isinstance(backend, L2Backend)


def test_backend_round_trips_bytes(raw: Raw) -> None:
    """What is stored comes back as the same bytes; a key never stored is None."""
    key = raw.key()
    assert raw.get(key) is None
    assert raw.set(key, b"\x00\xffpayload") is True
    assert raw.get(key) == b"\x00\xffpayload"


def test_backend_delete_and_overwrite(raw: Raw) -> None:
    """A second set replaces the bytes; delete is True once, then False."""
    key = raw.key()
    raw.set(key, b"1")
    raw.set(key, b"2")
    assert raw.get(key) == b"2"
    assert raw.delete(key) is True
    assert (raw.get(key), raw.delete(key)) == (None, False)


def test_backend_ttl_is_redis_px(raw: Raw) -> None:
    """Bytes set with a TTL carry it as Redis's PX; without one they persist."""
    timed, forever = raw.key(), raw.key()
    raw.set(timed, b"timed", 30)
    raw.set(forever, b"forever")
    client = raw.store.client
    assert 0 < client.execute_command("PTTL", timed.remote) <= 30_000
    assert client.execute_command("PTTL", forever.remote) == -1


def test_backend_nx_and_leases(raw: Raw) -> None:
    """mode='nx' keeps what is there; a write with a lost lease is refused, a held one lands."""
    key = raw.key()
    assert raw.set(key, b"first", mode="nx") is True
    assert raw.set(key, b"second", mode="nx") is False
    assert raw.claim(key, "holder") is True
    assert raw.claim(key, "other") is False
    assert raw.set(key, b"mine", token="holder") is True
    assert raw.set(key, b"late", token="holder") is False  # the write ended the lease
    raw.release(key, "nobody")
    assert raw.get(key) == b"mine"


def test_backend_fetch_answers_the_entry_or_grants_the_lease(raw: Raw) -> None:
    """fetch: the lease when nothing is stored (once), the bytes and no lease when there are;
    its lease is the one claim and set know (keys in one Cluster slot)."""
    key = raw.key()
    assert raw.fetch(key, "first") == (None, True)
    assert raw.fetch(key, "second") == (None, False)
    assert raw.claim(key, "second") is False
    assert raw.set(key, b"value", token="first") is True
    assert raw.fetch(key, "third") == (b"value", None)
    assert raw.claim(key, "third") is True  # the write ended the lease; fetch took none


def test_backend_fetch_takes_over_a_lease_without_ttl(raw: Raw) -> None:
    """A value memo did not make (no TTL) at the lease is replaced by fetch, as by claim."""
    key = raw.key()
    raw.store.client.execute_command("SET", raw.store.entry_key(key.remote), "squatter")
    assert raw.fetch(key, "mine") == (None, True)
    assert raw.set(key, b"v", token="mine") is True


def test_backend_tags_name_removed_keys(raw: Raw) -> None:
    """delete_tag removes the tagged entries only and names the Redis keys it removed."""
    tag = f"t{next(_COUNTER)}"
    a, b, c = raw.key(), raw.key(), raw.key()
    raw.set(a, b"a", tags=(tag,))
    raw.set(b, b"b", tags=(tag,))
    raw.set(c, b"c")
    assert sorted(raw.delete_tag(tag)) == sorted([a.remote, b.remote])
    assert (raw.get(a), raw.get(b), raw.get(c)) == (None, None, b"c")


def test_backend_batches(raw: Raw) -> None:
    """set_many then get_many: one pipelined round trip each, bytes in order."""
    keys = [raw.key() for _ in range(3)]
    items = [(key.remote, f"v{i}".encode(), 0, ()) for i, key in enumerate(keys)]
    assert raw._call("set_many", items) == 3
    assert raw._call("get_many", [*keys, raw.key()]) == [b"v0", b"v1", b"v2", None]


def test_backend_generations(raw: Raw) -> None:
    """bump_generation moves a function's shared generation up; generation_of reads it."""
    key = raw.key()
    before = raw._call("generation_of", key)
    bumped = raw._call("bump_generation", raw.store.generation_name(key.remote))
    assert bumped is not None and bumped > before
    assert raw._call("generation_of", key) == bumped
