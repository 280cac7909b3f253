"""An async link gives the loop a few turns before a read may sleep, while replies come soon."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio

import memo._redis.turns as turns_module
from memo._redis._async.link import AsyncLink
from memo._redis.turns import NEAR, SMOOTHING, TURNS, Turns
from tests.support.fault_proxy import FaultProxy
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def key(namespace: str) -> str:
    return f"memo:{namespace}:turns"


@pytest.fixture
def counted_turns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every turn a read takes, counted (a list of ones: the count is its length)."""
    taken: list[int] = []
    turn = turns_module._turn

    async def counting() -> None:
        taken.append(1)
        await turn()

    monkeypatch.setattr(turns_module, "_turn", counting)
    yield taken


def test_a_link_takes_turns_before_it_reads_and_learns_how_soon_replies_come(
    redis_url: str, key: str, counted_turns: list[int]
) -> None:
    """A command's reply cannot be in before the loop has polled: the first read takes at
    least one turn, at most TURNS; each reply's time moves the link's smoothed one."""

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=5.0)
        link = AsyncLink(client, keep=True)
        assert link.turns.reply == 0.0
        assert await link.execute("SET", key, b"v") is True
        assert 1 <= len(counted_turns) <= TURNS
        assert link.turns.reply > 0.0
        assert [await link.execute("GET", key) for _ in range(20)] == [b"v"] * 20
        await client.aclose()

    asyncio.run(main())


def test_replies_that_come_late_stop_the_turns(
    fault_redis: RedisServer, counted_turns: list[int]
) -> None:
    """Through a proxy that holds each reply 2 ms, the smoothed reply time passes NEAR within
    a few reads; from then on reads take no turns, and still get their replies."""
    slow = FaultProxy(fault_redis.host, fault_redis.port).start()

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(slow.url, socket_timeout=5.0)
        link = AsyncLink(client, keep=True)
        await link.execute("SET", "memo:late", "late")
        slow.latency(0.002)
        for _ in range(50):
            if link.turns.reply >= NEAR:
                break
            await link.execute("GET", "memo:late")
        assert link.turns.reply >= NEAR
        counted_turns.clear()
        assert [await link.execute("GET", "memo:late") for _ in range(5)] == [b"late"] * 5
        assert counted_turns == []
        slow.latency(0)
        await client.aclose()

    try:
        asyncio.run(main())
    finally:
        slow.stop()


def test_the_smoothed_reply_time_follows_the_replies_back_down() -> None:
    """A link whose server became near again (replies of 50 us after ones of 10 ms) takes
    turns again after a few dozen reads: each reply moves it 1/SMOOTHING of the way."""
    turns = Turns()
    turns.took(0.010)
    assert turns.reply == pytest.approx(0.010 / SMOOTHING)
    reads = 0
    while turns.reply >= NEAR:
        turns.took(50e-6)
        reads += 1
        assert reads < 100
    assert reads > 1


def test_a_read_cancelled_at_a_turn_leaves_no_reply_for_the_next_command(
    redis_url: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while its reply may be on its way: the connection is closed, never reused,
    and the link's next command gets its own reply."""
    turn = turns_module._turn
    cancel_next: list[bool] = [False]

    async def cancelling() -> None:
        if cancel_next[0]:
            cancel_next[0] = False
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
        await turn()

    monkeypatch.setattr(turns_module, "_turn", cancelling)

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=5.0)
        link = AsyncLink(client, keep=True)
        await link.execute("SET", key, b"mine")
        await link.execute("SET", f"{key}:other", b"other")
        cancel_next[0] = True
        with pytest.raises(asyncio.CancelledError):
            await link.execute("GET", f"{key}:other")
        assert link.idle == []
        assert await link.execute("GET", key) == b"mine"
        await client.aclose()

    asyncio.run(main())
