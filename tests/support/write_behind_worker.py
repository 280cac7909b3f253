"""What the write-behind process tests run in subprocesses.

`python -m tests.support.write_behind_worker COMMAND ...` (tests/writes/test_write_behind.py).

The sink is a SQLite file: `flush` upserts each write by version (`... WHERE version <
excluded.version`, so a redelivered older write changes nothing), committing row by row, and
counts the rows it applied in the same transaction. Commands (argv[1]):

- ``write URL NS DB N KEYS``: durable mode; `set_item(i % KEYS, i)` for i < N, prints
  ``acked N`` once every call has returned, then idles while its flusher slowly delivers
  (the test kills it with SIGKILL mid-batch).
- Durable commands sign with ``SECRET``, or with the comma-separated secrets of the
  environment variable ``WB_SECRETS`` (the last signs), as a process mid-rotation would.
- ``drain URL NS DB``: durable mode; a new consumer of the same stream runs `memo.flush()`
  (claiming what the killed consumer left pending) and prints ``drained True|False``.
- ``exit DB N``: memory mode; N writes that wait for a long interval, then a normal exit
  (the atexit hook delivers them).
- ``sigterm DB N chain|default``: memory mode; N waiting writes, prints ``ready``, sleeps;
  the test sends SIGTERM (``chain``: a handler installed before memo's runs after the drain).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from typing import Any

import memo

__all__ = ["SECRET", "UPSERT", "create_sink", "read_sink"]

SECRET = "write-behind-secret"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sink (k INTEGER PRIMARY KEY, value INTEGER, version INTEGER);"
    "CREATE TABLE IF NOT EXISTS applied (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER);"
    "INSERT OR IGNORE INTO applied VALUES (1, 0);"
)
UPSERT = (
    "INSERT INTO sink (k, value, version) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET "
    "value = excluded.value, version = excluded.version WHERE sink.version < excluded.version"
)


class _State:
    db = ""
    row_delay = 0.0


def create_sink(path: str) -> None:
    """Make the sink's tables."""
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()


def read_sink(path: str) -> tuple[dict[int, tuple[int, int]], int]:
    """({k: (value, version)}, rows applied so far)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        rows = {k: (v, ver) for k, v, ver in conn.execute("SELECT k, value, version FROM sink")}
        (applied,) = conn.execute("SELECT n FROM applied").fetchone()
    finally:
        conn.close()
    return rows, int(applied)


def save(batch: list[memo.Write]) -> None:
    """Upsert each write by version, one commit per row, slowly."""
    conn = sqlite3.connect(_State.db, timeout=10)
    try:
        for write in batch:
            conn.execute(UPSERT, (write.arguments["k"], write.value["value"], write.version))
            conn.execute("UPDATE applied SET n = n + 1")
            conn.commit()
            time.sleep(_State.row_delay)
    finally:
        conn.close()


@memo.cached(ttl=300)
def item(k: int) -> dict[str, Any]:
    """The reader: what the sink would hold for k."""
    return {"k": k, "value": None}


@memo.write_behind(item, flush=save, batch_size=10, interval=0.05)
def set_item(k: int, value: int) -> dict[str, Any]:
    """The writer: durable in Redis mode."""
    return {"k": k, "value": value}


@memo.write_behind(item, flush=save, batch_size=1000, interval=60.0)
def set_item_later(k: int, value: int) -> dict[str, Any]:
    """A writer whose writes wait for memo.flush(), exit or SIGTERM."""
    return {"k": k, "value": value}


def _durable(url: str, namespace: str, db: str) -> None:
    # WB_SECRETS="old,new": the secrets of a process in the middle of a rotation.
    secrets = os.environ.get("WB_SECRETS")
    secret: Any = secrets.split(",") if secrets else SECRET
    memo.configure(redis_url=url, namespace=namespace, secret=secret)
    _State.db = db


def main(argv: list[str]) -> int:
    """Run one command (see the module docstring)."""
    command = argv[0]
    if command == "write":
        url, namespace, db, n, keys = argv[1:6]
        _durable(url, namespace, db)
        _State.row_delay = 0.02
        for i in range(int(n)):
            set_item(i % int(keys), i)
        print(f"acked {n}", flush=True)
        time.sleep(60)  # the test kills us long before
        return 0
    if command == "drain":
        url, namespace, db = argv[1:4]
        _durable(url, namespace, db)
        print(f"drained {memo.flush(timeout=30)}", flush=True)
        return 0
    _State.db = argv[1]
    n = int(argv[2])
    if command == "sigterm" and argv[3] == "chain":

        def previous(signum: int, frame: Any) -> None:
            print("previous handler", flush=True)
            sys.exit(3)

        signal.signal(signal.SIGTERM, previous)
    for i in range(n):
        set_item_later(i, i * 10)
    if command == "sigterm":
        print("ready", flush=True)
        time.sleep(60)
    return 0


if __name__ == "__main__":
    # Run as `-m`, this file is `__main__`; the functions must carry their real module name
    # (it is in their stream and cache keys), so run the copy imported under that name.
    from tests.support.write_behind_worker import main as real_main

    raise SystemExit(real_main(sys.argv[1:]))
