"""A fresh process for tests/keys/test_pure_key.py.

`python -m tests.support.pure_key_worker URL NS MODE`.

Before memo is even imported, opening a socket and starting a thread are made to fail (and
counted), so the `key` mode proves that importing memo, configuring it for Redis, decorating
functions and calling `cache_key()` do neither. Then the patches are lifted and the same
calls run for real. The result is one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from typing import Any

ATTEMPTS = {"connect": 0, "thread": 0}
_connect = socket.socket.connect
_start = threading.Thread.start


def _no_connect(self: socket.socket, address: Any) -> None:
    ATTEMPTS["connect"] += 1
    raise OSError(f"network I/O during a pure step: connect({address!r})")


def _no_thread(self: threading.Thread) -> None:
    ATTEMPTS["thread"] += 1
    raise RuntimeError(f"a thread started during a pure step: {self.name}")


socket.socket.connect = _no_connect  # type: ignore[method-assign,assignment]
threading.Thread.start = _no_thread  # type: ignore[method-assign]

import redis  # noqa: E402 - imported under the patches on purpose

import memo  # noqa: E402

SECRET = "pure-key-secret"
_State: dict[str, Any] = {}


def _run(name: str) -> int:
    """Count one run of function `name` across every process (an INCR in Redis)."""
    return int(_State["client"].incr(f"memo:{_State['namespace']}:counter:{name}"))


@memo.cached(ttl=300)
def price(item: int, currency: str = "EUR") -> dict[str, Any]:
    """A fresh value on every run."""
    return {"item": item, "currency": currency, "run": _run("price")}


@memo.cached(ttl=300)
async def aprice(item: int) -> dict[str, Any]:
    """`price` as an `async def`."""
    return {"item": item, "run": _run("aprice")}


def main(url: str, namespace: str, mode: str) -> dict[str, Any]:
    """Run `mode` and say what happened."""
    threads_before = threading.active_count()
    memo.configure(redis_url=url, namespace=namespace, secret=SECRET)
    keys = [price.cache_key(7), price.cache_key(item=7, currency="EUR"), aprice.cache_key(7)]
    report: dict[str, Any] = {
        "keys": keys,
        "attempts": dict(ATTEMPTS),
        "threads_before": threads_before,
        "threads_after_keys": threading.active_count(),
    }
    socket.socket.connect = _connect  # type: ignore[method-assign]
    threading.Thread.start = _start  # type: ignore[method-assign]
    _State["namespace"] = namespace
    _State["client"] = redis.Redis.from_url(url)
    report["value"] = price(7)
    report["avalue"] = asyncio.run(aprice(7))
    if mode == "invalidate_all":
        price.invalidate_all()
    report["stats"] = price.stats.as_dict()
    report["keys_after"] = [price.cache_key(7), aprice.cache_key(7)]
    memo.configure()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
