"""Run by tests/system/test_idle_replay.py in another process: invalidate during a hang,
then idle.

`python -m tests.support.idle_invalidator_worker URL NAMESPACE` configures L1+L2, reads key 1
(so its events connection is up), prints "ready", and waits for a line on stdin. Then it invalidates
key 1 (the test has changed the row and paused Redis by then: the DELETE times out and is kept
for replay, the breaker stays closed), prints "kept" with the breaker's state, and sleeps
without ever calling memo again.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import redis

import memo
from memo._runtime.settings import settings

ROW = "memo:{ns}:row:1"


def make_reader(url: str, namespace: str) -> object:
    """The cached read of row 1 (the same function, so the same key, in every process)."""
    rows = redis.Redis.from_url(url, socket_timeout=5)

    @memo.cached(ttl=300)
    def read_row(k: int) -> str:
        raw = rows.get(ROW.format(ns=namespace))
        return raw.decode() if raw else "none"

    return read_row


def main_exit(url: str, namespace: str) -> None:
    """Like main, but invalidates until the breaker opens, then exits on the next line of
    stdin (the test has let Redis back by then): a graceful restart right after an outage."""
    memo.configure(redis_url=url, namespace=namespace)
    read_row: Any = make_reader(url, namespace)
    read_row(1)
    print("ready", flush=True)
    sys.stdin.readline()
    breaker = settings.store.redis.breaker
    removed = False
    for _ in range(10):  # each try times out on the paused server; 3 in a row open it
        removed = read_row.invalidate(1) or removed
        if breaker.is_open:
            break
    print(f"kept removed={removed} breaker_open={breaker.is_open}", flush=True)
    sys.stdin.readline()
    sys.exit(0)  # at once: the kept invalidation can only leave at exit


def main(url: str, namespace: str) -> None:
    """See the module docstring."""
    memo.configure(redis_url=url, namespace=namespace)
    read_row: Any = make_reader(url, namespace)
    read_row(1)
    print("ready", flush=True)
    sys.stdin.readline()
    removed = read_row.invalidate(1)
    breaker_open = settings.store.redis.breaker.is_open
    print(f"kept removed={removed} breaker_open={breaker_open}", flush=True)
    time.sleep(120)  # idle: no further call of memo; the test kills us


if __name__ == "__main__":
    # Through the module's own name, not __main__: the cached reader's key names its module.
    from tests.support import idle_invalidator_worker as worker  # noqa: PLW0406

    (worker.main_exit if sys.argv[3:] == ["exit"] else worker.main)(*sys.argv[1:3])
