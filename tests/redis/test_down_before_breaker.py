"""With Redis down, results land in L1 before the breaker opens, as they do after."""

from __future__ import annotations

import pytest

import memo
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("colour", ["sync", "async"])
def test_results_are_kept_in_l1_while_the_breaker_is_still_closed(
    colour: str, fault_redis: RedisServer, namespace: str
) -> None:
    """Redis killed, breaker threshold not reached: the second call is an L1 hit, not a
    recompute, and the call counts its degradation as an error."""
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(fault_redis.url, namespace=namespace)
    )
    store.redis.breaker.threshold = 1_000  # stays closed for the whole test
    runs: list[int] = []
    fault_redis.kill()
    if colour == "sync":

        @memo.cached(ttl=60, store=store)
        def f(x: int) -> int:
            runs.append(x)
            return x * 2

        assert (f(1), f(1)) == (2, 2)
    else:
        import asyncio

        @memo.cached(ttl=60, store=store)
        async def g(x: int) -> int:
            runs.append(x)
            return x * 2

        async def twice() -> tuple[int, int]:
            return await g(1), await g(1)

        assert asyncio.run(twice()) == (2, 2)
        f = g  # type: ignore[assignment]
    assert not store.redis.breaker.is_open
    assert runs == [1]
    assert f.stats.l1_hits == 1
    assert f.stats.errors >= 1
    store.close()
