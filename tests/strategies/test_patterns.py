"""write-through, invalidates, refresh-ahead, early refresh, stale-while-refresh, adaptive TTL."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import memo
from memo._runtime.refresher import REFRESHER
from memo.testing import FakeClock


def settle(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait (bounded) for background refreshes to land."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition() and REFRESHER.pending() == 0:
            return True
        time.sleep(0.005)
    return condition()


@pytest.fixture(params=["l1", "tiered"])
def make_store(request: pytest.FixtureRequest, namespace: str) -> Iterator[Callable[[], Any]]:
    """Fresh stores of one kind: L1 alone, or L1 over the session Redis (one per 'process')."""
    if request.param == "l1":
        shared = memo.MemoryStore()
        yield lambda: shared
        return
    url = request.getfixturevalue("redis_url")
    yield lambda: memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret="patterns")
    )


class UserDB:
    """The source of truth the examples write to."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.reads = 0


# -- write-through and invalidates ------------------------------------------------------------


def test_write_through_stores_the_writers_result(make_store: Callable[[], Any]) -> None:
    """After the writer returns, the reader serves its result without reading the source."""
    db, store = UserDB(), make_store()

    @memo.cached(store=store)
    def get_user(user_id: int) -> dict[str, Any] | None:
        db.reads += 1
        return db.rows.get(user_id)

    @memo.write_through(get_user)
    def update_user(user_id: int, name: str) -> dict[str, Any]:
        db.rows[user_id] = {"id": user_id, "name": name}
        return db.rows[user_id]

    assert get_user(1) is None
    update_user(1, "ann")
    assert get_user(1) == {"id": 1, "name": "ann"}
    assert get_user(user_id=1) == {"id": 1, "name": "ann"}
    assert db.reads == 1


def test_write_through_reaches_other_processes(redis_url: str, namespace: str) -> None:
    """A write-through in one stack is what another stack reads next (L2 and its L1 told)."""
    stacks = [
        memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
        for _ in range(2)
    ]
    rows = {1: "old"}

    def read(user_id: int) -> str:
        return rows[user_id]

    read.__qualname__ = "shared_reader"
    reader_a, reader_b = (memo.cached(store=s)(read) for s in stacks)
    assert reader_b(1) == "old"

    @memo.write_through(reader_a)
    def write(user_id: int, name: str) -> str:
        rows[user_id] = name
        return name

    write(1, "new")
    assert settle(lambda: reader_b(1) == "new", timeout=3)


def test_writer_that_raises_changes_nothing() -> None:
    """A failed write leaves the cached value in place."""

    @memo.cached
    def get(key: str) -> str:
        return "cached"

    @memo.write_through(get)
    def put(key: str, value: str) -> str:
        raise RuntimeError("database down")

    get("k")
    with pytest.raises(RuntimeError):
        put("k", "new")
    assert get("k") == "cached"
    assert get.stats.misses == 1


def test_invalidates_evicts_every_reader(make_store: Callable[[], Any]) -> None:
    """@invalidates(a, b) removes both readers' entries for the mapped call."""
    store = make_store()
    reads: list[str] = []

    @memo.cached(store=store)
    def profile(user_id: int) -> str:
        reads.append("profile")
        return "p"

    @memo.cached(store=store)
    def orders(user_id: int, page: int = 0) -> str:
        reads.append("orders")
        return "o"

    @memo.invalidates(profile, orders)
    def delete_user(user_id: int) -> None:
        pass

    profile(7)
    orders(7)
    delete_user(7)
    profile(7)
    orders(7)
    assert reads == ["profile", "orders", "profile", "orders"]


def test_async_write_through_and_invalidates(make_store: Callable[[], Any]) -> None:
    """Async writers update async readers; the decorated writers stay coroutine functions."""
    store = make_store()
    rows: dict[int, str] = {}

    @memo.cached(store=store)
    async def get(user_id: int) -> str | None:
        return rows.get(user_id)

    @memo.write_through(get)
    async def put(user_id: int, name: str) -> str:
        rows[user_id] = name
        return name

    @memo.invalidates(get)
    async def drop(user_id: int) -> None:
        rows.pop(user_id, None)

    async def main() -> None:
        assert await get(1) is None
        await put(1, "ann")
        assert await get(1) == "ann"
        await drop(1)
        assert await get(1) is None

    asyncio.run(main())
    assert asyncio.iscoroutinefunction(put)
    assert get.stats.misses == 2


def test_key_mapping_by_dict_and_callable() -> None:
    """key= renames parameters, or builds the reader's arguments itself."""
    calls: list[int] = []

    @memo.cached
    def get_user(user_id: int, region: str = "eu") -> int:
        calls.append(user_id)
        return user_id

    @memo.write_through(get_user, key={"user_id": "uid"})
    def rename(uid: int, name: str) -> int:
        return uid * 100

    @memo.invalidates(get_user, key=lambda record: (record["id"], record["region"]))
    def delete(record: dict[str, Any]) -> None:
        pass

    rename(5, "x")
    assert get_user(5) == 500
    delete({"id": 5, "region": "eu"})
    assert get_user(5) == 5
    assert calls == [5]


def test_unmapped_reader_parameter_is_refused_at_decoration() -> None:
    """A reader parameter the writer cannot supply is an error naming both functions."""

    @memo.cached
    def get_user(user_id: int, tenant: str) -> int:
        return user_id

    with pytest.raises(memo.ConfigurationError) as info:

        @memo.write_through(get_user)
        def update_user(user_id: int, name: str) -> int:
            return user_id

    message = str(info.value)
    assert "get_user" in message
    assert "update_user" in message
    assert "'tenant'" in message
    with pytest.raises(memo.ConfigurationError, match="must be a function decorated"):
        memo.invalidates(lambda user_id: user_id)(lambda user_id: None)
    with pytest.raises(memo.ConfigurationError, match="not parameters"):
        memo.write_through(get_user, key={"nope": "user_id"})(lambda user_id, tenant: 1)


def test_write_through_result_refused_by_options_invalidates() -> None:
    """A writer result the reader would not cache (condition=) removes the old entry."""
    rows = {1: "old"}

    @memo.cached(condition=lambda value: value != "draft")
    def get(i: int) -> str:
        return rows[i]

    @memo.write_through(get)
    def put(i: int, value: str) -> str:
        rows[i] = value
        return value

    assert get(1) == "old"
    put(1, "draft")
    assert get(1) == "draft"
    assert get.stats.misses == 2


def test_method_writer() -> None:
    """A writer that is a method maps its arguments without self."""

    @memo.cached
    def get(user_id: int) -> str:
        return "from source"

    class Repo:
        @memo.write_through(get)
        def save(self, user_id: int, name: str) -> str:
            return name

    Repo().save(3, "kim")
    assert get(3) == "kim"


# -- refresh-ahead ------------------------------------------------------------------------------


def test_refresh_ahead_returns_at_once_and_refreshes_in_background(
    make_store: Callable[[], Any],
) -> None:
    """Past refresh_at * ttl a hit returns the cached value and one refresh follows."""
    version = {"n": 1}
    gate = threading.Event()

    @memo.refresh_ahead(ttl=10, refresh_at=0.5, store=make_store())
    def read(key: str) -> int:
        if version["n"] > 1:
            gate.wait(5)  # the refresh must not block the caller
        return version["n"]

    with FakeClock() as clock:
        assert read("k") == 1
        version["n"] = 2
        clock.advance(6)
        start = time.monotonic()
        assert read("k") == 1
        assert read("k") == 1
        assert time.monotonic() - start < 1.0
        gate.set()
        assert settle(lambda: read("k") == 2)
    assert read.stats.refreshes == 1


def test_refresh_ahead_async() -> None:
    """Async refresh-ahead runs the refresh as a task on the caller's loop."""
    version = {"n": 1}

    @memo.refresh_ahead(ttl=10, refresh_at=0.5)
    async def read(key: str) -> int:
        await asyncio.sleep(0)
        return version["n"]

    async def main(clock: FakeClock) -> None:
        assert await read("k") == 1
        version["n"] = 2
        clock.advance(6)
        assert await read("k") == 1
        for _ in range(200):
            await asyncio.sleep(0.005)
            if await read("k") == 2:
                return
        raise AssertionError("the background refresh never landed")

    with FakeClock() as clock:
        asyncio.run(main(clock))
    assert read.stats.refreshes == 1


def test_refresh_ahead_of_calls_that_leave_defaults_out(make_store: Callable[[], Any]) -> None:
    """A due hit from a call that leaves defaults out (its values made only when a refresh or
    a miss needs them) refreshes the one entry of the full call, sync and async."""
    version = {"n": 1}

    @memo.refresh_ahead(ttl=10, refresh_at=0.5, store=make_store())
    def read(key: str, scale: int = 10, label: str = "x") -> tuple[int, str]:
        return version["n"] * scale, label

    @memo.refresh_ahead(ttl=10, refresh_at=0.5, store=make_store())
    async def aread(key: str, scale: int = 10, label: str = "x") -> tuple[int, str]:
        return version["n"] * scale, label

    async def refreshed_async() -> bool:
        assert await aread("k") == (10, "x")  # due: served, one refresh starts
        for _ in range(200):
            await asyncio.sleep(0.005)
            if await aread("k", 10, "x") == (20, "x"):
                return True
        return False

    with FakeClock() as clock:
        assert read("k") == (10, "x") and asyncio.run(aread("k")) == (10, "x")
        assert read("k", 10) == (10, "x")  # one entry: a hit
        version["n"] = 2
        clock.advance(6)
        assert read("k") == (10, "x")
        assert settle(lambda: read("k", 10, "x") == (20, "x"))
        assert asyncio.run(refreshed_async())
    for function in (read, aread):
        assert function.stats.misses == 1 and function.stats.refreshes == 1
        assert function.stats.errors == 0


def test_failed_refresh_keeps_value_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    """A refresh that raises leaves the old value served, with one warning."""
    state = {"fail": False}

    @memo.refresh_ahead(ttl=10, refresh_at=0.5)
    def read(key: str) -> str:
        if state["fail"]:
            raise RuntimeError("source down")
        return "good"

    with FakeClock() as clock, caplog.at_level(logging.WARNING, logger="memo"):
        read("k")
        state["fail"] = True
        clock.advance(6)
        for _ in range(3):
            assert read("k") == "good"
            settle(lambda: True)
    warnings = [r for r in caplog.records if "background refresh failed" in r.getMessage()]
    assert len(warnings) == 1
    assert read.stats.errors >= 1


def test_refresh_never_resurrects_an_invalidated_key(make_store: Callable[[], Any]) -> None:
    """An invalidation while a refresh computes wins: the refresh does not store."""
    started, release = threading.Event(), threading.Event()
    version = {"n": 1}

    @memo.refresh_ahead(ttl=10, refresh_at=0.5, store=make_store())
    def read(key: str) -> int:
        if version["n"] > 1:
            started.set()
            release.wait(5)
        return version["n"]

    with FakeClock() as clock:
        read("k")
        version["n"] = 2
        clock.advance(6)
        read("k")
        assert started.wait(5)
        read.invalidate("k")
        release.set()
        settle(lambda: True)
        version["n"] = 3
        assert read("k") == 3  # recomputed: the refresh's 2 was never stored


def test_one_refresh_across_processes(redis_url: str, namespace: str) -> None:
    """Two stacks hitting a due key start one refresh between them (a lease in Redis)."""
    runs: list[int] = []
    gate = threading.Event()

    def read(key: str) -> int:
        runs.append(1)
        if len(runs) > 1:
            gate.wait(5)
        return len(runs)

    read.__qualname__ = "refresh_shared"
    stores = [
        memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
        for _ in range(2)
    ]
    a, b = (memo.refresh_ahead(ttl=10, refresh_at=0.5, store=s)(read) for s in stores)
    with FakeClock() as clock:
        a("k")
        b("k")
        clock.advance(6)
        a("k")
        time.sleep(0.2)
        b("k")
        gate.set()
        settle(lambda: True)
    assert len(runs) == 2, (a.stats, b.stats)  # the first compute and exactly one refresh


# -- early refresh and stale-while-refresh ------------------------------------------------------


def test_early_refresh_with_large_beta_refreshes_before_expiry() -> None:
    """XFetch with a large β refreshes long before expiry (each hit is due, one refresh runs at
    a time); with a tiny β nothing refreshes before expiry."""
    version = {"n": 1}

    def read(key: str) -> int:
        time.sleep(0.01)  # δ > 0
        return version["n"]

    eager = memo.cached(ttl=100, early_refresh=1e6)(read)

    def read_too(key: str) -> int:
        return read(key)

    lazy = memo.cached(ttl=100, early_refresh=1e-9)(read_too)
    with FakeClock():
        eager("k")
        lazy("k")
        version["n"] = 2
        eager("k")
        lazy("k")
        assert settle(lambda: eager("k") == 2)
        assert lazy("k") == 1
    assert eager.stats.refreshes >= 1
    assert lazy.stats.refreshes == 0


def test_stale_entry_is_served_while_it_refreshes(make_store: Callable[[], Any]) -> None:
    """Past ttl but within stale_ttl: the stale value now, the fresh one after the refresh."""
    version = {"n": 1}

    @memo.cached(ttl=10, stale_ttl=60, store=make_store())
    def read(key: str) -> int:
        return version["n"]

    with FakeClock() as clock:
        read("k")
        version["n"] = 2
        clock.advance(11)
        assert read("k") == 1
        assert settle(lambda: read("k") == 2)
        version["n"] = 3
        clock.advance(80)  # past ttl + stale_ttl: a plain miss
        assert read("k") == 3


def test_stale_entry_survives_a_failing_source() -> None:
    """When the refresh fails, the stale value keeps being served until stale_ttl ends."""
    state = {"fail": False}

    @memo.cached(ttl=10, stale_ttl=60)
    def read(key: str) -> str:
        if state["fail"]:
            raise RuntimeError("down")
        return "v1"

    with FakeClock() as clock:
        read("k")
        state["fail"] = True
        clock.advance(30)
        for _ in range(3):
            assert read("k") == "v1"
            settle(lambda: True)
        clock.advance(50)
        with pytest.raises(RuntimeError):
            read("k")


def test_refresh_options_are_validated() -> None:
    """refresh_at, early_refresh and stale_ttl are checked at decoration."""
    with pytest.raises(memo.ConfigurationError, match=r"refresh_at=1\.5"):
        memo.refresh_ahead(ttl=10, refresh_at=1.5)(lambda: 1)
    with pytest.raises(memo.ConfigurationError, match="early_refresh=0"):
        memo.cached(ttl=10, early_refresh=0)(lambda: 1)
    with pytest.raises(memo.ConfigurationError, match="needs a ttl"):
        memo.cached(stale_ttl=5)(lambda: 1)
    with pytest.raises(memo.ConfigurationError, match="refresh_ahead"):
        memo.cached(ttl=10, refresh_at=0.5)(lambda: 1)


# -- adaptive TTL --------------------------------------------------------------------------


def test_adaptive_ttl_follows_the_read_interval() -> None:
    """A key read every 2 s keeps ~4 * 2 s; a new key gets min; max bounds it."""
    runs: list[str] = []

    @memo.cached(ttl=memo.adaptive(min=1, max=20))
    def read(key: str) -> str:
        runs.append(key)
        return key

    with FakeClock() as clock:
        read("hot")  # first store: min (1 s)
        clock.advance(2)
        read("hot")  # expired after 1 s: recomputed, now with an 8 s TTL
        for _ in range(3):
            clock.advance(2)
            read("hot")
        assert runs == ["hot", "hot"]
        clock.advance(30)
        read("hot")
        assert runs == ["hot", "hot", "hot"]


def test_adaptive_is_validated() -> None:
    """memo.adaptive refuses impossible bounds."""
    with pytest.raises(memo.ConfigurationError, match="min must be <= max"):
        memo.adaptive(min=10, max=1)
    with pytest.raises(memo.ConfigurationError, match="positive"):
        memo.adaptive(min=0, max=1)
