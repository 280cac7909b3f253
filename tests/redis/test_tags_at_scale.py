"""invalidate_tag at scale: chunked, a bounded number of round trips, on a server and a cluster."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
import redis

import memo
from memo._keys.key import LazyCacheKey
from memo._redis import tagging
from memo._redis._sync import executor

MEMBERS = 2_500


def _client(url: str, topology: str) -> Any:
    if topology == "cluster":
        host, port = url.removeprefix("redis+cluster://").split(",")[0].split(":")
        return redis.RedisCluster(host=host, port=int(port))
    return redis.Redis.from_url(url)


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
def test_a_large_tag_goes_in_chunks_with_its_leases(
    topology: str, request: pytest.FixtureRequest, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,500 members, one of them with a compute in flight (a lease, no entry yet): every
    entry and that lease are removed, the set is gone, and the requests sent are the pops
    and one per chunk, not one per member."""
    if topology == "cluster":
        url = str(request.getfixturevalue("redis_cluster").seeds_url)
    else:
        url = str(request.getfixturevalue("redis_url"))
    store = memo.RedisStore(url, namespace=namespace, socket_timeout=10.0)
    raw = _client(url, topology)
    prefix = f"memo:{namespace}:tests.scale:v1:"
    remotes = [f"{prefix}{{{uuid.uuid4().hex}}}" for _ in range(MEMBERS)]
    try:
        store.backend.set_many([(r, b"entry", 60_000, ("big",)) for r in remotes[:-1]])
        in_flight = remotes[-1]  # a tagged miss registered, then claimed, still computing
        lease = LazyCacheKey(in_flight, lambda _local, _values: in_flight, ())
        assert store.backend.claim(lease, "token", tags=("big",)) is True
        sent = [0]
        original = executor.send_sync

        def counted(client: Any, request: Any) -> Any:
            sent[0] += 1
            return original(client, request)

        monkeypatch.setattr(executor, "send_sync", counted)
        removed = store.backend.delete_tag("big")
        monkeypatch.setattr(executor, "send_sync", original)
        chunks = math.ceil(MEMBERS / tagging.TAG_CHUNK)
        # the first read, one per chunk (two on a cluster: deletes, then SREM), the tag event
        assert sent[0] == chunks * (2 if topology == "cluster" else 1) + 2
        assert set(removed) >= set(remotes[:-1])
        assert raw.exists(store.backend.tag_key("big")) == 0
        assert sum(raw.exists(r) for r in remotes[:50]) == 0
        assert raw.exists(store.backend.entry_key(in_flight)) == 0  # the fence: lease gone
    finally:
        raw.close()
        store.close()
