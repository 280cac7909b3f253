"""The key of a call is pure and immutable; invalidate_all() travels in the entries.

`f.cache_key()` is a pure function of namespace, function, version and arguments: in a fresh
process it opens no socket and starts no thread, and it names the key the next call stores
under. A function's generation (moved by `invalidate_all()`) is stamped into each L2 entry
instead of hashed into the key; an entry older than the function's current generation is a
plain miss, in every process, including one started later, and the next write replaces it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

import memo
from memo._cli.app import main
from memo._codec.envelope import FORMAT_VERSION, Codec, Rejected, Stale
from memo._keys.key import CacheKey, LazyCacheKey
from memo._policy import trace

ROOT = Path(__file__).resolve().parents[2]
SECRET = "pure-key-secret"  # the worker's
WORKER_NAME = "__main__.price:v1"  # the generation name of the worker's price()


def worker(url: str, namespace: str, mode: str = "call") -> dict[str, Any]:
    """Run tests/support/pure_key_worker.py in a fresh interpreter; its JSON report."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    # No stats publisher: configure() would start its thread, which is not cache_key()'s.
    env = {**os.environ, "PYTHONPATH": path, "MEMO_STATS_INTERVAL": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.pure_key_worker", url, namespace, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2)


def wait_until(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


# -- purity, in a fresh process ----------------------------------------------------------------


def test_cache_key_in_a_fresh_process_opens_no_socket_and_starts_no_thread(
    redis_url: str, namespace: str
) -> None:
    """Importing memo, configuring Redis, decorating and cache_key(): no connect, no thread;
    and the key is the one the next call stores its value under."""
    report = worker(redis_url, namespace)
    assert report["attempts"] == {"connect": 0, "thread": 0}
    assert report["threads_after_keys"] == report["threads_before"]
    sync_key, same_key, async_key = report["keys"]
    assert sync_key == same_key  # f(7) and f(item=7, currency="EUR") share a key
    assert sync_key.startswith(f"memo:{namespace}:__main__.price:v1:{{")
    assert report["keys_after"] == [sync_key, async_key]
    with client(redis_url) as redis_client:
        assert redis_client.exists(sync_key) == 1
        assert redis_client.exists(async_key) == 1
    assert report["stats"]["misses"] == 1


def test_cache_key_agrees_with_the_next_call_after_invalidate_all(
    redis_url: str, namespace: str
) -> None:
    """With the function at generation 3 in Redis, which a fresh process cannot know before
    its first read, the pure key still names where its next call reads and writes."""
    with client(redis_url) as redis_client:
        redis_client.hset(f"memo:{namespace}:generations", WORKER_NAME, 3)
    report = worker(redis_url, namespace)
    assert report["attempts"] == {"connect": 0, "thread": 0}
    key = report["keys"][0]
    assert report["keys_after"][0] == key
    with client(redis_url) as redis_client:
        data = redis_client.get(key)
    assert data is not None
    assert Codec(secret=SECRET).header(data).generation == 3


# -- invalidate_all across processes -----------------------------------------------------------


def runs(url: str, namespace: str) -> int:
    with client(url) as redis_client:
        return int(redis_client.get(f"memo:{namespace}:counter:price") or 0)


def test_invalidate_all_in_one_process_reaches_a_process_started_later(
    redis_url: str, namespace: str
) -> None:
    """A computes and runs invalidate_all(); B, started afterwards, misses and recomputes
    (same key, new generation); C, started after B, hits what B stored."""
    a = worker(redis_url, namespace, "invalidate_all")
    assert runs(redis_url, namespace) == 1
    b = worker(redis_url, namespace)
    assert b["keys"] == a["keys"]
    assert b["value"]["run"] == 2  # a miss: the entry A stored is of the old generation
    assert b["stats"]["misses"] == 1 and b["stats"]["errors"] == 0
    c = worker(redis_url, namespace)
    assert c["value"] == b["value"]
    assert c["stats"]["l2_hits"] == 1
    assert runs(redis_url, namespace) == 2
    with client(redis_url) as redis_client:
        data = redis_client.get(a["keys"][0])
    assert data is not None
    assert Codec(secret=SECRET).header(data).generation == 1


# -- stale entries, in process -----------------------------------------------------------------


def tiered(url: str, namespace: str) -> memo.TieredStore:
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret="in-process")
    )


def counted() -> tuple[list[int], Any]:
    calls: list[int] = []

    def load(x: int) -> dict[str, int]:
        calls.append(x)
        return {"x": x, "run": len(calls)}

    return calls, load


def test_entry_of_an_old_generation_is_a_miss_and_is_overwritten(
    redis_url: str, namespace: str
) -> None:
    """An entry stamped with an older generation is a miss (not an error, not corrupt), is
    never copied into L1, and the next write replaces it with the current generation."""
    store = tiered(redis_url, namespace)
    calls, source = counted()
    f = memo.cached(ttl=300, store=store)(source)
    f(1)
    key = f.cache_key(1)
    name = next(iter(store.redis.scopes.values()))
    with client(redis_url) as redis_client:
        old = redis_client.get(key)
        assert old is not None and store.redis.codec.header(old).generation == 0
        redis_client.hincrby(f"memo:{namespace}:generations", name, 1)  # as if elsewhere
        store.redis.load_generations()
        # What L2 holds still verifies: only its generation is behind.
        assert store.redis.codec.decode(key, old).value == {"x": 1, "run": 1}
        store.memory.clear()
        assert store.get(CacheKey(("probe", 1), key)) is None
        assert len(store.memory) == 0  # not promoted
        f.stats.reset()
        assert f(1) == {"x": 1, "run": 2}
        assert (f.stats.misses, f.stats.errors, store.redis.corrupt) == (1, 0, 0)
        new = redis_client.get(key)
    assert new is not None and store.redis.codec.header(new).generation == 1
    store.memory.clear()
    assert f(1) == {"x": 1, "run": 2}
    assert f.stats.l2_hits == 1
    assert calls == [1, 1]


def test_a_compute_across_invalidate_all_is_stored_stale(redis_url: str, namespace: str) -> None:
    """A value computed while another process ran invalidate_all() carries the generation
    its lookup saw, so it is stored already stale: the next read recomputes."""
    store_a, store_b = tiered(redis_url, namespace), tiered(redis_url, namespace)
    calls: list[int] = []

    def load(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:  # another process forgets the function meanwhile
            other.invalidate_all()
            assert wait_until(lambda: store_a.redis.generations != {})
        return len(calls)

    f = memo.cached(ttl=300, store=store_a)(load)
    other = memo.cached(ttl=300, store=store_b)(load)
    store_a.redis.events.ensure_started()
    assert wait_until(lambda: store_a.l1_active)
    assert f(1) == 1
    assert f(1) == 2  # the first value was stored under the old generation: a miss
    assert f(1) == 2
    assert calls == [1, 1]


def test_async_reads_check_the_generation(redis_url: str, namespace: str) -> None:
    """The async read path checks generations alike (loading them without blocking)."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret="in-process")
    calls: list[int] = []

    @memo.cached(ttl=300, store=store)
    async def g(x: int) -> int:
        calls.append(x)
        return len(calls)

    async def scenario() -> list[int]:
        seen = [await g(1), await g(1)]
        await g.invalidate_all()
        return [*seen, await g(1), await g(1)]

    assert asyncio.run(scenario()) == [1, 1, 2, 2]
    assert g.stats.errors == 0


# -- the key itself ----------------------------------------------------------------------------


def test_cache_key_cannot_be_mutated() -> None:
    """A CacheKey holds its two keys and nothing else; nothing can be set or removed."""
    key = CacheKey(("local", 1), "memo:ns:m.f:v1:{00}")
    for name in ("local", "remote", "failed", "error", "outage", "soft_rule", "anything"):
        with pytest.raises(AttributeError):
            setattr(key, name, True)
    with pytest.raises(AttributeError):
        del key.local
    assert not hasattr(key, "__dict__")
    assert (key.local, key.remote) == (("local", 1), "memo:ns:m.f:v1:{00}")


def test_lazy_remote_is_computed_once() -> None:
    """A Redis key handed over as a callable is computed on first use, then kept."""
    made: list[tuple[object, ...]] = []

    def make(local: object, values: tuple[object, ...]) -> str:
        made.append((local, values))
        return "memo:ns:m.f:v1:{01}"

    key = LazyCacheKey("local", make, (1, "x"))
    assert made == []
    assert key.remote == key.remote == "memo:ns:m.f:v1:{01}"
    assert made == [("local", (1, "x"))]


def test_degradation_travels_in_the_call_trace_not_the_key() -> None:
    """Failures are recorded per call (by key identity), nest like calls, and close once."""
    outer, inner = CacheKey("outer", "r:{1}"), CacheKey("inner", "r:{2}")
    trace.degrade(outer, "TimeoutError", outage=True)
    trace.degrade(inner, "ResponseError")
    assert trace.skips(outer) and not trace.skips(inner)
    assert trace.close(inner) == "ResponseError"
    assert trace.failed(outer)
    trace.degrade(outer, "RedisUnavailable", keep_error=True)
    assert trace.close(outer) == "TimeoutError"
    assert trace.close(outer) == ""
    assert not trace.failed(outer)


def test_traces_are_per_thread() -> None:
    """A trace opened in one thread is not seen in another."""
    key = CacheKey("k", "r:{3}")
    trace.degrade(key, "TimeoutError", outage=True)
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(trace.skips(key)))
    thread.start()
    thread.join()
    assert seen == [False]
    assert trace.close(key) == "TimeoutError"


# -- the entry format --------------------------------------------------------------------------


def test_codec_round_trips_soft_and_generation() -> None:
    """Entries carry the writer's soft deadline and generation; older ones are Stale."""
    codec = Codec(secret="s")
    data = codec.encode(
        "k{1}", "v", created=100.0, expires=400.0, delta=0.5, soft=340.0, generation=7
    )
    decoded = codec.decode("k{1}", data, 7)
    assert (decoded.value, decoded.soft, decoded.generation) == ("v", 340.0, 7)
    assert codec.decode("k{1}", data, 3).generation == 7  # newer than known: fine
    with pytest.raises(Stale) as info:
        codec.decode("k{1}", data, 8)
    assert info.value.reason == "generation" and info.value.generation == 7
    head = codec.header(data)
    assert (head.format_version, head.soft, head.generation) == (FORMAT_VERSION, 340.0, 7)


def test_generation_is_signed() -> None:
    """Rewriting the generation in a signed entry breaks its tag."""
    codec = Codec(secret="s")
    data = bytearray(codec.encode("k{1}", "v", created=1.0, expires=None, delta=0.0))
    data[49:57] = (9).to_bytes(8, "big")
    with pytest.raises(Rejected) as info:
        codec.decode("k{1}", bytes(data))
    assert info.value.reason == "signature"


def test_inspect_shows_the_generation(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`memo inspect` prints the entry's generation and whether it is behind its function's."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret="in-process")

    @memo.cached(ttl=120, store=store)
    def price(product_id: int) -> float:
        return 9.5

    price(7)
    key = price.cache_key(7)

    def generation_line() -> str:
        assert main(["--redis-url", redis_url, "inspect", key]) == 0
        out = capsys.readouterr().out
        fields = dict(line.split(None, 1) for line in out.splitlines())
        return fields["generation"]

    assert generation_line() == "0 (current)"
    price.invalidate_all()
    assert generation_line().startswith("0 (the function is at 1: read as a miss")


def test_nested_calls_each_count_their_own_degradation() -> None:
    """A cached function calling another while Redis is down: each call counts one error,
    and the outer call's outage still skips Redis after the inner call ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(f"redis://127.0.0.1:{port}/0", namespace="nested")
    )

    @memo.cached(ttl=60, store=store)
    def inner(x: int) -> int:
        return x + 1

    @memo.cached(ttl=60, store=store)
    def outer(x: int) -> int:
        return inner(x) * 10

    assert outer(1) == 20
    assert (outer.stats.errors, inner.stats.errors) == (1, 1)
    assert sum(outer.stats.errors_by_class.values()) == 1
    assert outer(2) == 30
    assert (outer.stats.errors, inner.stats.errors) == (2, 2)
