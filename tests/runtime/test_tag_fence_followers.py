"""A caller that joins, in its own process, a compute an invalidation has since fenced does not
share its value: the leader's write was refused, so its followers compute for themselves."""

from __future__ import annotations

import asyncio
import threading
import time

import memo


def test_a_follower_after_invalidate_tag_computes_anew() -> None:
    source = {"row": "old"}
    computing, release = threading.Event(), threading.Event()
    runs: list[str] = []

    @memo.cached(store=memo.MemoryStore(), tags=["user:{user_id}"])
    def profile(user_id: int) -> str:
        value = source["row"]
        runs.append(value)
        if len(runs) == 1:
            computing.set()
            assert release.wait(10)
        return value

    results: dict[str, str] = {}
    leader = threading.Thread(target=lambda: results.setdefault("leader", profile(1)))
    leader.start()
    assert computing.wait(10)
    source["row"] = "new"
    memo.invalidate_tag("user:1")
    follower = threading.Thread(target=lambda: results.setdefault("follower", profile(1)))
    follower.start()
    time.sleep(0.3)  # the follower joins the leader's flight (were it later, it computes anyway)
    release.set()
    leader.join(10)
    follower.join(10)
    assert results == {"leader": "old", "follower": "new"}
    assert profile(1) == "new"


def test_a_follower_task_after_ainvalidate_tag_computes_anew() -> None:
    source = {"row": "old"}
    runs: list[str] = []

    async def main() -> dict[str, str]:
        computing, release = asyncio.Event(), asyncio.Event()

        @memo.cached(store=memo.MemoryStore(), tags=["user:{user_id}"])
        async def profile(user_id: int) -> str:
            value = source["row"]
            runs.append(value)
            if len(runs) == 1:
                computing.set()
                await release.wait()
            return value

        leader = asyncio.create_task(profile(1))
        await asyncio.wait_for(computing.wait(), 10)
        source["row"] = "new"
        await memo.ainvalidate_tag("user:1")
        follower = asyncio.create_task(profile(1))
        for _ in range(10):  # the follower runs up to its wait on the leader's flight
            await asyncio.sleep(0)
        release.set()
        results = {"leader": await leader, "follower": await follower}
        results["after"] = await profile(1)
        return results

    assert asyncio.run(main()) == {"leader": "old", "follower": "new", "after": "new"}
    assert runs == ["old", "new"]
