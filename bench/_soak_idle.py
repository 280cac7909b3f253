"""The soak's idle invalidator: a process that invalidates during a hang, then stays idle.

Started by the nemesis (`bench._soak_nemesis`) with the "spawn" method: ``run(config, pipe)``
configures memo like a worker, reads its keys (so its connections, events included, are up)
and sends "ready". On "go" (Redis is SIGSTOPped by then) it writes each idle key through
`bench._soak_functions.drop` (source bumped, get/aget/rget/arget invalidated: the DELETEs time
out and are kept for replay, the breaker stays closed), records each write (``"idle": true``)
and sends "kept". Then it never calls memo again: its invalidations must reach the other
processes by memo's own replay within IDLE_BOUND of Redis being back. The nemesis SIGKILLs it
at the next idle action or at the end of the run.
"""

from __future__ import annotations

import logging
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import memo
from bench import _soak_functions as fns
from bench import _soak_worker as worker

IDLE_BOUND = 1.0  # documented: other processes see the replayed invalidation within 1 s


def run(config: dict[str, Any], pipe: Connection) -> None:
    """The process body (see the module docstring)."""
    fns._State.db = config["db"]
    logging.getLogger("memo").addHandler(logging.NullHandler())
    memo.configure(
        redis_url=config["url"],
        namespace=config["namespace"],
        secret=config["secret"],
        l1_ttl=fns.L1_TTL,
    )
    path = os.path.join(config["dir"], f"hist-idle-{os.getpid()}.jsonl")
    history = worker.History(path)
    base = {"p": "idle", "pid": os.getpid(), "u": -1}
    keys = range(config["keys"], config["keys"] + fns.IDLE_KEYS)
    for k in keys:
        fns.get(k)
    pipe.send("ready")
    pipe.recv()
    for k in keys:
        start = time.time()
        try:
            version, error = int(fns.drop(k)), None
        except Exception as exc:
            version, error = None, repr(exc)
        history.add(
            {
                **base,
                "op": "drop",
                "k": k,
                "s": start,
                "e": time.time(),
                "v": version,
                "err": error,
                "idle": True,
            }
        )
    pipe.send("kept")
    while True:  # idle: no further call of memo
        time.sleep(3600)
