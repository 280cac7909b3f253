"""memo's log records come from the logger named "memo": their text does not say "memo:"
again, which read "memo: memo: ..." under any format that shows the logger's name."""

from __future__ import annotations

import logging

import pytest

import memo
from tests.support.redis_servers import free_port


def test_degraded_redis_logs_without_a_second_memo_prefix(
    caplog: pytest.LogCaptureFixture, namespace: str
) -> None:
    """Redis absent: the warnings memo logs (degraded, breaker) name Redis, not "memo:"."""
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    store = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(url, namespace=namespace))

    @memo.cached(store=store)
    def f(x: int) -> int:
        return x

    with caplog.at_level(logging.INFO, logger="memo"):
        for x in range(5):
            assert f(x) == x
    records = [r for r in caplog.records if r.name.startswith("memo")]
    assert records, "an absent Redis is logged"
    assert not [r.getMessage() for r in records if r.getMessage().startswith("memo:")]
    store.close()
