"""An invalidation lost in a short hang reaches the other processes as soon as Redis is back,
even when the process that made it never calls memo again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

import memo
from tests.support.idle_invalidator_worker import ROW, make_reader
from tests.support.redis_servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
BOUND = 1.0  # seconds after Redis is back, as promised
SLACK = 1.0  # what a loaded CI machine may add; the measured figure is printed
pytestmark = pytest.mark.timeout(90)


def _worker(url: str, namespace: str, *mode: str) -> subprocess.Popen[str]:
    """The invalidating process (tests/support/idle_invalidator_worker.py), driven by lines."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.idle_invalidator_worker", url, namespace, *mode],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_an_idle_process_replays_its_invalidation_within_the_bound(
    fault_redis: RedisServer, namespace: str
) -> None:
    """B invalidates while Redis hangs (SIGSTOP), then idles; A serves the new value at most
    BOUND (+ CI slack) seconds after SIGCONT."""
    client = redis.Redis.from_url(fault_redis.url, socket_timeout=5)
    client.set(ROW.format(ns=namespace), "old")
    memo.configure(redis_url=fault_redis.url, namespace=namespace)
    read_row: Any = make_reader(fault_redis.url, namespace)
    assert read_row(1) == "old"
    worker = _worker(fault_redis.url, namespace)
    try:
        assert worker.stdin is not None and worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        client.set(ROW.format(ns=namespace), "new")
        fault_redis.pause()
        try:
            worker.stdin.write("go\n")
            worker.stdin.flush()
            kept = worker.stdout.readline().strip()
        finally:
            fault_redis.resume()
        back = time.monotonic()
        assert kept == "kept removed=False breaker_open=False"  # a blip: breaker closed
        deadline = back + BOUND + SLACK
        while read_row(1) != "new" and time.monotonic() < deadline:
            time.sleep(0.01)
        took = time.monotonic() - back
        print(f"\nnew value served {took:.3f} s after Redis was back (bound {BOUND} s)")
        assert read_row(1) == "new", f"still old {took:.2f} s after Redis was back"
    finally:
        worker.kill()
        worker.communicate()


def test_a_process_that_exits_right_after_an_outage_sends_its_invalidations(
    fault_redis: RedisServer, namespace: str
) -> None:
    """B invalidates while Redis hangs until its breaker opens, and exits (gracefully) as soon
    as Redis is back, before its breaker's probe: the kept invalidation leaves at exit, so A
    serves the new value instead of the old one for its TTL. Found by the soak (a rotation's
    graceful restart right after a proxy flap)."""
    client = redis.Redis.from_url(fault_redis.url, socket_timeout=5)
    client.set(ROW.format(ns=namespace), "old")
    memo.configure(redis_url=fault_redis.url, namespace=namespace)
    read_row: Any = make_reader(fault_redis.url, namespace)
    assert read_row(1) == "old"
    worker = _worker(fault_redis.url, namespace, "exit")
    try:
        assert worker.stdin is not None and worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        client.set(ROW.format(ns=namespace), "new")
        fault_redis.pause()
        try:
            worker.stdin.write("go\n")
            worker.stdin.flush()
            kept = worker.stdout.readline().strip()
        finally:
            fault_redis.resume()
        assert kept == "kept removed=False breaker_open=True"
        worker.stdin.write("exit\n")
        worker.stdin.flush()
        assert worker.wait(30) == 0
        deadline = time.monotonic() + BOUND + SLACK
        while read_row(1) != "new" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert read_row(1) == "new", "the exited process took its invalidation with it"
    finally:
        worker.kill()
        worker.communicate()
