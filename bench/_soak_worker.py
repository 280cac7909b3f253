"""One soak worker process: threads and asyncio tasks calling memo's patterns, every op recorded.

Started by `bench.soak` with the "spawn" method (`run(config)`); the source of truth and the
functions under test are in `bench._soak_functions` (plain, re-entrant and tagged reads, their
writers, refresh-ahead, write-behind). Each op is one JSON line of the history file of this
incarnation (line-buffered, so a SIGKILL loses at most the op in flight). SIGTERM is a
graceful restart (the secret rotation): the units finish their op, memo.flush(), exit.

Key ownership: unit ``u`` (a thread or a task; ``units`` of them over all processes) is the
only writer of the keys ``k`` with ``k % units == u``, so the writes of one key are sequential
and their versions and end times grow together (a replacement process takes over the units
of the one it replaces). Reads pick any key, the idle invalidator's (`bench._soak_idle`) too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import threading
import time
from typing import Any

os.environ.setdefault("MEMO_STATS_INTERVAL", "0")

import memo  # after the environment default above
from bench._soak_functions import (
    HOT_KEYS,
    IDLE_KEYS,
    L1_TTL,
    _State,
    adrop,
    aget,
    aput,
    arget,
    atput,
    awb_set,
    bump,
    drop,
    get,
    hot,
    put,
    rget,
    tget,
    tput,
    wb_set,
)

# -- the workload ----------------------------------------------------------------------------

SYNC_OPS = (
    ("get", 50),
    ("hot", 10),
    ("rget", 10),
    ("tget", 15),
    ("put", 15),
    ("drop", 10),
    ("tput", 5),
    ("wb", 15),
)
ASYNC_OPS = (("aget", 60), ("arget", 10), ("aput", 15), ("adrop", 10), ("atput", 5), ("awb", 15))
READ_OPS = ("get", "aget", "rget", "arget", "tget")


class History:
    """The JSON-lines history of this incarnation (one line per op or resource sample)."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "a", buffering=1)  # noqa: SIM115 - closed by close()
        self.lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self.lock:
            self.file.write(line + "\n")

    def close(self) -> None:
        with self.lock:
            self.file.close()


class Unit:
    """What one thread or task needs: its seeded RNG, its keys and the history."""

    def __init__(self, config: dict[str, Any], index: int, history: History) -> None:
        self.index = index
        self.rng = random.Random(f"{config['seed']}:{index}:{os.getpid()}")
        units: int = config["units"]
        self.keys: int = config["keys"]
        self.own = [k for k in range(self.keys) if k % units == index]
        self.history = history
        self.base = {"p": config["slot"], "pid": os.getpid(), "u": index}
        self.deadline: float = config["deadline"]
        self.pace: float = config["pace"]

    def pick(self, ops: tuple[tuple[str, int], ...]) -> tuple[str, int]:
        """The next op and its key."""
        names = [name for name, _ in ops]
        op = self.rng.choices(names, weights=[w for _, w in ops])[0]
        if op == "hot":
            return op, self.rng.randrange(HOT_KEYS)
        if op in READ_OPS:  # any key, the idle invalidator's too
            return op, self.rng.randrange(self.keys + IDLE_KEYS)
        return op, self.rng.choice(self.own)

    def record(self, op: str, k: int, start: float, version: int | None, error: str | None) -> None:
        self.history.add(
            {
                **self.base,
                "op": op,
                "k": k,
                "s": start,
                "e": time.time(),
                "v": version,
                "err": error,
            }
        )


def _sync_op(op: str, k: int) -> int:
    if op == "get":
        return get(k)
    if op == "hot":
        return hot(k)
    if op == "rget":
        return rget(k)
    if op == "tget":
        return tget(k)
    if op == "tput":
        return tput(k)
    if op == "put":
        return int(put(k))
    if op == "drop":
        return int(drop(k))
    version = bump(f"w:{k}")
    return int(wb_set(k, version))


async def _async_op(op: str, k: int) -> int:
    if op == "aget":
        return await aget(k)
    if op == "arget":
        return await arget(k)
    if op == "atput":
        return await atput(k)
    if op == "aput":
        return int(await aput(k))
    if op == "adrop":
        return int(await adrop(k))
    version = bump(f"w:{k}")
    return int(await awb_set(k, version))


def thread_loop(unit: Unit) -> None:
    """Random sync ops until the deadline."""
    while time.time() < unit.deadline and not _State.stop.is_set():
        op, k = unit.pick(SYNC_OPS)
        start = time.time()
        try:
            unit.record(op, k, start, _sync_op(op, k), None)
        except Exception as exc:
            unit.record(op, k, start, None, repr(exc))
        time.sleep(unit.rng.uniform(0, 2 * unit.pace))


async def task_loop(unit: Unit) -> None:
    """Random async ops until the deadline."""
    while time.time() < unit.deadline and not _State.stop.is_set():
        op, k = unit.pick(ASYNC_OPS)
        start = time.time()
        try:
            unit.record(op, k, start, await _async_op(op, k), None)
        except Exception as exc:
            unit.record(op, k, start, None, repr(exc))
        await asyncio.sleep(unit.rng.uniform(0, 2 * unit.pace))


def sample_resources(history: History, base: dict[str, Any], stop: threading.Event) -> None:
    """Every second: resident memory (bytes) and open file descriptors of this process."""
    page = os.sysconf("SC_PAGE_SIZE")
    while not stop.wait(1.0):
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * page
        fds = len(os.listdir("/proc/self/fd"))
        history.add({**base, "op": "res", "t": time.time(), "rss": rss, "fds": fds})


async def _tasks(units: list[Unit]) -> None:
    await asyncio.gather(*(task_loop(unit) for unit in units))


def run(config: dict[str, Any]) -> None:
    """The process body: configure memo, run the threads and tasks, flush, record the end."""
    _State.db = config["db"]
    signal.signal(signal.SIGTERM, lambda *_: _State.stop.set())
    # memo logs each outage (at most once a second); the nemesis makes many on purpose: they
    # go to a file beside the history (kept with --keep), where a violation can be traced
    name = f"memo-{config['slot']}-{os.getpid()}.log"
    log = logging.FileHandler(os.path.join(config["dir"], name))
    log.setFormatter(logging.Formatter("%(created).3f %(threadName)s %(levelname)s %(message)s"))
    logging.getLogger("memo").addHandler(log)
    memo.configure(
        redis_url=config["url"],
        namespace=config["namespace"],
        secret=config["secret"],
        l1_ttl=L1_TTL,
    )
    history = History(os.path.join(config["dir"], f"hist-{config['slot']}-{os.getpid()}.jsonl"))
    base = {"p": config["slot"], "pid": os.getpid()}
    history.add({**base, "op": "start", "t": time.time(), "secret": config["secret"]})
    threads_n: int = config["threads"]
    tasks_n: int = config["tasks"]
    first = config["slot"] * (threads_n + tasks_n)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_resources, args=(history, base, stop), daemon=True)
    sampler.start()
    threads = [
        threading.Thread(target=thread_loop, args=(Unit(config, first + i, history),), daemon=True)
        for i in range(threads_n)
    ]
    for thread in threads:
        thread.start()
    task_units = [Unit(config, first + threads_n + i, history) for i in range(tasks_n)]
    asyncio.run(_tasks(task_units))
    for thread in threads:
        thread.join()
    started = time.time()
    flushed = memo.flush(timeout=config["flush_timeout"])
    history.add({**base, "op": "flush", "s": started, "e": time.time(), "ok": flushed})
    stop.set()
    sampler.join()
    history.close()
