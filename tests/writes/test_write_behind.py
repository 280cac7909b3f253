"""@memo.write_behind: the cache at once, the sink in batches; memory and Redis Stream modes."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import memo
from memo._strategies.write_behind import _FLUSHERS
from memo._writes.stream import GROUP
from tests.support import write_behind_worker as worker
from tests.support.python import run_python
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
SECRET = "wb-test-secret"
TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def forget_flushers() -> Iterator[None]:
    """Each test's writers leave the process registry with it, so memo.flush() in a later
    test never waits on a sink or a Redis server of this one."""
    yield
    for flusher in list(_FLUSHERS):
        flusher.stop()
    _FLUSHERS.clear()


# -- helpers ---------------------------------------------------------------------------------


def wait_until(condition: Callable[[], object], timeout: float = TIMEOUT) -> bool:
    """Poll condition until it holds or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())


class Sink:
    """A flush target that records its batches; it may hold at a gate, fail, or refuse poison."""

    def __init__(
        self,
        *,
        gate: threading.Event | None = None,
        failures: int = 0,
        poison: Callable[[memo.Write], bool] | None = None,
    ) -> None:
        self.batches: list[list[memo.Write]] = []
        self.calls = 0
        self.entered = threading.Event()
        self.gate = gate
        self.failures = failures
        self.poison = poison
        self.lock = threading.Lock()

    def __call__(self, batch: list[memo.Write]) -> None:
        with self.lock:
            self.calls += 1
            call = self.calls
        self.entered.set()
        if self.gate is not None and not self.gate.wait(TIMEOUT):
            raise TimeoutError("the test never opened the gate")
        if call <= self.failures:
            raise ConnectionError(f"sink down (call {call})")
        if self.poison is not None and any(self.poison(w) for w in batch):
            raise ValueError("poison record in the batch")
        with self.lock:
            self.batches.append(list(batch))

    def writes(self) -> list[memo.Write]:
        """Every delivered write, in delivery order."""
        with self.lock:
            return [w for batch in self.batches for w in batch]

    def latest(self) -> dict[int, str]:
        """user_id -> name of its highest delivered version (what an upsert by version keeps)."""
        best: dict[int, memo.Write] = {}
        for w in self.writes():
            held = best.get(w.arguments["user_id"])
            if held is None or w.version > held.version:
                best[w.arguments["user_id"]] = w
        return {k: w.value["name"] for k, w in best.items()}


class AsyncSink(Sink):
    """`Sink` as an `async def` flush."""

    async def __call__(self, batch: list[memo.Write]) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        super().__call__(batch)


def make_reader(store: Any = None, calls: list[int] | None = None) -> Any:
    """A cached get_user with one qualname whatever the store: two stacks share its keys."""

    @memo.cached(ttl=300, store=store)
    def get_user(user_id: int) -> dict[str, Any]:
        if calls is not None:
            calls.append(user_id)
        return {"id": user_id, "name": "db"}

    return get_user


def make_writer(reader: Any, sink: Any, **options: Any) -> Any:
    """update_user behind reader, flushing to sink."""

    @memo.write_behind(reader, flush=sink, **options)
    def update_user(user_id: int, name: str) -> dict[str, Any]:
        return {"id": user_id, "name": name}

    return update_user


def make_async_pair(sink: Any, **options: Any) -> tuple[Any, Any]:
    """An `async def` reader and write-behind writer."""

    @memo.cached(ttl=300)
    async def aget_user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "db"}

    @memo.write_behind(aget_user, flush=sink, **options)
    async def aupdate_user(user_id: int, name: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"id": user_id, "name": name}

    return aget_user, aupdate_user


def durable(redis_url: str, namespace: str) -> memo.TieredStore:
    """Configure L1+L2 on the test's namespace; the configured store."""
    memo.configure(redis_url=redis_url, namespace=namespace, secret=SECRET)
    from memo._runtime.settings import settings

    store = settings.store
    assert isinstance(store, memo.TieredStore)
    return store


def tiered(url: str, namespace: str) -> memo.TieredStore:
    """A second, independent L1+L2 stack: another process, as far as Redis can tell."""
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret=SECRET)
    )


def stream_key(writer: Any) -> str:
    """The Redis Stream behind a durable writer."""
    stream = writer._self_flusher.stream()
    assert stream is not None
    return str(stream.key)


def raw(url: str) -> redis.Redis:
    """A plain client (as the test's ACL user)."""
    return redis.Redis.from_url(url, socket_timeout=2)


# -- memory mode -----------------------------------------------------------------------------


def test_call_returns_before_flush_and_reader_sees_value_at_once() -> None:
    """A call returns while flush is still busy; the reader serves the new value from L1."""
    gate = threading.Event()
    sink = Sink(gate=gate)
    calls: list[int] = []
    reader = make_reader(calls=calls)
    writer = make_writer(reader, sink, batch_size=1, interval=0.01)
    try:
        assert writer(1, "ann") == {"id": 1, "name": "ann"}
        assert reader(1) == {"id": 1, "name": "ann"}
        assert sink.entered.wait(TIMEOUT)  # the flusher is inside flush, held at the gate
        assert writer(2, "bob") == {"id": 2, "name": "bob"}
        assert reader(2) == {"id": 2, "name": "bob"}
        assert sink.batches == []
        assert writer.pending() == 2
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {1: "ann", 2: "bob"}
    assert writer.pending() == 0
    assert calls == []
    assert reader.stats.misses == 0


def test_write_carries_key_arguments_value_and_version() -> None:
    """flush gets memo.Write(key=reader.cache_key(...), arguments by name, value, version)."""
    sink = Sink()
    reader = make_reader()
    writer = make_writer(reader, sink, interval=60)
    writer(name="x", user_id=7)
    assert memo.flush(TIMEOUT)
    [write] = sink.writes()
    assert isinstance(write, memo.Write)
    assert write.key == reader.cache_key(7)
    assert write.arguments == {"user_id": 7}
    assert write.value == {"id": 7, "name": "x"}
    assert isinstance(write.version, int) and write.version > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        write.value = None  # type: ignore[misc]


def test_async_writer_and_async_flush() -> None:
    """An async def writer stays a coroutine function; an async flush runs on the flusher."""
    sink = AsyncSink()
    reader, writer = make_async_pair(sink, interval=60)
    assert inspect.iscoroutinefunction(writer)

    async def main() -> None:
        assert await writer(1, "ann") == {"id": 1, "name": "ann"}
        assert await reader(1) == {"id": 1, "name": "ann"}
        await writer(2, "bob")

    asyncio.run(main())
    assert writer.pending() == 2
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {1: "ann", 2: "bob"}
    assert writer.flusher_stats.delivered == 2


def test_writes_to_one_key_coalesce_last_wins_versions_grow() -> None:
    """100 writes to 3 keys reach flush as the last write per key, versions increasing."""
    sink = Sink()
    reader = make_reader()
    writer = make_writer(reader, sink, batch_size=100, interval=60)
    for i in range(100):
        writer(i % 3, f"n{i}")
    assert writer.pending() == 3
    assert memo.flush(TIMEOUT)
    first = {w.arguments["user_id"]: w for w in sink.writes()}
    assert {k: w.value["name"] for k, w in first.items()} == {0: "n99", 1: "n97", 2: "n98"}
    assert len(sink.writes()) == 3
    for i in range(3):
        writer(i, f"again{i}")
    assert memo.flush(TIMEOUT)
    for batch in sink.batches:
        keys = [w.key for w in batch]
        assert len(keys) == len(set(keys))
    later = {w.arguments["user_id"]: w for w in sink.batches[-1]}
    assert all(later[k].version > first[k].version for k in range(3))
    assert reader(0) == {"id": 0, "name": "again0"}


def test_batches_by_batch_size() -> None:
    """Once batch_size writes wait, they go out together, without waiting for the interval."""
    sink = Sink()
    writer = make_writer(make_reader(), sink, batch_size=10, interval=60)
    for k in range(25):
        writer(k, "x")
    assert wait_until(lambda: len(sink.batches) == 2)
    assert [len(b) for b in sink.batches] == [10, 10]
    assert writer.pending() == 5
    assert memo.flush(TIMEOUT)
    assert [len(b) for b in sink.batches] == [10, 10, 5]


def test_batches_by_interval() -> None:
    """A partial batch goes out once its oldest write has waited `interval`."""
    sink = Sink()
    writer = make_writer(make_reader(), sink, batch_size=1000, interval=0.05)
    for k in range(3):
        writer(k, "x")
    assert wait_until(lambda: len(sink.writes()) == 3)
    assert [len(b) for b in sink.batches] == [3]
    assert writer.pending() == 0


def test_retries_with_backoff_then_success() -> None:
    """A failing flush is retried with backoff; the batch is delivered once it works."""
    sink = Sink(failures=2)
    writer = make_writer(make_reader(), sink, interval=60, backoff=0.01, max_attempts=5)
    writer(1, "ann")
    assert memo.flush(TIMEOUT)
    assert sink.calls == 3
    assert sink.latest() == {1: "ann"}
    stats = writer.flusher_stats
    assert (stats.delivered, stats.retries, stats.dead) == (1, 2, 0)
    assert writer.dead_letters == []


def test_poison_record_goes_to_dead_letters_while_the_rest_flow() -> None:
    """After max_attempts the batch is split; the failing records are dead, the rest delivered."""
    alerts: list[tuple[list[memo.Write], BaseException]] = []
    sink = Sink(poison=lambda w: w.value["name"] == "poison")
    writer = make_writer(
        make_reader(),
        sink,
        batch_size=10,
        interval=60,
        max_attempts=2,
        backoff=0.001,
        dead_letter=lambda writes, exc: alerts.append((writes, exc)),
    )
    for k in range(10):
        writer(k, "poison" if k in (3, 7) else f"ok{k}")
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {k: f"ok{k}" for k in range(10) if k not in (3, 7)}
    assert sorted(w.arguments["user_id"] for w in writer.dead_letters) == [3, 7]
    assert sorted(w.arguments["user_id"] for ws, _ in alerts for w in ws) == [3, 7]
    assert all(isinstance(exc, ValueError) for _, exc in alerts)
    assert (writer.flusher_stats.delivered, writer.flusher_stats.dead) == (8, 2)
    writer(3, "fixed")  # the key is not stuck
    assert memo.flush(TIMEOUT)
    assert sink.latest()[3] == "fixed"


def test_flush_timeout_reports_undelivered_writes() -> None:
    """memo.flush(timeout) is False while a write is undelivered, True once all are."""
    gate = threading.Event()
    sink = Sink(gate=gate)
    writer = make_writer(make_reader(), sink, batch_size=1, interval=0.01)
    try:
        writer(1, "ann")
        assert sink.entered.wait(TIMEOUT)
        assert memo.flush(timeout=0.1) is False
        assert writer.pending() == 1
    finally:
        gate.set()
    assert memo.flush(timeout=TIMEOUT) is True
    assert writer.pending() == 0


def held(on_full: str, **options: Any) -> tuple[Any, Any, Sink, threading.Event]:
    """A writer with queue_size=2 whose flusher holds key 0 in flush and keys 1, 2 queued."""
    gate = threading.Event()
    sink = Sink(gate=gate)
    reader = make_reader()
    writer = make_writer(
        reader, sink, batch_size=1, interval=0.01, queue_size=2, on_full=on_full, **options
    )
    writer(0, "in flight")
    assert sink.entered.wait(TIMEOUT)
    writer(1, "a")
    writer(2, "b")
    assert writer.pending() == 3
    return reader, writer, sink, gate


def test_full_queue_raise_policy_leaves_the_cache_alone() -> None:
    """on_full='raise': a write to a new key raises MemoError; a queued key still coalesces."""
    reader, writer, sink, gate = held("raise")
    try:
        with pytest.raises(memo.MemoError, match="queue is full"):
            writer(3, "c")
        assert reader(3) == {"id": 3, "name": "db"}
        writer(1, "a2")
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "in flight", 1: "a2", 2: "b"}


def test_full_queue_drop_oldest_policy_counts_drops() -> None:
    """on_full='drop_oldest': the oldest queued write makes room, and is counted."""
    _, writer, sink, gate = held("drop_oldest")
    try:
        writer(3, "c")
        assert writer.flusher_stats.dropped == 1
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "in flight", 2: "b", 3: "c"}


def test_full_queue_block_policy_times_out_with_advice() -> None:
    """on_full='block' waits block_timeout for room, then raises MemoError naming the fixes."""
    _, writer, _, gate = held("block", block_timeout=0.05)
    try:
        with pytest.raises(memo.MemoError, match=r"queue_size=.*drop_oldest"):
            writer(3, "c")
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)


def test_full_queue_block_policy_resumes_when_room_is_made() -> None:
    """on_full='block': a blocked writer goes on as soon as the flusher takes writes."""
    _, writer, sink, gate = held("block", block_timeout=TIMEOUT)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (writer(3, "c"), done.set()), daemon=True)
    thread.start()
    try:
        assert not done.wait(0.1)  # still waiting for room
    finally:
        gate.set()
    assert done.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "in flight", 1: "a", 2: "b", 3: "c"}


def test_full_queue_block_policy_async_writer_keeps_the_loop_running() -> None:
    """An async writer blocked on a full queue awaits room without blocking its event loop."""
    gate = threading.Event()
    sink = Sink(gate=gate)
    _, writer = make_async_pair(
        sink, batch_size=1, interval=0.01, queue_size=1, on_full="block", block_timeout=TIMEOUT
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def main() -> None:
        await writer(0, "in flight")
        assert await asyncio.to_thread(sink.entered.wait, TIMEOUT)
        await writer(1, "queued")
        task = asyncio.create_task(ticker())
        threading.Timer(0.1, gate.set).start()
        await writer(2, "waited")
        task.cancel()

    try:
        asyncio.run(main())
    finally:
        gate.set()
    assert ticks > 1
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "in flight", 1: "queued", 2: "waited"}


def test_writer_that_raises_queues_nothing() -> None:
    """A writer's exception reaches the caller; nothing is queued or cached."""
    sink = Sink()
    reader = make_reader()

    @memo.write_behind(reader, flush=sink, interval=60)
    def update_user(user_id: int, name: str) -> dict[str, Any]:
        raise RuntimeError("validation failed")

    with pytest.raises(RuntimeError, match="validation failed"):
        update_user(1, "ann")
    assert update_user.pending() == 0
    assert reader(1) == {"id": 1, "name": "db"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flush": "not callable"}, "flush="),
        ({"batch_size": 0}, "batch_size="),
        ({"interval": 0}, "interval="),
        ({"max_attempts": 0}, "max_attempts="),
        ({"backoff": -1}, "backoff="),
        ({"queue_size": 0}, "queue_size="),
        ({"on_full": "wait"}, "on_full="),
        ({"dead_letter": 3}, "dead_letter="),
    ],
)
def test_bad_options_fail_at_decoration(options: dict[str, Any], message: str) -> None:
    """Every invalid option is a ConfigurationError when the decorator is built."""
    reader = make_reader()
    arguments = {"flush": Sink(), **options}
    with pytest.raises(memo.ConfigurationError, match=message):
        memo.write_behind(reader, **arguments)


def test_reader_must_be_cached_and_mappable() -> None:
    """A reader that is not @memo.cached, or a writer lacking its parameters, is refused."""
    with pytest.raises(memo.ConfigurationError, match=r"@memo\.cached"):
        make_writer(lambda user_id: None, Sink())
    with pytest.raises(memo.ConfigurationError, match="user_id"):

        @memo.write_behind(make_reader(), flush=Sink())
        def rename(name: str) -> str:
            return name


def test_forked_child_never_flushes_the_parents_queue() -> None:
    """A forked child starts with an empty queue: memo.flush() there delivers only its own."""
    sink = Sink()
    writer = make_writer(make_reader(), sink, interval=60)
    for k in range(3):
        writer(k, "parent")
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()

    def child() -> None:
        try:
            before = (writer.pending(), memo.flush(TIMEOUT), sink.latest())
            writer(10, "child")
            theirs.send((*before, memo.flush(TIMEOUT), sink.latest()))
        except BaseException as exc:
            theirs.send(repr(exc))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        process = ctx.Process(target=child)
        process.start()
    assert ours.poll(TIMEOUT)
    assert ours.recv() == (0, True, {}, True, {10: "child"})
    process.join(TIMEOUT)
    assert process.exitcode == 0
    assert writer.pending() == 3
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "parent", 1: "parent", 2: "parent"}


def run_worker(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """`python -m tests.support.write_behind_worker args...` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "tests.support.write_behind_worker", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_worker(*args: str) -> subprocess.Popen[str]:
    """`python -m tests.support.write_behind_worker args...` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.write_behind_worker", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_interpreter_exit_delivers_queued_writes(tmp_path: Path) -> None:
    """Writes still queued when the program ends are delivered by the atexit hook."""
    db = str(tmp_path / "sink.db")
    worker.create_sink(db)
    out = run_worker("exit", db, "30")
    assert out.returncode == 0, out.stderr
    rows, _ = worker.read_sink(db)
    assert {k: v for k, (v, _) in rows.items()} == {i: i * 10 for i in range(30)}


@pytest.mark.parametrize("previous", ["default", "chain"])
def test_sigterm_drains_then_runs_the_previous_handler(tmp_path: Path, previous: str) -> None:
    """SIGTERM delivers the queued writes, then does what SIGTERM did before memo's handler."""
    db = str(tmp_path / "sink.db")
    worker.create_sink(db)
    process = start_worker("sigterm", db, "30", previous)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    if previous == "chain":
        assert process.returncode == 3, stderr
        assert "previous handler" in stdout
    else:
        assert process.returncode == -signal.SIGTERM, stderr
    rows, _ = worker.read_sink(db)
    assert {k: v for k, (v, _) in rows.items()} == {i: i * 10 for i in range(30)}


# -- durable mode (Redis Stream) ---------------------------------------------------------------


def test_durable_write_reaches_l2_and_stream_then_the_sink(redis_url: str, namespace: str) -> None:
    """Durable: the value is in L2 for another stack at once; the stream empties once flushed."""
    durable(redis_url, namespace)
    gate = threading.Event()
    sink = Sink(gate=gate)
    reader = make_reader()
    writer = make_writer(reader, sink, batch_size=10, interval=0.05)
    other_calls: list[int] = []
    other = make_reader(store=tiered(redis_url, namespace), calls=other_calls)
    try:
        assert writer(1, "ann") == {"id": 1, "name": "ann"}
        assert reader(1) == {"id": 1, "name": "ann"}
        assert other(1) == {"id": 1, "name": "ann"}
        assert other_calls == []
        with raw(redis_url) as client:
            assert client.xlen(stream_key(writer)) == 1
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {1: "ann"}
    with raw(redis_url) as client:
        assert client.xlen(stream_key(writer)) == 0
        assert client.xpending(stream_key(writer), GROUP)["pending"] == 0


def test_durable_async_writer_and_async_flush(redis_url: str, namespace: str) -> None:
    """Durable mode with an async def writer (XADD on the asyncio client) and async flush."""
    durable(redis_url, namespace)
    sink = AsyncSink()
    reader, writer = make_async_pair(sink, interval=0.05)
    other = make_reader(store=tiered(redis_url, namespace))

    async def main() -> None:
        for i in range(10):
            await writer(i % 2, f"n{i}")
        assert await reader(1) == {"id": 1, "name": "n9"}

    asyncio.run(main())
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "n8", 1: "n9"}
    with raw(redis_url) as client:
        assert client.xlen(stream_key(writer)) == 0
    del other


def test_durable_coalescing_in_a_batch_last_version_wins(redis_url: str, namespace: str) -> None:
    """Durable: writes of one key in one batch coalesce to the highest version; all are acked."""
    durable(redis_url, namespace)
    sink = Sink()
    writer = make_writer(make_reader(), sink, batch_size=100, interval=60)
    for i in range(100):
        writer(i % 3, f"n{i}")
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "n99", 1: "n97", 2: "n98"}
    assert len(sink.writes()) < 20  # coalesced: 100 entries, a handful of deliveries
    for batch in sink.batches:
        keys = [w.key for w in batch]
        assert len(keys) == len(set(keys))
    versions: dict[int, list[int]] = {}
    for w in sink.writes():
        versions.setdefault(w.arguments["user_id"], []).append(w.version)
    assert all(v == sorted(set(v)) for v in versions.values())
    with raw(redis_url) as client:
        assert client.xlen(stream_key(writer)) == 0


def test_durable_poison_record_goes_to_the_dead_stream(redis_url: str, namespace: str) -> None:
    """Durable: a record flush keeps refusing goes to the :dead stream; the rest are delivered."""
    durable(redis_url, namespace)
    alerts: list[memo.Write] = []
    sink = Sink(poison=lambda w: w.value["name"] == "poison")
    reader = make_reader()
    writer = make_writer(
        reader,
        sink,
        batch_size=10,
        interval=60,
        max_attempts=2,
        backoff=0.001,
        dead_letter=lambda writes, exc: alerts.extend(writes),
    )
    for k in range(10):
        writer(k, "poison" if k == 3 else f"ok{k}")
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {k: f"ok{k}" for k in range(10) if k != 3}
    assert [w.arguments for w in alerts] == [{"user_id": 3}]
    key = stream_key(writer)
    with raw(redis_url) as client:
        assert client.xlen(key) == 0
        [(_, fields)] = client.xrange(key + ":dead")
    assert fields[b"key"] == reader.cache_key(3).encode()
    assert b"poison" in fields[b"error"]
    assert writer.flusher_stats.dead == 1


def test_durable_unverifiable_entry_is_left_for_a_consumer_that_can(
    redis_url: str, namespace: str
) -> None:
    """Durable: an entry this consumer cannot verify (forged, or signed with a secret it does
    not hold) is neither delivered nor dead-lettered: it stays in the stream for a consumer
    that can verify it, and a drain looks past it."""
    durable(redis_url, namespace)
    sink = Sink()
    writer = make_writer(make_reader(), sink, interval=60)
    key = stream_key(writer)
    with raw(redis_url) as client:
        client.xadd(key, {"key": "memo:x", "version": "1", "data": b"\xcdMforged"})
    writer(1, "ann")
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {1: "ann"}
    with raw(redis_url) as client:
        assert client.xlen(key) == 1  # the foreign entry, pending
        assert client.xlen(key + ":dead") == 0
    assert writer.flusher_stats.dead == 0


def test_durable_entry_nobody_verified_in_the_grace_goes_to_dead_letters_and_callback(
    redis_url: str, namespace: str
) -> None:
    """Durable: an entry no consumer verified within the grace period is dead-lettered, with
    the error in its fields, and handed to the dead_letter callback (key and version only)."""
    durable(redis_url, namespace)
    sink = Sink()
    alerts: list[tuple[list[memo.Write], BaseException]] = []
    writer = make_writer(
        make_reader(), sink, interval=60, dead_letter=lambda ws, exc: alerts.append((ws, exc))
    )
    writer._self_flusher.burials.unverified_grace = 0.0
    key = stream_key(writer)
    with raw(redis_url) as client:
        client.xadd(key, {"key": "memo:x", "version": "7", "data": b"\xcdMforged"})
    writer(1, "ann")
    assert memo.flush(TIMEOUT)
    with raw(redis_url) as client:
        [(_, fields)] = client.xrange(key + ":dead")
        assert client.xlen(key) == 0
    assert b"no consumer verified it" in fields[b"error"]
    [(writes, exc)] = alerts
    assert [(w.key, w.version, w.value) for w in writes] == [("memo:x", 7, None)]
    assert "no consumer verified it" in str(exc)


def test_durable_dead_consumers_entries_are_claimed_or_dead_lettered(
    redis_url: str, namespace: str
) -> None:
    """Entries a dead consumer left pending are claimed (XAUTOCLAIM) and delivered; one that was
    delivered more than max_attempts times already goes to the dead stream instead."""
    durable(redis_url, namespace)
    sink = Sink()
    reader = make_reader()
    writer = make_writer(reader, sink, interval=0.05, max_attempts=5)
    stream = writer._self_flusher.stream()
    stream.ensure_group()
    for k, name in ((1, "claimed"), (2, "doomed")):
        assert stream.append(memo.Write(reader.cache_key(k), {"user_id": k}, {"name": name}, k))
    with raw(redis_url) as client:
        [[_, entries]] = client.xreadgroup(GROUP, "ghost", {stream.key: ">"})
        for (entry_id, _), retries in zip(entries, (1, 9), strict=True):
            client.xclaim(
                stream.key, GROUP, "ghost", 0, [entry_id], idle=600_000, retrycount=retries
            )
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {1: "claimed"}
    with raw(redis_url) as client:
        assert client.xlen(stream.key) == 0
        [(_, fields)] = client.xrange(stream.key + ":dead")
    assert fields[b"key"] == reader.cache_key(2).encode()
    assert b"delivered 10 times" in fields[b"error"]


def test_durable_slow_flush_keeps_its_entries_from_other_consumers(
    redis_url: str, namespace: str
) -> None:
    """A flush running past the visibility timeout keeps its entries claimed: another live
    consumer of the stream does not take them over and deliver them a second time."""
    durable(redis_url, namespace)
    gate = threading.Event()
    ours = Sink(gate=gate)
    writer = make_writer(make_reader(), ours, interval=0.05)
    theirs = Sink()
    other = make_writer(make_reader(store=tiered(redis_url, namespace)), theirs, interval=0.05)
    try:
        writer(1, "ann")
        assert ours.entered.wait(TIMEOUT)
        other._self_flusher.ensure_thread()  # a second consumer, claiming every second
        time.sleep(writer._self_flusher.options.visibility + 1.0)
        assert theirs.calls == 0
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert ours.latest() == {1: "ann"}
    assert theirs.calls == 0


def test_durable_redis_outage_keeps_writes_in_memory_then_reappends(
    proxy: TcpProxy, namespace: str
) -> None:
    """Durable with Redis unreachable: calls never raise, writes wait in memory, and once Redis
    is back they are appended to the stream and delivered from there; none is lost."""
    store = durable(proxy.url, namespace)
    gate = threading.Event()
    gate.set()
    sink = Sink(gate=gate)
    reader = make_reader()
    writer = make_writer(reader, sink, interval=60)
    writer(0, "before")
    assert memo.flush(TIMEOUT)
    proxy.refuse()
    proxy.drop()
    # Reads fail until the breaker opens. Before that, a flusher step that cannot re-append
    # delivers from memory at once (Redis failed, the writes must not wait): open it first so
    # that what this test watches, writes held in memory for the stream, is what happens.
    probes = iter(range(100, 200))
    assert wait_until(lambda: reader(next(probes)) and store.redis.breaker.is_open)
    for k in range(1, 6):
        assert writer(k, "during") == {"id": k, "name": "during"}
    assert writer.pending() == 5
    proxy.accept_again()
    assert wait_until(lambda: not store.redis.breaker.is_open)
    gate.clear()
    try:
        assert memo.flush(timeout=0.3) is False  # re-appended, read, held at the gate
        with raw(proxy.url) as client:  # re-appended by now or soon: a loaded machine is slow
            assert wait_until(lambda: client.xlen(stream_key(writer)) == 5, TIMEOUT)
    finally:
        gate.set()
    assert memo.flush(TIMEOUT)
    assert sink.latest() == {0: "before", **dict.fromkeys(range(1, 6), "during")}
    assert writer.pending() == 0
    with raw(proxy.url) as client:
        assert client.xlen(stream_key(writer)) == 0


def test_crash_sigkill_mid_batch_loses_no_acknowledged_write(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """A writer process SIGKILLed mid-batch loses nothing it acknowledged: a new consumer claims
    its pending entries, and the sink (upsert by version) ends equal to the model."""
    db = str(tmp_path / "sink.db")
    worker.create_sink(db)
    n, keys = 200, 20
    process = start_worker("write", redis_url, namespace, db, str(n), str(keys))
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"acked {n}"
        assert wait_until(lambda: worker.read_sink(db)[1] >= 25, timeout=30)  # in batch 3
        process.send_signal(signal.SIGKILL)
        process.wait(TIMEOUT)
    finally:
        process.kill()
        process.communicate()
    _, applied = worker.read_sink(db)
    assert applied < n  # killed mid-way
    stream = f"memo:{namespace}:wb:tests.support.write_behind_worker.set_item"
    with raw(redis_url) as client:
        pending = client.xpending(stream, GROUP)
    assert pending["pending"] > 0  # mid-batch: entries delivered to the dead consumer, unacked
    out = run_worker("drain", redis_url, namespace, db)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "drained True", out.stderr
    model = {k: max(i for i in range(n) if i % keys == k) for k in range(keys)}
    rows, _ = worker.read_sink(db)
    assert {k: value for k, (value, _) in rows.items()} == model


def test_durable_consumers_of_dead_processes_are_forgotten(redis_url: str, namespace: str) -> None:
    """Consumers with no pending entry, idle long enough, are removed from the group; a consumer
    still holding entries is kept (its entries wait to be claimed)."""
    durable(redis_url, namespace)
    reader = make_reader()
    writer = make_writer(reader, Sink(), interval=60)
    stream = writer._self_flusher.stream()
    stream.ensure_group()
    assert stream.append(memo.Write(reader.cache_key(1), {"user_id": 1}, {"name": "x"}, 1))
    with raw(redis_url) as client:
        client.xgroup_createconsumer(stream.key, GROUP, "gone")
        client.xreadgroup(GROUP, "holding", {stream.key: ">"})
        stream.tidy(0.0)
        names = {c["name"] for c in client.xinfo_consumers(stream.key, GROUP)}
    assert names == {b"holding"}


def test_sigterm_with_a_program_handler_does_not_drain_inside_it() -> None:
    """With a handler of the program's own (a graceful stop), memo's SIGTERM handler calls it
    at once and leaves the drain to exit: draining inside the signal handler froze the main
    thread, and the event loop running in it, mid-call (found by the soak). The writes are
    still delivered, at exit."""
    code = (
        "import asyncio, os, signal, time, memo\n"
        "saved = []\n"
        "def save(batch):\n"
        "    time.sleep(0.5)\n"
        "    saved.extend(w.value for w in batch)\n"
        "    print('saved', sorted(saved), flush=True)\n"
        "@memo.cached\n"
        "def get(k: int) -> int:\n    return k\n"
        "@memo.write_behind(get, flush=save, interval=0.01)\n"
        "def put(k: int) -> int:\n    return k\n"
        "stopping = []\n"
        "signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))\n"
        "async def main():\n"
        "    put(1)\n"  # the first write from the main thread installs memo's handler
        "    await asyncio.sleep(0.1)\n"  # the flusher is in save([1]) now
        "    put(2)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    await asyncio.sleep(0)\n"
        "    print('handled', stopping, 'saved while handling', sorted(saved), flush=True)\n"
        "asyncio.run(main())\n"
    )
    lines = run_python(code).splitlines()
    assert lines[0] == "handled [True] saved while handling []", lines
    assert lines[-1] == "saved [1, 2]", lines  # delivered at exit
