"""Fleet-wide stats through a real Redis (as the restricted ACL user: memo:* keys only), and
the rate limit on memo's fault logging."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._runtime import fleet as _fleet
from memo._runtime import publisher as _publisher
from memo._runtime.settings import settings
from tests.support.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@memo.cached
def shared_lookup(x: int) -> int:
    """A function both this process and a child process (which imports it) cache."""
    return x * 10


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll check every 20 ms until it holds or timeout passes; its last answer."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def name_of(function: Any) -> str:
    """The name memo.stats() and the fleet use: module.qualname."""
    return f"{function.__module__}.{function.__qualname__}"


def dead_url() -> str:
    """A loopback URL where nothing listens: every connection is refused."""
    return f"redis://127.0.0.1:{free_port()}/0"


def fleet_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Warnings on logger "memo" about publishing stats."""
    return [
        r
        for r in caplog.records
        if r.name == "memo" and r.levelno == logging.WARNING and "publish stats" in r.message
    ]


def test_two_processes_are_read_and_summed(redis_url: str, namespace: str) -> None:
    """Two publications under different process ids: read_fleet sees both, aggregate adds up."""
    store = memo.RedisStore(redis_url, namespace=namespace)

    @memo.cached(store=store)
    def price(item: int) -> int:
        return item * 3

    price(1)
    price(1)
    assert _fleet.publish(store, process="host-a:1", ttl=30) is True
    price(2)
    price(2)
    price(2)
    assert _fleet.publish(store, process="host-b:2", ttl=30) is True

    fleet = _fleet.read_fleet(store)
    name = name_of(price)
    assert set(fleet) == {"host-a:1", "host-b:2"}
    assert fleet["host-a:1"][name]["misses"] == 1
    assert fleet["host-a:1"][name]["l2_hits"] == 1  # a RedisStore alone: every hit is L2
    assert fleet["host-b:2"][name]["misses"] == 2
    total = _fleet.aggregate(fleet)[name]
    assert (total.misses, total.l2_hits, total.hits) == (3, 4, 4)
    assert total.compute_time == pytest.approx(
        fleet["host-a:1"][name]["compute_time"] + fleet["host-b:2"][name]["compute_time"]
    )
    ttl_ms = store.client.execute_command("PTTL", _fleet.stats_key(namespace, "host-a:1"))
    assert 0 < ttl_ms <= 30_000


def test_a_child_process_and_this_one_form_a_fleet(redis_url: str, namespace: str) -> None:
    """A real subprocess publishes under hostname:pid; this process sees both and sums them."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    shared_lookup.stats.reset()
    child = (
        "import memo\n"
        "from memo._runtime import fleet as _fleet\n"
        "from memo._runtime.settings import settings\n"
        "from tests.runtime.test_fleet import shared_lookup\n"
        f"memo.configure(redis_url={redis_url!r}, namespace={namespace!r})\n"
        "shared_lookup(1); shared_lookup(1)\n"
        "assert _fleet.publish(settings.store)\n"
        "print(_fleet.process_id())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    child_id = done.stdout.strip()
    assert shared_lookup(1) == 10  # stored in Redis by the child: an L2 hit here
    assert shared_lookup(2) == 20
    assert _fleet.publish(settings.store)

    fleet = _fleet.read_fleet(settings.store)
    assert {child_id, _fleet.process_id()} <= set(fleet)
    assert child_id != _fleet.process_id()
    name = "tests.runtime.test_fleet.shared_lookup"
    child_stats = _fleet.stats_from(fleet[child_id][name])
    assert (child_stats.misses, child_stats.hits) == (1, 1)  # L1 or L2: events may lag
    assert fleet[_fleet.process_id()][name]["l2_hits"] == 1
    total = _fleet.aggregate(fleet)[name]
    assert (total.misses, total.hits) == (2, 2)


def forked_child(store: memo.RedisStore, queue: Any) -> None:
    """In a forked child: one miss, then say whether a publisher runs and what is published."""
    shared_lookup(99)
    running = [t.name for t in threading.enumerate() if t.name.startswith("memo-stats-")]
    published = _fleet.publish(store)
    queue.put((_fleet.process_id(), running, published))


def test_a_forked_child_publishes_only_its_own_counts(redis_url: str, namespace: str) -> None:
    """A forked child restarts the publisher and leaves out the counts it inherited."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    store = settings.store
    shared_lookup.stats.reset()
    shared_lookup(1)
    shared_lookup(2)
    publisher = _publisher.start_publishing(store, interval=30)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            child = context.Process(target=forked_child, args=(store, queue))
            child.start()
        child_id, running, published = queue.get(timeout=20)
        child.join(20)
    finally:
        publisher.stop()
    assert child.exitcode == 0
    assert published is True
    assert running == [publisher.thread.name]
    assert _fleet.publish(store)
    fleet = _fleet.read_fleet(store)
    assert fleet[child_id]["tests.runtime.test_fleet.shared_lookup"]["misses"] == 1
    assert fleet[_fleet.process_id()]["tests.runtime.test_fleet.shared_lookup"]["misses"] == 2


def test_an_expired_process_leaves_the_fleet(redis_url: str, namespace: str) -> None:
    """A process whose hash expired is not reported, and read_fleet removes it from the set."""
    store = memo.RedisStore(redis_url, namespace=namespace)

    @memo.cached(store=store)
    def one(x: int) -> int:
        return x

    one(1)
    assert _fleet.publish(store, process="short:1", ttl=0.2)
    assert _fleet.publish(store, process="long:2", ttl=30)
    assert set(_fleet.read_fleet(store)) <= {"short:1", "long:2"}
    assert wait_until(lambda: set(_fleet.read_fleet(store)) == {"long:2"})
    members = store.client.execute_command("SMEMBERS", _fleet.processes_key(namespace))
    assert {m.decode() for m in members} == {"long:2"}


def test_publish_covers_the_functions_of_that_store_only(redis_url: str, namespace: str) -> None:
    """Functions on the store, or on a TieredStore over it, are published; others are not."""
    redis_store = memo.RedisStore(redis_url, namespace=namespace)
    tiered = memo.TieredStore(memo.MemoryStore(), redis_store)

    @memo.cached(store=redis_store)
    def remote(x: int) -> int:
        return x

    @memo.cached(store=tiered)
    def layered(x: int) -> int:
        return x

    @memo.cached(store=memo.MemoryStore())
    def local(x: int) -> int:
        return x

    for function in (remote, layered, local):
        function(1)
    assert _fleet.publish(tiered, process="p:1")
    published = _fleet.read_fleet(redis_store)["p:1"]
    names = {name_of(f) for f in (remote, layered, local)}
    assert set(published) & names == names - {name_of(local)}


def test_unreadable_fields_and_unknown_counters_are_tolerated(
    redis_url: str, namespace: str
) -> None:
    """A field that is not JSON is skipped; unknown counters are ignored, missing ones are 0."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    key = _fleet.stats_key(namespace, "odd:1")
    store.client.execute_command(
        "HSET", key, "app.bad", "{not json", "app.good", '{"misses": 4, "from_the_future": 1}'
    )
    store.client.execute_command("SADD", _fleet.processes_key(namespace), "odd:1")
    fleet = _fleet.read_fleet(store)
    assert fleet == {"odd:1": {"app.good": {"misses": 4, "from_the_future": 1}}}
    stats = _fleet.aggregate(fleet)["app.good"]
    assert (stats.misses, stats.hits, stats.errors) == (4, 0, 0)


def test_aggregate_sums_errors_by_class() -> None:
    """aggregate() adds every counter, errors by class included, per function."""
    fleet: dict[str, dict[str, dict[str, Any]]] = {
        "a:1": {"f": {"misses": 1, "errors": 2, "errors_by_class": {"TimeoutError": 2}}},
        "b:2": {
            "f": {"misses": 2, "errors": 1, "errors_by_class": {"ConnectionError": 1}},
            "g": {"l1_hits": 5, "compute_time": 0.5},
        },
    }
    total = _fleet.aggregate(fleet)
    assert total["f"].misses == 3
    assert total["f"].errors == 3
    assert dict(total["f"].errors_by_class) == {"TimeoutError": 2, "ConnectionError": 1}
    assert (total["g"].l1_hits, total["g"].compute_time) == (5, 0.5)


def test_publish_with_redis_down_returns_false_and_logs_once(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Publishing to an unreachable Redis never raises, and warns once per interval at most."""
    store = memo.RedisStore(dead_url(), namespace=namespace)
    caplog.set_level(logging.WARNING, logger="memo")
    results = [_fleet.publish(store, process="down:1", ttl=60) for _ in range(5)]
    assert results == [False] * 5
    assert len(fleet_warnings(caplog)) == 1
    assert "ConnectionError" in fleet_warnings(caplog)[0].message


def test_publish_refuses_a_process_id_that_clashes() -> None:
    """The process id may not be the set's own name, empty, or contain spaces."""
    store = memo.RedisStore(dead_url(), namespace="fleet")
    for bad in ("processes", "", "a b"):
        with pytest.raises(memo.ConfigurationError, match="publish"):
            _fleet.publish(store, process=bad)
    with pytest.raises(memo.ConfigurationError, match="in-process store"):
        _fleet.publish(memo.MemoryStore())


def test_start_publishing_is_idempotent_and_stops_on_close(redis_url: str, namespace: str) -> None:
    """One thread per store publishes at once and on; it ends when the store is closed."""
    store = memo.RedisStore(redis_url, namespace=namespace)

    @memo.cached(store=store)
    def tick(x: int) -> int:
        return x

    tick(1)
    publisher = _publisher.start_publishing(store, interval=0.1)
    try:
        assert _publisher.start_publishing(store, interval=0.1) is publisher
        threads = [t for t in threading.enumerate() if t.name == publisher.thread.name]
        assert threads == [publisher.thread]
        me = _fleet.process_id()
        assert wait_until(lambda: me in _fleet.read_fleet(store))
        tick(2)  # later calls reach Redis with the next publication
        name = name_of(tick)
        assert wait_until(lambda: _fleet.read_fleet(store)[me][name]["misses"] == 2)
        store.close()
        publisher.thread.join(2.0)
        assert not publisher.thread.is_alive()
    finally:
        publisher.stop()


def test_stop_publishing_stops_the_store_publisher(redis_url: str, namespace: str) -> None:
    """stop_publishing(store) ends its publisher at once; an in-process store is ignored."""
    tiered = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
    publisher = _publisher.start_publishing(tiered, interval=30)
    assert publisher.running
    _publisher.stop_publishing(tiered)
    publisher.thread.join(5)
    assert not publisher.thread.is_alive()
    _publisher.stop_publishing(tiered)  # nothing left to stop
    _publisher.stop_publishing(memo.MemoryStore())


def test_publisher_survives_redis_down_and_stops(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis unreachable the publisher keeps running quietly until stop()."""
    store = memo.RedisStore(dead_url(), namespace=namespace)
    caplog.set_level(logging.WARNING, logger="memo")
    publisher = _publisher.start_publishing(store, interval=30)  # publishes at once, then waits
    try:
        assert wait_until(lambda: len(fleet_warnings(caplog)) == 1)
        assert publisher.running
    finally:
        publisher.stop()
    assert not publisher.thread.is_alive()
    assert len(fleet_warnings(caplog)) == 1
    assert _publisher.start_publishing(store, interval=30) is not publisher  # a fresh one
    _publisher.start_publishing(store).stop()


def test_start_from_env_follows_memo_stats_interval(
    monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    """MEMO_STATS_INTERVAL=0 turns publishing off; a number sets the interval; L1 has no fleet."""
    tiered = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(dead_url(), namespace=namespace))
    monkeypatch.setenv("MEMO_STATS_INTERVAL", "0")
    assert _publisher.start_from_env(tiered) is None
    assert _publisher.start_from_env(memo.MemoryStore()) is None
    monkeypatch.setenv("MEMO_STATS_INTERVAL", "soon")
    with pytest.raises(memo.ConfigurationError, match="MEMO_STATS_INTERVAL"):
        _publisher.start_from_env(tiered)
    monkeypatch.setenv("MEMO_STATS_INTERVAL", "42")
    publisher = _publisher.start_from_env(tiered)
    assert publisher is not None
    publisher.stop()
    assert publisher.interval == 42.0
    monkeypatch.delenv("MEMO_STATS_INTERVAL")
    publisher = _publisher.start_from_env(tiered)
    assert publisher is not None
    publisher.stop()
    assert publisher.interval == _fleet.DEFAULT_INTERVAL


def test_redis_faults_are_logged_at_most_twice_in_100_calls(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """100 calls against a dead Redis port produce at most 2 warnings on logger "memo"."""
    memo.configure(redis_url=dead_url(), namespace=namespace)
    caplog.set_level(logging.WARNING, logger="memo")

    @memo.cached
    def compute(x: int) -> int:
        return x + 1

    assert [compute(x) for x in range(100)] == [x + 1 for x in range(100)]
    assert compute.stats.errors == 100
    warnings = [r for r in caplog.records if r.name == "memo" and r.levelno >= logging.WARNING]
    assert 1 <= len(warnings) <= 2, [r.message for r in warnings]


def test_a_publication_that_counted_less_never_lands_after_one_that_counted_more(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two publications in one process (the publisher thread's round, a call's own): the one
    that took its counts first is written first, so the fresher counts are what stays."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    store = settings.store
    shared_lookup.stats.reset()
    shared_lookup(1)
    counted, go = threading.Event(), threading.Event()
    real_counters = _fleet.counters

    def slow_first(stats: Any) -> dict[str, Any]:
        result = real_counters(stats)
        if threading.current_thread().name == "stale":
            counted.set()
            go.wait(10)  # the stale round holds its counts while the fresh one starts
        return result

    monkeypatch.setattr(_fleet, "counters", slow_first)
    stale = threading.Thread(target=_fleet.publish, args=(store,), name="stale")
    stale.start()
    assert counted.wait(10)
    shared_lookup(2)  # one more miss after the stale round took its counts
    fresh = threading.Thread(target=_fleet.publish, args=(store,), name="fresh")
    fresh.start()
    fresh.join(0.3)  # with the lock it waits for the stale round; without, it is written now
    go.set()
    stale.join(10)
    fresh.join(10)
    fleet = _fleet.read_fleet(store)
    assert fleet[_fleet.process_id()]["tests.runtime.test_fleet.shared_lookup"]["misses"] == 2
