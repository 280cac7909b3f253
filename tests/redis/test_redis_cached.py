"""@memo.cached over L1+L2 on a real redis-server: sharing, keys, signing, leases, tags."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import memo
from memo._runtime.settings import settings
from tests.support.redis_servers import RedisServer

SECRET = "test-secret"


def tiered(url: str, namespace: str, secret: Any = SECRET, **kw: Any) -> memo.TieredStore:
    """A second, independent L1+L2 stack: another process, as far as Redis can tell."""
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret=secret, **kw)
    )


def wait_until(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2)


def counting(name: str = "f") -> tuple[list[Any], Any]:
    calls: list[Any] = []

    def f(x: int, y: str = "a") -> dict[str, Any]:
        calls.append(x)
        return {"x": x, "y": y, "n": len(calls)}

    f.__name__ = f.__qualname__ = name
    return calls, f


def test_cache_key_is_the_redis_key(redis_url: str, namespace: str) -> None:
    """f.cache_key() names the exact Redis key the value is stored under."""
    memo.configure(redis_url=redis_url, namespace=namespace, secret=SECRET)
    _, source = counting()
    f = memo.cached(ttl=60)(source)
    f(1)
    key = f.cache_key(1)
    assert key.startswith(f"memo:{namespace}:")
    with raw(redis_url) as client:
        assert client.exists(key) == 1
        ttl = client.pttl(key)
    assert 0 < ttl <= 60_000


def test_second_process_reads_l2(redis_url: str, namespace: str) -> None:
    """A function in another stack finds the value in L2 and does not compute."""
    calls_a, source_a = counting()
    calls_b, source_b = counting()
    a = memo.cached(ttl=60, store=tiered(redis_url, namespace))(source_a)
    b = memo.cached(ttl=60, store=tiered(redis_url, namespace))(source_b)
    assert a(5) == b(5)
    assert (len(calls_a), len(calls_b)) == (1, 0)
    assert b.stats.l2_hits == 1
    b(5)
    assert b.stats.l1_hits + b.stats.l2_hits == 2


def test_async_shares_with_sync(redis_url: str, namespace: str) -> None:
    """An async function and a sync function of the same name share entries through L2."""
    store_a, store_b = tiered(redis_url, namespace), tiered(redis_url, namespace)
    calls: list[int] = []

    def compute(x: int) -> int:
        calls.append(x)
        return x * 3

    async def acompute(x: int) -> int:
        calls.append(x)
        return x * 3

    compute.__qualname__ = acompute.__qualname__ = "shared"
    f = memo.cached(store=store_a)(compute)
    g = memo.cached(store=store_b)(acompute)
    assert f(2) == 6
    assert asyncio.run(g(2)) == 6
    assert calls == [2]
    assert g.stats.l2_hits == 1


def test_one_get_per_l2_hit(redis_server: RedisServer, redis_url: str, namespace: str) -> None:
    """An L2 hit (L1 missing) costs exactly one Redis command, a GET."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    calls, source = counting()
    f = memo.cached(store=store, lock=False)(source)
    f(1)
    f(1)  # warm: connection set up
    before = _commandstats(redis_server)
    for _ in range(50):
        f(1)
    after = _commandstats(redis_server)
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # Connection set-up and event listeners of this and earlier tests are not hits.
    background = {"info", "hello", "hgetall", "subscribe", "ping", "client|setinfo"}
    assert {k: v for k, v in delta.items() if k not in background} == {"get": 50}
    assert f.stats.l2_hits == 51
    assert calls == [1]


def _commandstats(server: RedisServer) -> dict[str, int]:
    reply = server.command("INFO", "commandstats")
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    out = {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line.partition(":")
            calls = dict(f.split("=") for f in fields.split(","))["calls"]
            out[name.removeprefix("cmdstat_")] = int(calls)
    return out


def test_invalidate_reaches_other_stacks(redis_url: str, namespace: str) -> None:
    """invalidate() in one stack removes the entry from L2 and from the other's L1."""
    store_a, store_b = tiered(redis_url, namespace), tiered(redis_url, namespace)
    calls_a, source_a = counting()
    _, source_b = counting()
    a = memo.cached(store=store_a)(source_a)
    b = memo.cached(store=store_b)(source_b)
    a(1)
    b(1)
    assert wait_until(lambda: store_b.l1_active)
    b(1)
    assert b.invalidate(1) is True
    assert wait_until(lambda: len(store_a.memory) == 0)
    a(1)
    assert len(calls_a) == 2


def test_invalidate_all_moves_every_process_to_a_new_generation(
    redis_url: str, namespace: str
) -> None:
    """invalidate_all() forgets the function's entries in L2 and in other stacks' L1."""
    store_a, store_b = tiered(redis_url, namespace), tiered(redis_url, namespace)
    calls_a, source_a = counting()
    _, source_b = counting()
    a = memo.cached(store=store_a)(source_a)
    b = memo.cached(store=store_b)(source_b)
    for i in range(3):
        a(i)
    store_b.redis.events.ensure_started()
    assert wait_until(lambda: store_a.l1_active and store_b.l1_active)
    key = a.cache_key(0)
    b.invalidate_all()
    assert wait_until(lambda: store_a.redis.generations == store_b.redis.generations != {})
    assert a.cache_key(0) == b.cache_key(0) == key  # keys stay; entries carry the generation
    for i in range(3):
        a(i)
    assert len(calls_a) == 6


def test_tags_across_stacks(redis_url: str, namespace: str) -> None:
    """invalidate_tag drops tagged entries in L2 and in every stack's L1."""
    memo.configure(redis_url=redis_url, namespace=namespace, secret=SECRET)
    store_b = tiered(redis_url, namespace)
    calls_a, source_a = counting()
    calls_b, source_b = counting()
    a = memo.cached(tags=["user:{x}"])(source_a)
    b = memo.cached(tags=["user:{x}"], store=store_b)(source_b)
    a(1)
    a(2)
    b(1)
    assert memo.invalidate_tag("user:1") >= 1
    a(1)
    a(2)
    assert calls_a == [1, 2, 1]
    assert b(1)["n"] == 3  # a's new value, not the one b's L1 held before
    assert calls_b == []


def test_unsigned_store_refuses_pickle() -> None:
    """serializer='pickle' without a secret is refused, naming both ways out."""
    with pytest.raises(memo.ConfigurationError) as info:
        memo.RedisStore("redis://127.0.0.1:1/0", serializer="pickle")
    assert "secret" in str(info.value)
    assert "json" in str(info.value)


def test_unserializable_result_stays_in_l1_with_one_warning(redis_url: str, namespace: str) -> None:
    """Without a secret (JSON), a custom object warns once and is cached in L1 only."""

    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    store = tiered(redis_url, namespace, secret=None)
    calls: list[int] = []

    @memo.cached(store=store)
    def point(x: int) -> Point:
        calls.append(x)
        return Point(x)

    assert wait_until(lambda: (store.redis.events.ensure_started(), store.l1_active)[1])
    with pytest.warns(RuntimeWarning, match="cannot be stored in Redis"):
        point(1)
    point(2)  # no second warning (filterwarnings = error would fail the test)
    assert point(1).x == 1
    assert calls == [1, 2]
    with raw(redis_url) as client:
        assert client.exists(point.cache_key(1)) == 0


def test_secret_rotation(redis_url: str, namespace: str) -> None:
    """Entries signed with an old secret verify while it is listed; the newest signs."""
    calls, source = counting()
    old = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace, secret="old"))(source)
    old(1)
    rotating = memo.RedisStore(redis_url, namespace=namespace, secret=["old", "new"])
    both = memo.cached(store=rotating)(source)
    both(1)
    assert both.stats.l2_hits == 1
    only_new = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace, secret="new"))(
        source
    )
    only_new(1)
    assert only_new.stats.misses == 1  # signature check failed: a miss, recomputed
    assert len(calls) == 2


def test_tampered_entry_is_a_miss_and_is_overwritten(redis_url: str, namespace: str) -> None:
    """Garbage under a key is a miss, counted, and replaced by a valid entry."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    calls, source = counting()
    f = memo.cached(store=store)(source)
    with raw(redis_url) as client:
        client.set(f.cache_key(1), b"not a memo entry")
        assert f(1)["x"] == 1
        assert store.corrupt == 1
        assert f(1)["x"] == 1
        assert calls == [1]
        assert client.get(f.cache_key(1)) != b"not a memo entry"


class Canary:
    """Unpickling this would create a file: proof that an entry was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (self.path,))


def test_forged_pickle_is_never_unpickled(redis_url: str, namespace: str, tmp_path: Path) -> None:
    """A raw pickle (unsigned or forged) in L2 never reaches pickle.loads."""
    canary = tmp_path / "canary"
    calls, source = counting()
    signed = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace, secret=SECRET))(
        source
    )
    unsigned = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace + "u"))(source)
    with raw(redis_url) as client:
        for f in (signed, unsigned):
            client.set(f.cache_key(1), pickle.dumps(Canary(canary)))
            assert f(1)["x"] == 1
    assert not canary.exists()
    assert len(calls) == 2


def test_dead_lease_holder_frees_the_key(redis_url: str, namespace: str) -> None:
    """A lease whose holder died expires; the next caller computes instead of hanging."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET, lease_ttl=0.3)
    calls, source = counting()
    f = memo.cached(store=store, lock_timeout=5)(source)
    start = time.monotonic()  # before the lease is set: a slow machine cannot shorten the wait
    with raw(redis_url) as client:
        client.set(f.cache_key(1) + ":lease", "dead-holder", px=300)
    assert f(1)["x"] == 1
    elapsed = time.monotonic() - start
    assert 0.2 < elapsed < 2.5
    assert calls == [1]


def test_waiter_learns_of_fill_without_polling(redis_url: str, namespace: str) -> None:
    """A caller in another stack waits for the lease holder's value and does not compute."""
    calls: list[int] = []
    started = threading.Event()

    def slow(x: int) -> int:
        calls.append(x)
        started.set()
        time.sleep(0.3)
        return x + 100

    slow.__qualname__ = "slow_shared"
    a = memo.cached(store=tiered(redis_url, namespace))(slow)
    b = memo.cached(store=tiered(redis_url, namespace))(slow)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(a(1)))
    worker.start()
    assert started.wait(5)
    start = time.monotonic()
    assert b(1) == 101
    waited = time.monotonic() - start
    worker.join(5)
    assert results == [101]
    assert calls == [1]
    assert waited < 1.0  # woken by the fill event, well before a 1 s polling slice


def test_lease_is_extended_while_computing(redis_url: str, namespace: str) -> None:
    """A compute longer than the lease TTL keeps its lease; others keep waiting for it."""
    calls: list[int] = []
    started = threading.Event()

    def slow(x: int) -> int:
        calls.append(x)
        started.set()
        time.sleep(1.0)
        return x

    slow.__qualname__ = "slow_extended"
    a = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace, lease_ttl=0.3))(slow)
    b = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace, lease_ttl=0.3))(slow)
    worker = threading.Thread(target=a, args=(7,))
    worker.start()
    assert started.wait(5)
    assert b(7) == 7
    worker.join(5)
    assert calls == [7]


def test_invalidation_during_compute_is_not_undone(redis_url: str, namespace: str) -> None:
    """A compute that was invalidated mid-way returns its value but does not store it."""
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow(x: int) -> int:
        calls.append(x)
        started.set()
        release.wait(5)
        return x

    f = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace))(slow)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(f(3)))
    worker.start()
    assert started.wait(5)
    f.invalidate(3)
    release.set()
    worker.join(5)
    assert results == [3]
    with raw(redis_url) as client:
        assert client.exists(f.cache_key(3)) == 0


def test_failed_compute_releases_the_lease(redis_url: str, namespace: str) -> None:
    """When the lease holder raises, the lease is freed at once for the next caller."""
    attempts: list[int] = []

    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("source down")
        return x

    f = memo.cached(store=memo.RedisStore(redis_url, namespace=namespace))(flaky)
    with pytest.raises(RuntimeError):
        f(9)
    with raw(redis_url) as client:
        assert client.exists(f.cache_key(9) + ":lease") == 0
    assert f(9) == 9


def test_configure_from_environment(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, namespace: str
) -> None:
    """MEMO_REDIS_URL and MEMO_SECRET configure the tiered store."""
    monkeypatch.setenv("MEMO_REDIS_URL", redis_url)
    monkeypatch.setenv("MEMO_SECRET", "from-env")
    memo.configure(namespace=namespace)
    store = settings.store
    assert isinstance(store, memo.TieredStore)
    assert store.redis.codec.signed


def test_bad_urls_are_configuration_errors() -> None:
    """A URL memo cannot use is refused at configuration with the accepted forms."""
    with pytest.raises(memo.ConfigurationError, match="unknown scheme"):
        memo.configure(redis_url="http://localhost:6379")
    with pytest.raises(memo.ConfigurationError, match="names the service"):
        memo.RedisStore("redis+sentinel://127.0.0.1:26379")
    with pytest.raises(memo.ConfigurationError, match="redis_url="):
        memo.configure(secret="x")


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(max_size=300))
def test_fuzzed_l2_bytes_are_misses(redis_url: str, namespace: str, garbage: bytes) -> None:
    """Whatever bytes sit in L2 under a key, the call returns the function's value."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    f = memo.cached(store=store, lock=False)(lambda x: {"x": x})
    with raw(redis_url) as client:
        client.set(f.cache_key(1), garbage)
    assert f(1) == {"x": 1}
    store.close()
