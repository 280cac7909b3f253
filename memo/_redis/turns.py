"""Reading a reply: in the async colour, a few turns of the event loop before it may sleep.

An asyncio read that finds no reply yet leaves the loop to sleep in `epoll_wait` until the
reply wakes it. On the 2-core VMs memo was measured on, a miss's task slept before nearly
every reply (about two context switches per miss) and the sleep and wake-up cost more than
Redis took to answer: with `TURNS` turns of the loop first (`asyncio.sleep(0)`: other tasks
run meanwhile, and each turn polls the sockets without sleeping), a single-flight miss over
a local Redis took 230 us instead of 278, for the same CPU time (218 against 224 us: the
sleeps cost as much as the turns), and 0.3 context switches per miss instead of 2.

The turns only pay while replies come soon. A link keeps the time its replies take, smoothed
(`Turns.reply`), and takes no turns while that is `NEAR` or more: a server across a network,
or a loop so busy that it does not sleep anyway. Below it, a reply that comes later than the
turns costs them (about 3 us each here) on top of the sleep. A blocking socket read waits in
the kernel: the sync colour reads at once (`read_reply`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["NEAR", "TURNS", "Turns", "aread_reply", "read_reply"]

TURNS = 4  # measured: 2 turns spared a fifth of a single-flight miss's sleeps, 4 spared 84%
NEAR = 250e-6  # seconds: a local reply took 40-100 us here, turns included; a network hop more
SMOOTHING = 8  # the smoothed reply time moves an eighth of the way to each new one


class Turns:
    """How long one link's replies take, smoothed: whether to take turns before a read."""

    __slots__ = ("reply",)

    def __init__(self) -> None:
        self.reply = 0.0  # seconds from a command's send to its reply, smoothed

    def took(self, seconds: float) -> None:
        self.reply += (seconds - self.reply) / SMOOTHING


async def aread_reply(connection: Any, turns: Turns) -> Any:
    """The reply to the command just sent on connection (a `redis.asyncio` connection, which
    keeps what it received in its StreamReader's buffer), after up to TURNS turns of the loop
    if the link's replies come soon."""
    buffer = getattr(getattr(connection, "_reader", None), "_buffer", None)
    if buffer is None:  # not a StreamReader's connection: read as redis-py reads
        return await connection.read_response()
    sent = time.perf_counter()
    if turns.reply < NEAR:
        for _ in range(TURNS):
            if buffer:
                break
            await _turn()
    reply = await connection.read_response()
    turns.took(time.perf_counter() - sent)
    return reply


async def _turn() -> None:
    """One turn of the loop: the tasks ready run, the sockets are polled without sleeping."""
    await asyncio.sleep(0)


def read_reply(connection: Any, turns: Turns) -> Any:
    """The sync colour: a blocking read waits in the kernel, nothing to do before it."""
    return connection.read_response()
