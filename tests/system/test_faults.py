"""Fault injection on the Redis (L2) tier: every failure degrades, nothing reaches the caller.

Servers are real (`fault_redis`, a private redis-server the tests kill, pause and restart);
network faults come from `proxy`, a loopback TCP proxy that hangs, drops, refuses or flaps
connections. Latency bounds: the spec allows a degraded call socket timeout + 10 ms; the
tests allow socket timeout + 150 ms (`LATENCY_BOUND`) for a noisy 2-core machine.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from collections.abc import Iterator
from functools import partial
from typing import Any, cast

import pytest
import redis
import redis.asyncio

import memo
from memo._keys.key import LazyCacheKey
from memo._runtime.settings import settings
from tests.support.fault_helpers import (
    LATENCY_BOUND,
    SECRET,
    SOCKET_TIMEOUT,
    ErrorReplyServer,
    Workers,
    async_group,
    configure,
    events_up,
    paced_calls,
    timed,
    value_of,
    wait_until,
)
from tests.support.redis_servers import RedisServer, free_port
from tests.support.tcp_proxy import TcpProxy

KEYS = list(range(64))


@pytest.fixture(autouse=True)
def collect_functions() -> Iterator[None]:
    """Collect the functions a test decorated once it ends: memo keeps each one's store in
    use (memo.invalidate_tag reaches it) until the function is garbage-collected."""
    yield
    gc.collect()


def dead_url() -> str:
    """A redis:// URL to a loopback port where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


def make_function(
    store: Any = None, ttl: float | None = None, calls: list[int] | None = None
) -> memo.Memoized[[int], int]:
    """A cached value_of with one qualname whatever the store: two stores share its keys.

    Each run of the function body is appended to calls, when given.
    """

    @memo.cached(store=store, ttl=ttl)
    def compute(x: int) -> int:
        if calls is not None:
            calls.append(x)
        return value_of(x)

    return compute


def calls_on_a_hung_server(
    compute: memo.Memoized[[int], int], store: memo.TieredStore, count: int
) -> tuple[list[float], list[float]]:
    """count calls on fresh keys, each result checked: latencies before / after the breaker
    opened (a call is "after" when the breaker was already open as it started)."""
    before: list[float] = []
    after: list[float] = []
    for x in range(count):
        opened = store.redis.breaker.is_open
        value, seconds = timed(partial(compute, x))
        assert value == value_of(x)
        (after if opened else before).append(seconds)
    return before, after


def tiered(url: str, namespace: str, **options: Any) -> memo.TieredStore:
    """L1 over a fresh RedisStore at url (conftest closes every RedisStore a test made)."""
    redis_store = memo.RedisStore(url, namespace=namespace, secret=SECRET, **options)
    return memo.TieredStore(memo.MemoryStore(), redis_store)


# ----------------------------------------------------------------------------- absent


def test_absent_redis_degrades_and_opens_the_breaker(namespace: str) -> None:
    """With no server listening, calls answer correctly, count errors, and skip L2 at once."""
    store = configure(dead_url(), namespace)
    compute = make_function()
    for x in range(5):
        assert compute(x) == value_of(x)
    assert compute.stats.errors > 0
    assert store.redis.errors > 0
    assert store.redis.breaker.is_open
    latencies = [timed(partial(compute, x))[1] for x in range(5, 50)]
    assert max(latencies) < SOCKET_TIMEOUT / 4, latencies  # measured: < 1 ms each


def test_absent_redis_l1_serves_repeated_calls(namespace: str) -> None:
    """While the breaker is open, L1 still caches: repeated calls do not recompute."""
    store = configure(dead_url(), namespace)
    calls: list[int] = []
    compute = make_function(calls=calls)
    warm_up = iter(range(100, 120))
    wait_until(lambda: compute(next(warm_up)) and store.redis.breaker.is_open, 2, "breaker open")
    calls.clear()
    for _ in range(3):
        for x in range(6):
            assert compute(x) == value_of(x)
    assert sorted(calls) == [0, 1, 2, 3, 4, 5]
    assert compute.stats.l1_hits == 12


# ----------------------------------------------------------------------------- killed


@pytest.mark.timeout(120)
def test_killed_mid_run_threads_and_tasks(fault_redis: RedisServer, namespace: str) -> None:
    """SIGKILL and restart under 8 threads x 2,500 calls + asyncio tasks: all correct, fast."""
    store = configure(fault_redis.url, namespace)

    @memo.cached(ttl=0.25)
    def compute(x: int) -> int:
        return value_of(x)

    @memo.cached(ttl=0.25)
    async def acompute(x: int) -> int:
        await asyncio.sleep(0)
        return value_of(x)

    events_up(store)
    workers = Workers()
    period = 0.0008  # 2,500 calls spread over ~2 s, so the outage falls mid-run
    for i in range(8):
        workers.start(partial(paced_calls, compute, KEYS, 2500, period, i), f"caller-{i}")
    workers.start(async_group(acompute, KEYS, 8, 400, 0.005), "asyncio-callers")
    time.sleep(0.3)
    fault_redis.kill()
    time.sleep(0.5)
    fault_redis.start()  # same port, no data; returns once it answers PING
    restarted = time.perf_counter()

    # L2 is back when the breaker is closed and a value written through this process's
    # store is read by a second, fresh store (another "process").
    writer = make_function()
    reader = make_function(tiered(fault_redis.url, namespace))
    probe = iter(range(1000, 2000))

    def round_trip() -> bool:
        if store.redis.breaker.is_open:
            return False
        x = next(probe)
        writer.refresh(x)
        hits = reader.stats.l2_hits
        return reader(x) == value_of(x) and reader.stats.l2_hits == hits + 1

    wait_until(round_trip, 3.0, "L2 round trip after restart", interval=0.02)
    recovered = time.perf_counter() - restarted
    tally = workers.join(60)
    assert tally.errors == []
    assert tally.wrong == 0
    assert tally.calls == 8 * 2500 + 8 * 400
    assert store.redis.errors > 0  # the outage was seen
    assert recovered <= 1.5, recovered  # measured 0.26-0.54 s (breaker probes every 0.25 s)
    # spec: socket timeout + 10 ms; measured max 0.07-0.16 s on a loaded 2-core machine.
    assert tally.max_latency <= LATENCY_BOUND, tally.max_latency


# ----------------------------------------------------------------------------- hung


def test_sigstop_hung_server_degrades_and_recovers(
    fault_redis: RedisServer, namespace: str
) -> None:
    """A SIGSTOPped server: calls stay correct and return; after SIGCONT L2 is used again."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    fault_redis.pause()
    try:
        before, after = calls_on_a_hung_server(compute, store, 20)
        assert store.redis.breaker.is_open
        # Not redis-py's default minute: a call is bounded by a few socket timeouts (today
        # one socket timeout for the first: later commands of that call skip Redis);
        # once the breaker is open, calls skip L2 (measured < 0.1 ms).
        assert max(before) <= 3 * SOCKET_TIMEOUT + 0.3, before
        assert len(after) >= 10
        assert max(after) < SOCKET_TIMEOUT / 4, after
    finally:
        fault_redis.resume()
    wait_until(lambda: not store.redis.breaker.is_open, 2, "breaker closed after SIGCONT")
    compute.stats.reset()
    assert compute(100) == value_of(100)
    assert fault_redis.command("EXISTS", compute.cache_key(100)) == 1
    assert compute.stats.errors == 0


def test_sigstop_hung_every_call_within_one_socket_timeout(
    fault_redis: RedisServer, namespace: str
) -> None:
    """On a hung server every call, the first ones too, returns within socket timeout + slack."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    fault_redis.pause()
    try:
        before, after = calls_on_a_hung_server(compute, store, 10)
    finally:
        fault_redis.resume()
    # spec: socket timeout + 10 ms; measured today: 0.6 s for the first call
    assert max(before + after) <= LATENCY_BOUND, before


# ----------------------------------------------------------------------------- proxy


def test_proxy_block_hung_tcp_degrades_and_recovers(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """Connections that accept but never answer: correct results, then L2 again on unblock."""
    store = configure(proxy.url, namespace)
    compute = make_function()
    events_up(store)
    proxy.block()
    try:
        before, after = calls_on_a_hung_server(compute, store, 15)
        assert store.redis.breaker.is_open
        assert max(before) <= 3 * SOCKET_TIMEOUT + 0.3, before  # measured ~0.6 s, first call
        assert len(after) >= 5
        assert max(after) < SOCKET_TIMEOUT / 4, after  # measured < 0.1 ms
    finally:
        proxy.unblock()
    wait_until(lambda: not store.redis.breaker.is_open, 2, "breaker closed after unblock")
    assert compute(100) == value_of(100)
    assert fault_redis.command("EXISTS", compute.cache_key(100)) == 1


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_proxy_drop_reconnects_without_errors(proxy: TcpProxy, namespace: str, reset: bool) -> None:
    """Every connection closed under the client: the next calls reconnect and still use L2."""
    store = configure(proxy.url, namespace)
    compute = make_function()
    events_up(store)
    for x in range(5):
        compute(x)
    for x in range(5, 10):
        proxy.drop(reset=reset)
        store.memory.clear()  # make the call read L2 over a dropped connection
        value, seconds = timed(partial(compute, x - 5))
        assert value == value_of(x - 5)
        assert seconds <= LATENCY_BOUND, seconds  # measured ~2 ms (one reconnect)
    assert compute.stats.errors == 0
    assert compute.stats.l2_hits >= 5
    assert not store.redis.breaker.is_open


@pytest.mark.timeout(120)
def test_proxy_flapping_never_fails_a_caller(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """For 2 s the proxy alternates refuse+drop and accept every 0.1 s: 0 exceptions, all right."""
    store = configure(proxy.url, namespace)

    @memo.cached(ttl=0.2)
    def compute(x: int) -> int:
        return value_of(x)

    events_up(store)
    workers = Workers()
    for i in range(4):
        workers.start(partial(paced_calls, compute, KEYS, 1000, 0.0025, i), f"caller-{i}")
    proxy.flap(0.1, 2.0)
    proxy.wait_flap(10)
    tally = workers.join(60)
    assert tally.errors == []
    assert tally.wrong == 0
    assert tally.calls == 4000
    # No latency bound here: today a write lost mid-flap often leaves its lease behind and
    # the key's next miss waits it out (measured max 0.01-5 s; test_lost_write_frees_its_lease).
    assert store.redis.errors > 0
    wait_until(lambda: not store.redis.breaker.is_open, 2, "breaker closed after flapping")
    assert compute.refresh(500) == value_of(500)
    assert fault_redis.command("EXISTS", compute.cache_key(500)) == 1


def test_lost_write_frees_its_lease(proxy: TcpProxy, namespace: str) -> None:
    """A write lost to a dropped connection does not make the key's next miss wait."""
    store = tiered(proxy.url, namespace, lease_ttl=1.0)
    calls: list[int] = []

    @memo.cached(store=store)
    def compute(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:  # the lease is taken; the write that follows cannot get through
            proxy.refuse()
            proxy.drop()
        return value_of(x)

    events_up(store)
    assert compute(1) == value_of(1)
    proxy.accept_again()
    store.memory.clear()
    value, seconds = timed(lambda: compute(1))
    assert value == value_of(1)
    assert seconds <= LATENCY_BOUND, seconds  # measured today: ~1 s, the whole lease TTL


# ----------------------------------------------------------------------------- pool


def test_pool_exhaustion_degrades(fault_redis: RedisServer, namespace: str) -> None:
    """A BlockingConnectionPool with no free connection: callers degrade, never raise."""
    # Two connections: memo's events listener holds one for its subscription (with a pool
    # of one it would starve every data command); the test holds the other one busy.
    options = {"max_connections": 2, "timeout": 0.05, "socket_timeout": SOCKET_TIMEOUT}
    pool = redis.BlockingConnectionPool.from_url(fault_redis.url, **options)
    apool = redis.asyncio.BlockingConnectionPool.from_url(fault_redis.url, **options)
    redis_store = memo.RedisStore(
        client=redis.Redis(connection_pool=pool),
        async_client=redis.asyncio.Redis(connection_pool=apool),
        namespace=namespace,
        secret=SECRET,
    )
    store = memo.TieredStore(memo.MemoryStore(), redis_store)
    compute = make_function(store)
    events_up(store)
    assert compute(0) == value_of(0)  # the pool works
    held = pool.get_connection()  # type: ignore[no-untyped-call]  # the last free one
    try:
        workers = Workers()
        for i in range(4):
            workers.start(partial(paced_calls, compute, KEYS, 50, 0.002, i), f"caller-{i}")
        tally = workers.join(30)
    finally:
        pool.release(held)  # type: ignore[no-untyped-call]
    assert tally.errors == []
    assert tally.wrong == 0
    assert tally.calls == 200
    assert redis_store.errors > 0
    # spec: socket timeout + 10 ms; measured max ~0.1 s (two 0.05 s pool waits)
    assert tally.max_latency <= LATENCY_BOUND, tally.max_latency
    wait_until(lambda: not redis_store.breaker.is_open, 2, "breaker closed after release")
    compute.stats.reset()
    store.memory.clear()
    assert compute(0) == value_of(0)
    assert compute.stats.l2_hits == 1


# ----------------------------------------------------------------------------- error replies


def test_wrongtype_reply_degrades_and_is_overwritten(
    fault_redis: RedisServer, namespace: str
) -> None:
    """A hash where the entry should be: WRONGTYPE is a miss, and the write replaces it."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    key = compute.cache_key(1)
    fault_redis.command("HSET", key, "field", "value")
    assert compute(1) == value_of(1)
    assert compute.stats.errors == 1
    assert not store.redis.breaker.is_open  # one key's problem, not the server's
    assert fault_redis.command("TYPE", key) == "string"
    reader = make_function(memo.RedisStore(fault_redis.url, namespace=namespace, secret=SECRET))
    assert reader(1) == value_of(1)
    assert reader.stats.l2_hits == 1


def test_oom_reply_degrades(fault_redis: RedisServer, namespace: str) -> None:
    """maxmemory 1 with noeviction: writes fail with OOM, callers still get right values."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    fault_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    fault_redis.command("CONFIG", "SET", "maxmemory", "1")
    try:
        for x in range(10):
            assert compute(x) == value_of(x)
        assert compute.stats.errors > 0
    finally:
        fault_redis.command("CONFIG", "SET", "maxmemory", "0")
    wait_until(lambda: not store.redis.breaker.is_open, 2, "breaker closed after OOM")
    compute.stats.reset()
    assert compute(100) == value_of(100)
    assert compute.stats.errors == 0
    assert fault_redis.command("EXISTS", compute.cache_key(100)) == 1


def test_oom_server_takes_no_new_entries(fault_redis: RedisServer, namespace: str) -> None:
    """Over maxmemory with noeviction, memo adds nothing: Redis's OOM guard is respected."""
    configure(fault_redis.url, namespace)
    compute = make_function()
    fault_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    fault_redis.command("CONFIG", "SET", "maxmemory", "1")
    try:
        assert compute(0) == value_of(0)
        assert fault_redis.command("EXISTS", compute.cache_key(0)) == 0
    finally:
        fault_redis.command("CONFIG", "SET", "maxmemory", "0")


def test_readonly_replica_degrades(fault_redis: RedisServer, namespace: str) -> None:
    """The server turned into a replica: writes fail with READONLY, callers still get values."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    fault_redis.command("REPLICAOF", "127.0.0.1", str(free_port()))
    try:
        for x in range(10):
            assert compute(x) == value_of(x)
        assert compute.stats.errors > 0
        assert fault_redis.command("EXISTS", compute.cache_key(0)) == 0
    finally:
        fault_redis.command("REPLICAOF", "NO", "ONE")
    wait_until(lambda: not store.redis.breaker.is_open, 2, "breaker closed after REPLICAOF NO ONE")
    compute.stats.reset()
    assert compute(100) == value_of(100)
    assert compute.stats.errors == 0
    assert fault_redis.command("EXISTS", compute.cache_key(100)) == 1


def test_noperm_reply_degrades(fault_redis: RedisServer, namespace: str) -> None:
    """An ACL user without EVALSHA, EVAL and PUBLISH: writes fail with NOPERM, reads work."""
    fault_redis.command(
        "ACL", "SETUSER", "limited", "reset", "on", ">pw", "~memo:*", "&*", "+@all",
        "-@dangerous", "-evalsha", "-eval", "-publish",
    )  # fmt: skip
    url = f"redis://limited:pw@127.0.0.1:{fault_redis.port}/0"
    store = configure(url, namespace)
    compute = make_function()
    for x in range(5):
        assert compute(x) == value_of(x)
    assert compute.stats.errors == 5  # every write refused, each call degraded once
    assert store.redis.errors >= 5
    assert fault_redis.command("EXISTS", compute.cache_key(0)) == 0
    # Reads are allowed: an entry another client wrote is an L2 hit.
    writer = make_function(memo.RedisStore(fault_redis.url, namespace=namespace, secret=SECRET))
    writer(50)
    store.memory.clear()
    compute.stats.reset()
    assert compute(50) == value_of(50)
    assert compute.stats.l2_hits == 1


def test_loading_reply_degrades(namespace: str) -> None:
    """A server answering -LOADING (stood in for by a fake: hard to hold a real one there)."""
    server = ErrorReplyServer("LOADING Redis is loading the dataset in memory")
    try:
        store = configure(server.url, namespace)
        compute = make_function()
        for x in range(10):
            value, seconds = timed(partial(compute, x))
            assert value == value_of(x)
            assert seconds <= LATENCY_BOUND, seconds  # measured ~1 ms after the first call
        assert compute.stats.errors > 0
        assert store.redis.breaker.is_open  # LOADING is server-wide: the breaker opens
        assert {"GET", "EVALSHA"} & set(server.commands)  # the lookup (or FETCH) reached it
    finally:
        memo.configure()
        server.stop()


def test_corrupt_entry_is_a_miss_and_is_overwritten(
    fault_redis: RedisServer, namespace: str
) -> None:
    """Garbage bytes at the key: a miss, counted in store.redis.corrupt, then overwritten."""
    store = configure(fault_redis.url, namespace)
    calls: list[int] = []
    compute = make_function(calls=calls)
    events_up(store)  # L1 in use, so the miss reads Redis once
    key = compute.cache_key(1)
    fault_redis.command("SET", key, "\x00garbage, not a memo entry\xff")
    assert compute(1) == value_of(1)
    assert calls == [1]
    assert store.redis.corrupt == 1
    assert compute.stats.errors == 0
    assert fault_redis.command("GET", key) != "\x00garbage, not a memo entry\xff"
    reader = make_function(memo.RedisStore(fault_redis.url, namespace=namespace, secret=SECRET))
    assert reader(1) == value_of(1)
    assert reader.stats.l2_hits == 1


# ----------------------------------------------------------------------------- on_error


@pytest.mark.parametrize("layout", ["redis", "tiered"])
def test_on_error_raise_reaches_the_caller(namespace: str, layout: str) -> None:
    """on_error="raise" (opt-in): the caller sees redis-py's error, sync and async."""
    redis_store = memo.RedisStore(dead_url(), namespace=namespace, on_error="raise")
    store: Any = (
        redis_store if layout == "redis" else memo.TieredStore(memo.MemoryStore(), redis_store)
    )
    compute = make_function(store)

    @memo.cached(store=store)
    async def acompute(x: int) -> int:
        return value_of(x)

    for _ in range(4):  # no breaker in the way either: every call raises
        with pytest.raises(redis.ConnectionError):
            compute(1)
        with pytest.raises(redis.ConnectionError):
            asyncio.run(acompute(1))


def test_on_error_ignore_is_the_default(namespace: str) -> None:
    """The same dead server with the default store options: no exception reaches the caller."""
    redis_store = memo.RedisStore(dead_url(), namespace=namespace)
    compute = make_function(redis_store)
    assert redis_store.on_error == "ignore"
    assert compute(1) == value_of(1)
    assert compute.stats.errors == 1


# ----------------------------------------------------------------------------- replay


def make_tagged(source: dict[int, str], store: Any = None) -> memo.Memoized[[int], str]:
    """A cached reader of source ("-" if absent) tagged group:{x}, one qualname everywhere."""

    @memo.cached(store=store, tags=["group:{x}"])
    def read(x: int) -> str:
        return source.get(x, "-")

    return read


@pytest.mark.timeout(120)
def test_invalidations_made_during_an_outage_are_replayed(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """A key and a tag invalidated while Redis is unreachable are removed when it is back."""
    source = {1: "old", 2: "old"}
    store_a = configure(proxy.url, namespace)  # process A, through the proxy
    read_a = make_tagged(source)
    store_b = tiered(fault_redis.url, namespace)  # process B, straight to the server
    read_b = make_tagged(source, store_b)
    events_up(store_a)
    events_up(store_b)
    assert read_a(1) == read_a(2) == "old"
    assert read_b(1) == read_b(2) == "old"  # L2 hits, now in B's L1 too
    assert read_b.stats.l2_hits == 2
    key_1, key_2 = read_a.cache_key(1), read_a.cache_key(2)

    proxy.refuse()
    proxy.drop()
    probe = iter(range(100, 200))
    wait_until(
        lambda: read_a(next(probe)) == "-" and store_a.redis.breaker.is_open, 3, "A's breaker open"
    )
    source.update({1: "new", 2: "new"})
    read_a.invalidate(1)
    store_a.delete_tag("group:2")  # memo.invalidate_tag would reach B's store as well
    assert read_a(1) == read_a(2) == "new"  # A itself never serves the old value
    assert read_b(1) == read_b(2) == "old"  # B cannot know yet: Redis still holds them
    assert fault_redis.command("EXISTS", key_1, key_2) == 2

    proxy.accept_again()
    replayed = wait_until(
        lambda: fault_redis.command("EXISTS", key_1, key_2) == 0, 2, "invalidations replayed"
    )
    wait_until(lambda: read_b(1) == read_b(2) == "new", 1, "B serves the new values")
    assert replayed <= 2, replayed  # measured ~0.3 s (the breaker probes every 0.25 s)


@pytest.mark.timeout(120)
def test_a_busy_outage_is_replayed_in_a_few_round_trips(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of invalidations kept in an outage (each made twice) are kept once and sent
    a batch to a round trip when Redis is back: sent one by one, they took seconds, while
    the other processes served what they remove (found by the soak)."""
    from memo._redis._sync import executor
    from memo._redis.ops import Batch

    source = dict.fromkeys(range(600), "old")
    store = configure(proxy.url, namespace)
    read = make_tagged(source)
    events_up(store)
    assert [read(x) for x in range(600)] == ["old"] * 600
    keys = [read.cache_key(x) for x in range(600)]
    proxy.refuse()
    proxy.drop()
    probe = iter(range(1000, 1100))
    wait_until(lambda: read(next(probe)) == "-" and store.redis.breaker.is_open, 3, "breaker open")
    source.update(dict.fromkeys(range(600), "new"))
    for _ in range(2):
        for x in range(600):
            read.invalidate(x)
        store.delete_tag("group:1")
    assert store.redis.backend.pending_count() == 601

    requests: list[Any] = []
    real_send = executor.send_sync

    def counting_send(client: Any, request: Any) -> Any:
        requests.append(request)
        return real_send(client, request)

    monkeypatch.setattr(executor, "send_sync", counting_send)
    proxy.accept_again()
    wait_until(lambda: fault_redis.command("EXISTS", *keys) == 0, 3, "invalidations replayed")
    wait_until(lambda: store.redis.backend.pending_count() == 0, 3, "nothing left to replay")
    batches = [r for r in requests if isinstance(r, Batch) and len(r.commands) > 1]
    alone = [r for r in requests if not isinstance(r, Batch) and "DEL" in str(r)]
    assert 3 <= len(batches) <= 4, [len(b.commands) for b in batches]  # 600 / 200 a batch
    assert not alone
    assert all(read(x) == "new" for x in range(600))


def test_invalidation_lost_in_a_blip_is_replayed(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """An invalidation lost to one dropped connection (breaker still closed) is sent later."""
    source = {1: "old"}
    store = configure(proxy.url, namespace)
    read = make_tagged(source)
    events_up(store)
    assert read(1) == "old"
    key = read.cache_key(1)
    proxy.refuse()
    proxy.drop()
    source[1] = "new"
    read.invalidate(1)  # fails: one connection error, not enough to open the breaker
    proxy.accept_again()
    assert not store.redis.breaker.is_open
    read(2)  # Redis answers again
    wait_until(lambda: fault_redis.command("EXISTS", key) == 0, 2, "invalidation replayed")


# ----------------------------------------------------------------------------- coherence


class HealthLog:
    """An events sink recording each coherence change with what L1 looked like right after.

    Sinks are told in order, so the TieredStore (registered first) has already reacted.
    """

    def __init__(self, store: memo.TieredStore) -> None:
        self.store = store
        self.changes: list[tuple[bool, int, bool]] = []  # (healthy, len(L1), l1_active)

    def on_key(self, remote: str) -> None:
        """Not recorded."""

    def on_tag(self, tag: str) -> None:
        """Not recorded."""

    def on_generation(self, name: str, generation: int) -> None:
        """Not recorded."""

    def on_coherence(self, healthy: bool) -> None:
        """Record the change and the state of L1."""
        self.changes.append((healthy, len(self.store.memory), self.store.l1_active))


def test_killed_events_connection_flushes_and_bypasses_l1(
    fault_redis: RedisServer, namespace: str
) -> None:
    """The invalidation connection dropped: L1 is flushed and bypassed, and back once it is."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    compute(1)
    assert compute(1) == value_of(1)
    assert compute.stats.l1_hits == 1
    health = HealthLog(store)
    store.redis.events.sinks.append(health)
    store.redis.events.kill_connection()
    reconnected = wait_until(lambda: len(health.changes) >= 2, 3, "events connection lost and back")
    assert health.changes == [(False, 0, False), (True, 0, True)]
    assert reconnected <= 2, reconnected  # measured ~0.05-0.06 s (reconnect backoff 50 ms)
    compute.stats.reset()
    assert compute(1) == value_of(1)  # from L2: L1 was flushed
    assert compute(1) == value_of(1)  # from L1: in use again
    assert (compute.stats.l2_hits, compute.stats.l1_hits) == (1, 1)


def test_a_blip_that_ends_before_the_breaker_opens_bypasses_l1_again(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """Without events, L1 is trusted only while Redis fails. A failing spell that ends before
    the breaker opens must end that trust, in the hit path too: its view of L1 was taken at
    the last rebind (found by the stateful machine: a process cut off from its events read
    its L1's old value after another process's write). Events are kept down for good here
    by an ACL user without SUBSCRIBE; the rebind that the events thread makes when it notices
    a lost connection late, during the spell, is made by hand."""
    fault_redis.command(
        "ACL", "SETUSER", "noevents", "on", ">pw", "~*", "&*", "+@all", "-subscribe"
    )
    source = {1: "old"}
    deaf_url = f"redis://noevents:pw@{proxy.host}:{proxy.port}/0"
    deaf = tiered(deaf_url, namespace)  # process B: no events, through the proxy
    read = make_tagged(source, deaf)
    other = make_tagged(source, tiered(fault_redis.url, namespace))  # process A
    deaf.redis.events.ensure_started()
    assert read(1) == "old"  # stored in Redis; L1 bypassed (no events)
    assert deaf.l1 is None

    proxy.refuse()
    proxy.drop()
    assert read(2) == "-"  # one failure: failing, the breaker still closed
    assert deaf.redis.breaker.failing and not deaf.redis.breaker.is_open
    deaf.on_coherence(False)  # the events thread's late notice, during the spell
    assert deaf.l1 is not None  # trusted while Redis fails
    assert read(1) == "old"  # computed (Redis unreachable) and kept in L1

    source[1] = "new"
    other.invalidate(1)  # A's cache-aside write reaches Redis
    proxy.accept_again()
    assert read(3) == "-"  # Redis answers B again: the spell is over
    assert not deaf.redis.breaker.failing
    assert deaf.l1 is None
    assert read(1) == "new"  # not L1's copy from the spell


def test_silent_events_connection_flushes_l1(proxy: TcpProxy, namespace: str) -> None:
    """A connection that goes silent (hung proxy) is caught by the ping watchdog: L1 flushed."""
    store = configure(proxy.url, namespace)
    compute = make_function()
    events_up(store)
    for x in range(5):
        compute(x)
    assert len(store.memory) == 5
    proxy.block()
    try:
        silent = wait_until(
            lambda: not store.redis.events.healthy, 4, "silent events connection noticed"
        )
        assert len(store.memory) == 0
        assert not store.l1_active
        assert silent <= 3, silent  # ping every 1 s, pong due within 1 s; measured ~2.0 s
    finally:
        proxy.unblock()
    wait_until(lambda: store.redis.events.healthy, 3, "events reconnected after unblock")
    compute.stats.reset()
    compute(0)
    assert compute(0) == value_of(0)
    assert compute.stats.l1_hits == 1


# ----------------------------------------------------------------------------- fork


def fork_child(compute: memo.Memoized[[int], int], queue: Any) -> None:
    """In the forked child: report what L1 holds, then read and compute through Redis."""
    store = cast(memo.TieredStore, settings.store)
    report: dict[str, Any] = {"l1_at_start": len(store.memory)}
    try:
        compute.stats.reset()
        report["warm"] = compute(1)  # cached by the parent: must come from Redis
        report["new"] = compute(2)
        report["stats"] = compute.stats.as_dict()
        entry = store.redis.get(
            LazyCacheKey(("fork", 2), lambda _local, _values: compute.cache_key(2), ())
        )
        report["in_redis"] = entry is not None
    except Exception as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
    queue.put(report)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_starts_with_an_empty_l1(fault_redis: RedisServer, namespace: str) -> None:
    """A forked child holds nothing in L1 yet reads and writes Redis; the parent is unaffected."""
    store = configure(fault_redis.url, namespace)
    compute = make_function()
    events_up(store)
    compute(1)
    assert compute(1) == value_of(1)
    assert len(store.memory) == 1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=fork_child, args=(compute, queue))
    child.start()
    try:
        report = queue.get(timeout=20)
    finally:
        child.join(10)
    assert child.exitcode == 0
    assert "error" not in report, report
    assert report["l1_at_start"] == 0
    assert report["warm"] == value_of(1)
    assert report["new"] == value_of(2)
    assert report["stats"]["l1_hits"] == 0
    assert report["stats"]["l2_hits"] == 1
    assert report["in_redis"]
    compute.stats.reset()
    assert compute(1) == value_of(1)  # the parent's L1 and events connection are untouched
    assert compute.stats.l1_hits == 1
    assert store.redis.events.healthy


# ----------------------------------------------------------------------------- retries


def test_connection_error_is_retried_once(proxy: TcpProxy, namespace: str) -> None:
    """Connections reset just before a call: redis-py reconnects once and the call hits L2."""
    store = configure(proxy.url, namespace)
    compute = make_function()
    events_up(store)
    compute(1)
    store.memory.clear()
    accepted = proxy.stats.accepted
    proxy.drop(reset=True)
    compute.stats.reset()
    assert compute(1) == value_of(1)
    assert (compute.stats.l2_hits, compute.stats.errors) == (1, 0)
    assert proxy.stats.accepted > accepted  # a new connection carried the retry


def test_async_connection_error_is_retried_once(proxy: TcpProxy, namespace: str) -> None:
    """The async twin: connections reset just before an async call, which still hits L2."""
    store = configure(proxy.url, namespace)

    @memo.cached
    async def acompute(x: int) -> int:
        return value_of(x)

    async def scenario() -> tuple[int, int, int]:
        await acompute(1)  # stored; the asyncio client now has a pooled connection
        store.memory.clear()
        proxy.drop(reset=True)
        acompute.stats.reset()
        value = await acompute(1)
        return value, acompute.stats.l2_hits, acompute.stats.errors

    assert asyncio.run(scenario()) == (value_of(1), 1, 0)


def test_timeout_is_not_retried(proxy: TcpProxy, namespace: str) -> None:
    """A timed-out command is not sent again: one L2 operation costs one socket timeout."""
    store = configure(proxy.url, namespace)
    compute = make_function()
    events_up(store)
    compute(1)
    proxy.block()
    try:
        accepted = proxy.stats.accepted
        removed, seconds = timed(lambda: compute.invalidate(1))  # one Redis operation
        assert proxy.stats.accepted == accepted  # no reconnect: no retry
    finally:
        proxy.unblock()
    assert removed  # L1 had it; the Redis delete is replayed later
    # one socket timeout (0.2 s), not two; measured ~0.2 s
    assert SOCKET_TIMEOUT * 0.9 <= seconds <= LATENCY_BOUND, seconds
