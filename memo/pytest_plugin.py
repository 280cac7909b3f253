"""The pytest plugin: memo fixtures for isolated, uncached and time-travelling tests.

Installing memo registers this module under the `pytest11` entry point as ``memo``, so the
fixtures below are there in every test with no import (disable with ``-p no:memo``):

- ``memo_namespace``: memo reconfigured with a namespace no other test uses (over the Redis of
  ``MEMO_REDIS_URL`` and ``MEMO_SECRET`` when set, else L1 only); yields the namespace.
- ``memo_disabled``: the test runs inside ``memo.disabled()``; so does a test marked
  ``@pytest.mark.memo_disabled``.
- ``memo_clock``: a ``memo.testing.FakeClock`` installed for the test; yields it.

Importing this module configures nothing: each fixture acts only for the test that asks.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

import memo
from memo.testing import FakeClock

__all__ = ["memo_clock", "memo_disabled", "memo_namespace", "namespace_for"]

MARKER = "memo_disabled"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so it passes under ``--strict-markers``."""
    config.addinivalue_line(
        "markers", f"{MARKER}: run the test inside memo.disabled() (as the memo_disabled fixture)"
    )


def namespace_for(test_name: str) -> str:
    """A namespace of one test run: its readable name and 12 random hex digits (≤ 53 chars)."""
    label = _UNSAFE.sub("-", test_name).strip("-")[:40] or "test"
    return f"{label}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def memo_namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """memo configured with a namespace of this test only; a fresh default store afterwards.

    With ``MEMO_REDIS_URL`` set, the namespace is L1 over that Redis (signed with
    ``MEMO_SECRET`` if set): tests share a server yet never see each other's entries, so no
    database is ever emptied. Without it, a fresh in-process store.
    """
    namespace = namespace_for(request.node.name)
    url = os.environ.get("MEMO_REDIS_URL") or None
    if url is None:
        memo.configure(namespace=namespace)
    else:
        memo.configure(
            redis_url=url, namespace=namespace, secret=os.environ.get("MEMO_SECRET") or None
        )
    try:
        yield namespace
    finally:
        memo.configure()


@pytest.fixture
def memo_disabled() -> Iterator[None]:
    """The test runs inside ``memo.disabled()``: every cached function calls straight through."""
    with memo.disabled():
        yield


@pytest.fixture
def memo_clock() -> Iterator[FakeClock]:
    """A ``FakeClock`` drives every TTL during the test; the real clock is back afterwards."""
    with FakeClock() as clock:
        yield clock


@pytest.fixture(autouse=True)
def _memo_disabled_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.memo_disabled`` on a test, class or module means the fixture."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("memo_disabled")
