"""The driver: run a policy generator, doing each operation it yields with this colour's I/O.

It sends an operation's result back into the policy, or throws its exception there, until
the policy returns. Nothing here decides anything about caching.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from memo._policy import trace
from memo._policy.flows import (
    LEAD,
    Claim,
    Compute,
    Fetch,
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
from memo._runtime.pending import COMPUTE
from memo._stores.protocol import Store

__all__ = ["advance_async", "run_async"]


async def run_async(
    flow: Flow,
    store: Store,
    call: Callable[[], Awaitable[Any]],
    flights: AsyncFlights,
    result: Any = None,
) -> Any:
    """Drive flow to its return value (result: what to send it first)."""
    step = await advance_async(flow, store, call, flights, result=result)
    while step is COMPUTE:
        start = time.perf_counter()
        try:
            value = await call()
        except BaseException as exc:  # handed to the policy, which decides
            step = await advance_async(flow, store, call, flights, error=exc)
        else:
            step = await advance_async(
                flow, store, call, flights, result=(value, time.perf_counter() - start)
            )
    return step


async def advance_async(
    flow: Flow,
    store: Store,
    call: Callable[[], Awaitable[Any]],
    flights: AsyncFlights,
    *,
    result: Any = None,
    error: BaseException | None = None,
) -> Any:
    """Do flow's operations until it returns (its value) or needs the function (COMPUTE).

    The function is called by whoever drives, not from here: a recursive cached function
    then nests one frame per level less (memo's hit path calls it from its own frame).
    """
    while True:
        try:
            if error is None:
                op = flow.send(result)
            else:
                op, error = flow.throw(error), None
        except StopIteration as stop:
            return stop.value
        if type(op) is Compute:
            return COMPUTE
        try:
            result = await _do_async(op, store, flights)
        except BaseException as exc:  # handed to the policy, which decides
            result, error = None, exc
        if result is LEAD and flights.shares:
            # Elected: the rest of the flow is one run that every caller of the key awaits.
            trace.open_for(op.key)  # the run's tiers report into this call's trace
            return await flights.share(op.key.local, run_async(flow, store, call, flights, LEAD))


async def _do_async(op: Any, store: Store, flights: AsyncFlights) -> Any:
    kind = type(op)  # tested in the order a miss yields them: Lead, Fetch, Put, Land
    if kind is Lead:
        flight = flights.lead(op.key.local)
        return LEAD if flight is None else await flights.follow(flight, op.timeout)
    if kind is Fetch:
        return await store.afetch(op.key, op.token)
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
    if kind is Land:
        return flights.land(op.key.local, op.outcome)
    if kind is Lookup:
        return await store.aget(op.key, local_only=op.local_only, fresh=op.fresh)
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
    raise TypeError(f"memo: unknown policy operation {op!r}")
