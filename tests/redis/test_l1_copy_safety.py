"""l1_copy=True over Redis without a secret: L1 keeps a pickled copy, Redis gets the value.

Before, the pickled bytes themselves went to Redis, in an unsigned JSON entry, and a read
unpickled whatever Redis held: anyone who could write to the keyspace could run code in
every process (without a secret an entry carries only a checksum, which a writer can make).
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import redis

import memo

FLAG = "memo_test_l1_copy_flag"


def _ran() -> None:
    setattr(sys.modules[__name__], FLAG, True)


class _RunsCode:
    """Unpickling this calls _ran(): a stand-in for arbitrary code."""

    def __reduce__(self) -> Any:
        return (_ran, ())


def test_a_forged_pickle_in_redis_is_never_unpickled(redis_url: str, namespace: str) -> None:
    """An unsigned entry whose value is pickle bytes (what an attacker, or an old writer,
    puts there) reaches the caller as those bytes at worst; it is never unpickled."""
    store = memo.RedisStore(redis_url, namespace=namespace)  # no secret: json, checksummed

    @memo.cached(store=store, l1_copy=True)
    def get(x: int) -> Any:
        return {"x": x}

    remote = get.cache_key(1)
    forged = pickle.dumps(_RunsCode())
    data, _ = store.entries.encode(remote, forged, None, delta=0.0, soft=None, generation=0)
    with redis.Redis.from_url(redis_url) as client:
        client.set(remote, data)
    setattr(sys.modules[__name__], FLAG, False)
    value = get(1)
    assert getattr(sys.modules[__name__], FLAG) is False  # nothing ran
    assert value == forged  # what the entry holds, copied; not unpickled


def test_l1_copy_values_reach_redis_as_values(redis_url: str, namespace: str) -> None:
    """Another process (here, another store) reads the value itself from Redis, and the
    entry's bytes hold JSON, not a pickle."""
    writer = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
    reader = memo.RedisStore(redis_url, namespace=namespace)

    def load(x: int) -> dict[str, list[int]]:
        return {"items": [x, x + 1]}

    load.__qualname__ = "shared_load"
    mine = memo.cached(store=writer, l1_copy=True)(load)
    theirs = memo.cached(store=reader, l1_copy=True)(load)
    first = mine(3)
    first["items"].append(99)  # a caller mutates its result...
    assert mine(3) == {"items": [3, 4]}  # ...and the next caller gets a clean copy
    assert theirs(3) == {"items": [3, 4]}
    assert theirs.stats.l2_hits == 1
    with redis.Redis.from_url(redis_url) as client:
        raw = client.get(mine.cache_key(3))
    assert raw is not None and b"\x80\x05" not in raw  # no pickle protocol marker
