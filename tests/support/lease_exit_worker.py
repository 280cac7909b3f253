"""Run in another process by tests/system/test_lease_exits.py: one miss that leaves by one exit.

`python -m tests.support.lease_exit_worker URL NAMESPACE MODE` makes one call of `make(MODE)` on a
fresh L1+L2 stack whose leases live 60 s, then prints whether the key's lease is still in
Redis. The test process then calls the same function: a lease left behind would make it
wait far longer than the test's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from typing import Any

import redis

import memo

MODES = ("condition", "unstorable", "none", "too_large", "raises", "cancelled")
BIG = 17 * 1024 * 1024  # over the codec's 16 MiB cap


@dataclasses.dataclass
class User:
    """A result the default (no-secret) serializer cannot store."""

    id: int


def result(mode: str) -> Any:
    """What the function returns (or raises) in mode."""
    if mode == "condition":
        return {"status": "rejected"}
    if mode == "unstorable":
        return User(1)
    if mode == "none":
        return None
    if mode == "too_large":
        return b"x" * BIG
    raise ValueError(f"{mode}: the function failed")


def make(mode: str, store: Any, **options: Any) -> Any:
    """The cached function of mode (one qualname for every mode: mode is its argument)."""
    condition = (lambda value: value.get("status") != "rejected") if mode == "condition" else None

    if mode == "cancelled":

        async def compute(mode: str) -> Any:
            await asyncio.sleep(3600)  # cancelled long before

    else:

        def compute(mode: str) -> Any:  # type: ignore[misc]
            return result(mode)

    return memo.cached(
        ttl=60, store=store, condition=condition, cache_none=mode != "none", **options
    )(compute)


def lease_key(function: Any, mode: str) -> str:
    """The Redis key of the call's lease (beside its entry, in its Cluster slot)."""
    return str(function.cache_key(mode)) + ":lease"


async def _cancel_mid_compute(function: Any, mode: str) -> None:
    task = asyncio.ensure_future(function(mode))
    await asyncio.sleep(0.2)  # the miss has claimed its lease and is computing
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(url: str, namespace: str, mode: str) -> None:
    """One miss in mode, then report whether its lease is still held."""
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, lease_ttl=60.0)
    )
    function = make(mode, store)
    if mode == "cancelled":
        asyncio.run(_cancel_mid_compute(function, mode))
    else:
        with contextlib.suppress(ValueError):
            function(mode)
    client = redis.Redis.from_url(url, socket_timeout=5)
    print(json.dumps({"lease": int(client.exists(lease_key(function, mode)))}))
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
