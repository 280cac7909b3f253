"""Foreign values at memo's own keys: detected, logged and repaired; never a silent no-op or
a long wait. Anyone who can write to the keyspace may put them there (docs: security)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

import memo

SECRET = "squatters"
pytestmark = pytest.mark.timeout(60)


def stack(url: str, namespace: str) -> memo.TieredStore:
    """One process's L1 over Redis (another process, as far as Redis can tell)."""
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret=SECRET)
    )


def reader(store: memo.TieredStore, rows: dict[int, str], **options: Any) -> Any:
    """A cached read of rows, with one qualname in every stack (shared keys)."""

    def read(key: int) -> str:
        return rows.get(key, "-")

    read.__qualname__ = "squatters_read"
    return memo.cached(ttl=300, store=store, **options)(read)


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def subscribed(*stores: memo.TieredStore) -> None:
    for store in stores:
        store.redis.events.ensure_started()
    assert wait_for(lambda: all(s.redis.events.healthy for s in stores))


def test_a_lease_without_ttl_is_taken_over(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A value without a TTL at a key's lease: the miss takes the lease over at once (no
    lock_timeout wait), logs it, and leaves no lease behind."""
    store = stack(redis_url, namespace)
    read = reader(store, {1: "one"}, lock_timeout=120.0)
    lease = read.cache_key(1) + ":lease"
    client = redis.Redis.from_url(redis_url)
    client.set(lease, "squatter")  # no TTL
    with caplog.at_level(logging.WARNING, logger="memo"):
        assert read(1) == "one"
    assert read.stats.waits == 0
    assert client.exists(lease) == 0
    assert "held a value memo did not make" in caplog.text
    store.close()


def test_a_list_at_the_generations_key_is_repaired_and_invalidate_all_takes_effect(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A list at the generations hash: invalidate_all() repairs it (logged) and still makes
    every process miss what was stored before, instead of failing with WRONGTYPE forever."""
    rows = {1: "old"}
    store_a, store_b = stack(redis_url, namespace), stack(redis_url, namespace)
    read_a, read_b = reader(store_a, rows), reader(store_b, rows)
    subscribed(store_a, store_b)
    assert read_a(1) == read_b(1) == "old"
    client = redis.Redis.from_url(redis_url)
    key = f"memo:{namespace}:generations"
    client.delete(key)
    client.rpush(key, "squatter")
    rows[1] = "new"
    with caplog.at_level(logging.WARNING, logger="memo"):
        read_a.invalidate_all()
    assert client.type(key) == b"hash"
    assert "held something else than memo's hash" in caplog.text
    assert read_a(1) == "new"
    assert wait_for(lambda: read_b(1) == "new")
    late = stack(redis_url, namespace)  # a process started after the repair
    assert reader(late, rows)(1) == "new"
    for store in (store_a, store_b, late):
        store.close()


def test_a_string_at_a_tag_set_still_invalidates_everywhere(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A string at a tag's set: invalidate_tag repairs it (logged) and the other process
    stops serving the old value, instead of returning as if done."""
    rows = {1: "old"}
    store_a, store_b = stack(redis_url, namespace), stack(redis_url, namespace)
    read_a = reader(store_a, rows, tags=["row:{key}"])
    read_b = reader(store_b, rows, tags=["row:{key}"])
    subscribed(store_a, store_b)
    assert read_a(1) == read_b(1) == "old"
    client = redis.Redis.from_url(redis_url)
    tag_key = f"memo:{namespace}:tag:row:1"
    client.delete(tag_key)
    client.set(tag_key, "squatter")
    rows[1] = "new"
    with caplog.at_level(logging.WARNING, logger="memo"):
        store_a.delete_tag("row:1")
    assert "not memo's set" in caplog.text
    assert client.exists(tag_key) == 0
    assert read_a(1) == "new"
    assert wait_for(lambda: read_b(1) == "new")
    store_a.close()
    store_b.close()
