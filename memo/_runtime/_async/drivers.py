"""The driver: run a policy generator, doing each operation it yields with this colour's I/O.

It sends an operation's result back into the policy, or throws its exception there, until
the policy returns. Nothing here decides anything about caching.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from memo._policy.flows import (
    LEAD,
    Claim,
    Compute,
    Flow,
    Land,
    Lead,
    Lookup,
    Put,
    Release,
    Remove,
    Wait,
)
from memo._runtime.flight import AsyncFlights
from memo._stores.protocol import Store

__all__ = ["run_async"]


async def run_async(
    flow: Flow, store: Store, call: Callable[[], Awaitable[Any]], flights: AsyncFlights
) -> Any:
    """Drive flow to its return value."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        finally:
            error = None
        try:
            result = await _do_async(op, store, call, flights)
        except BaseException as exc:  # handed to the policy, which decides
            result, error = None, exc


async def _do_async(
    op: Any, store: Store, call: Callable[[], Awaitable[Any]], flights: AsyncFlights
) -> Any:
    kind = type(op)
    if kind is Lookup:
        return await store.aget(op.key, local_only=op.local_only, fresh=op.fresh)
    if kind is Compute:
        start = time.perf_counter()
        value = await call()
        return value, time.perf_counter() - start
    if kind is Put:
        return await store.aset(
            op.key,
            op.value,
            op.ttl,
            delta=op.delta,
            tags=op.tags,
            token=op.token,
            mode=op.mode,
            soft=op.soft,
        )
    if kind is Claim:
        if op.tags:  # a store that knows no tags (MemoryStore, a user's) is never asked
            return await store.aclaim(op.key, op.token, tags=op.tags)
        return await store.aclaim(op.key, op.token)
    if kind is Wait:
        return await store.await_fill(op.key, op.timeout)
    if kind is Release:
        return await store.arelease(op.key, op.token)
    if kind is Remove:
        return await store.adelete(op.key)
    if kind is Lead:
        flight = flights.lead(op.key.local)
        return LEAD if flight is None else await flights.follow(flight, op.timeout)
    if kind is Land:
        return flights.land(op.key.local, op.outcome)
    raise TypeError(f"memo: unknown policy operation {op!r}")
