"""Every test starts from a fresh default store and the real clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import memo
from memo._clock import CLOCK
from memo.testing import FakeClock


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    """A fresh L1-only default store for each test, and the real clock back afterwards."""
    memo.configure()
    yield
    CLOCK.reset()
    memo.configure()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A fake clock installed for the test."""
    with FakeClock() as fake:
        yield fake
