"""The lease keeper extends a lease while its compute runs, and only then: a compute that
ends without releasing (a task destroyed, a loop stopped at a graceful shutdown) gets its
lease given back, so other processes do not wait `lock_timeout` on a value that never comes.
Found by the soak: a worker restarted mid-compute kept its lease extended for 10 s."""

from __future__ import annotations

import asyncio
import threading
import time

import redis

from memo._keys.key import CacheKey
from memo._redis.backend import RedisBackend
from memo._redis.client import parse_url

LEASE_TTL = 0.6  # the keeper looks every third of it


def _lease_gone(client: redis.Redis, lease: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not client.exists(lease):
            return True
        time.sleep(0.02)
    return False


def test_a_lease_whose_task_ended_unreleased_is_given_back(redis_url: str, namespace: str) -> None:
    """A task claims and ends without a release: the keeper releases its lease."""
    backend = RedisBackend(parse_url(redis_url), namespace=namespace, lease_ttl=LEASE_TTL)
    key = CacheKey(("keeper", 1), f"memo:{namespace}:keeper:1")

    async def claims_and_vanishes() -> bool | None:
        return await backend.aclaim(key, "token-1")

    try:
        assert asyncio.run(claims_and_vanishes()) is True
        with redis.Redis.from_url(redis_url) as client:
            assert client.exists(key.remote + ":lease")
            assert _lease_gone(client, key.remote + ":lease", within=5 * LEASE_TTL)
    finally:
        backend.close()


def test_a_lease_is_kept_while_its_thread_computes(redis_url: str, namespace: str) -> None:
    """A live compute keeps its lease past several TTLs; once its thread ends, it is freed."""
    backend = RedisBackend(parse_url(redis_url), namespace=namespace, lease_ttl=LEASE_TTL)
    key = CacheKey(("keeper", 2), f"memo:{namespace}:keeper:2")
    claimed = threading.Event()
    finish = threading.Event()

    def computes() -> None:
        assert backend.claim(key, "token-2") is True
        claimed.set()
        finish.wait(10)  # computing; returns without a release

    worker = threading.Thread(target=computes)
    worker.start()
    try:
        assert claimed.wait(5)
        with redis.Redis.from_url(redis_url) as client:
            time.sleep(3 * LEASE_TTL)
            assert client.exists(key.remote + ":lease")  # extended while computing
            finish.set()
            worker.join(5)
            assert _lease_gone(client, key.remote + ":lease", within=5 * LEASE_TTL)
    finally:
        finish.set()
        backend.close()
