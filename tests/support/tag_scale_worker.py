"""Run in another process by tests/system/test_tag_scale.py: many tagged entries in L1.

`python -m tests.support.tag_scale_worker URL NAMESPACE ROW N` waits for its events
subscription, then answers commands on stdin, one JSON line each on stdout:

- `fill`: call `member(i)` for i < N (computed here, or read from Redis and copied into L1);
  answers how many entries this process's L1 holds;
- `held OLD`: answers how many values of version OLD this process's L1 still holds (a peek:
  nothing is computed, so no write of this process evicts anything elsewhere);
- `check`: call `member(i)` for i < N again; answers how many came back with an old version
  (the version is the content of the file ROW when the value was computed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import memo


def stack(url: str, namespace: str) -> memo.TieredStore:
    """The store every process of the test uses."""
    return memo.TieredStore(
        memo.MemoryStore(maxsize=100_000), memo.RedisStore(url, namespace=namespace)
    )


def member_function(store: Any, row: Path) -> Any:
    """`member(i)`: "version:i", tagged with the one tag every member shares."""

    def member(i: int) -> str:
        return f"{row.read_text()}:{i}"

    return memo.cached(store=store, ttl=600, tags=["group:all", "member:{i}"])(member)


def main(url: str, namespace: str, row: str, size: str) -> None:
    store = stack(url, namespace)
    member = member_function(store, Path(row))
    n = int(size)
    member(-1)  # starts the events subscription
    deadline = time.monotonic() + 20
    while not store.redis.events.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    print(json.dumps({"ready": store.redis.events.healthy}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "fill":
            for i in range(n):
                member(i)
            print(json.dumps({"l1": len(store.memory)}), flush=True)
        elif command == "check":
            version = Path(row).read_text()
            old = sum(member(i) != f"{version}:{i}" for i in range(n))
            print(json.dumps({"old": old}), flush=True)
        elif command.startswith("held "):
            prefix = command.removeprefix("held ") + ":"
            held = sum(str(e.value).startswith(prefix) for e in list(store.memory.data.values()))
            print(json.dumps({"held": held}), flush=True)
        else:
            break
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
