"""Every way out of a miss releases its lease at once: checked with two real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import memo
from tests.support.lease_exit_worker import MODES, make, result

ROOT = Path(__file__).resolve().parents[2]
# A leaked lease lives 60 s in the worker; a waiter would wait up to lock_timeout for it,
# far past this test's timeout: a regression fails, it cannot pass slowly.
pytestmark = pytest.mark.timeout(50)


def _run_worker(url: str, namespace: str, mode: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "tests.support.lease_exit_worker",
            url,
            namespace,
            mode,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("mode", MODES)
def test_a_miss_that_stores_nothing_leaves_no_lease(
    mode: str, redis_url: str, namespace: str
) -> None:
    """Rejected, unstorable, uncached None, too large, raised or cancelled: no lease is left,
    and the next process computes at once instead of waiting for it."""
    assert _run_worker(redis_url, namespace, mode) == {"lease": 0}
    store = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
    function = make(mode, store, lock_timeout=120.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "cannot be stored in Redis"
            if mode == "cancelled":
                with pytest.raises(asyncio.TimeoutError):
                    asyncio.run(asyncio.wait_for(function(mode), 0.5))
            elif mode == "raises":
                with pytest.raises(ValueError, match="the function failed"):
                    function(mode)
            else:
                assert function(mode) == result(mode)
        assert function.stats.waits == 0
    finally:
        store.close()
