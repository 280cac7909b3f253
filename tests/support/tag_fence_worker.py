"""Run in another process by tests/system/test_tag_fence.py: a tagged compute held in flight.

`python -m tests.support.tag_fence_worker URL NAMESPACE ROW COLOUR` calls `profile(1)`
(COLOUR "sync") or `aprofile(1)` ("async") on an L1+L2 stack. The first compute reads the
user's row (the file ROW, the "database"), prints "computing", and waits for a line on stdin
before it returns what it read: the test moves the row and calls `invalidate_tag("user:1")`
meanwhile, then sends the line. The worker calls again (without waiting) and prints both
results as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import memo

_HOLD = [False]  # whether the next compute waits for the test's line on stdin


def stack(url: str, namespace: str) -> memo.TieredStore:
    """The store every process of the test uses."""
    return memo.TieredStore(memo.MemoryStore(), memo.RedisStore(url, namespace=namespace))


def functions(store: Any, row: Path) -> tuple[Any, Any]:
    """`profile` and `aprofile` (tagged user:{user_id}), with one qualname in every process."""

    def read() -> str:
        value = row.read_text()
        if _HOLD[0]:
            _HOLD[0] = False
            print("computing", flush=True)
            sys.stdin.readline()
        return value

    def profile(user_id: int) -> str:
        return read()

    async def aprofile(user_id: int) -> str:
        return read()  # blocking on purpose: this loop has nothing else to run

    options: dict[str, Any] = {"store": store, "ttl": 60, "tags": ["user:{user_id}"]}
    return memo.cached(**options)(profile), memo.cached(**options)(aprofile)


def main(url: str, namespace: str, row: str, colour: str) -> None:
    store = stack(url, namespace)
    profile, aprofile = functions(store, Path(row))
    _HOLD[0] = True
    if colour == "sync":
        results = [profile(1), profile(1)]
    else:
        results = [asyncio.run(aprofile(1)), asyncio.run(aprofile(1))]
    print(json.dumps({"first": results[0], "second": results[1]}), flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
