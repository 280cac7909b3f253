"""Every test starts from a fresh default store and the real clock."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import memo
from memo._clock import CLOCK
from memo.testing import FakeClock

pytest_plugins = ["tests.support.redis_fixtures", "pytester"]

# configure(redis_url=...) would start a stats publisher per store; the fleet tests start
# theirs explicitly, every other test runs without.
os.environ.setdefault("MEMO_STATS_INTERVAL", "0")


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    """A fresh L1-only default store for each test, and the real clock back afterwards."""
    memo.configure()
    yield
    CLOCK.reset()
    memo.configure()


@pytest.fixture(autouse=True)
def close_new_redis_stores() -> Iterator[None]:
    """RedisStores a test made are closed after it, so no listener thread outlives its test."""
    from memo._redis.store import _STORES

    before = {id(store) for store in _STORES}
    yield
    for store in list(_STORES):
        if id(store) not in before:
            store.close()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A fake clock installed for the test."""
    with FakeClock() as fake:
        yield fake
