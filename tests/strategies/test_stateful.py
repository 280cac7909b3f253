"""A hypothesis state machine holds @memo.cached, on a fake clock, to a model dict."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import memo
from memo.testing import FakeClock

TTL = 10.0
KEYS = st.integers(min_value=0, max_value=5)


class CachedModel(RuleBasedStateMachine):
    """Every return equals the model's: the cached value while live, else the source's."""

    use_async = False

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.clock.install()
        memo.configure()
        self.source: dict[int, int] = {}
        self.model: dict[int, tuple[int, float]] = {}  # key -> (value, expires)
        self.computations = 0

        def read(key: int) -> int:
            self.computations += 1
            return self.source.get(key, 0)

        async def aread(key: int) -> int:
            return read(key)

        self.function: Any = memo.cached(ttl=TTL)(aread if self.use_async else read)

    def run(self, value: Any) -> Any:
        return asyncio.run(value) if self.use_async else value

    def live(self, key: int) -> tuple[int, float] | None:
        cached = self.model.get(key)
        if cached is not None and cached[1] > self.clock.monotonic():
            return cached
        return None

    @initialize()
    def start(self) -> None:
        self.computations = 0

    @rule(key=KEYS)
    def call(self, key: int) -> None:
        cached = self.live(key)
        before = self.computations
        got = self.run(self.function(key))
        if cached is not None:
            assert got == cached[0]
            assert self.computations == before
        else:
            assert got == self.source.get(key, 0)
            assert self.computations == before + 1
            self.model[key] = (got, self.clock.monotonic() + TTL)

    @rule(key=KEYS, value=st.integers())
    def update_source(self, key: int, value: int) -> None:
        self.source[key] = value

    @rule(key=KEYS)
    def invalidate(self, key: int) -> None:
        expected = self.live(key) is not None
        assert self.run(self.function.invalidate(key)) is expected
        self.model.pop(key, None)

    @rule(key=KEYS)
    def refresh(self, key: int) -> None:
        assert self.run(self.function.refresh(key)) == self.source.get(key, 0)
        self.model[key] = (self.source.get(key, 0), self.clock.monotonic() + TTL)

    @rule(seconds=st.sampled_from([0.5, 3.0, 9.99, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def invalidate_all(self) -> None:
        self.run(self.function.invalidate_all())
        self.model.clear()

    @invariant()
    def stats_add_up(self) -> None:
        stats = self.function.stats
        assert stats.misses + stats.refreshes == self.computations

    def teardown(self) -> None:
        self.clock.uninstall()
        memo.configure()


class AsyncCachedModel(CachedModel):
    """The same model for an async def function."""

    use_async = True


TestCachedModel = CachedModel.TestCase
TestCachedModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestAsyncCachedModel = AsyncCachedModel.TestCase
TestAsyncCachedModel.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
