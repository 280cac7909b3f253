"""One soak worker process: threads and asyncio tasks calling memo's patterns, every op recorded.

Started by `bench.soak` with the "spawn" method (`run(config)`). The source of truth is a
SQLite file (WAL) shared by every process: table ``src`` holds one version per row name
(``r:K`` for the cached rows, ``w:K`` for the write-behind rows); a write bumps it. The
write-behind flush upserts ``sink`` by version. Each op is one JSON line of the history file
of this incarnation (line-buffered, so a SIGKILL loses at most the op in flight).

Key ownership: unit ``u`` (a thread or a task; ``units`` of them over all processes) is the
only writer of the keys ``k`` with ``k % units == u``, so the writes of one key are sequential
and their versions and end times grow together (a replacement process takes over the units
of the one it replaces). Reads pick any key.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import random
import signal
import sqlite3
import threading
import time
from typing import Any

os.environ.setdefault("MEMO_STATS_INTERVAL", "0")

import memo  # after the environment default above

SECRET = "old"  # the first secret; the rotation restarts with ["old", "new"], then "new"
SCHEMA = (
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS src (name TEXT PRIMARY KEY, version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sink (k INTEGER PRIMARY KEY, version INTEGER NOT NULL);"
)
UPSERT = (
    "INSERT INTO sink (k, version) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
    "version = excluded.version WHERE sink.version < excluded.version"
)
READ_TTL = 8.0  # entry TTL of the invalidated readers (get, aget, wb_get)
HOT_TTL = 2.0  # TTL of the refresh-ahead reader (never invalidated: TTL-bounded)
L1_TTL = 1.0  # memo.configure(l1_ttl=...)
HOT_KEYS = 4
IDLE_KEYS = 2  # keys[keys, keys + IDLE_KEYS): written only by the idle invalidator
REENTRY_LOCK_TIMEOUT = 60.0  # a re-entrant call waiting on itself would wait this long


class _State:
    db = ""
    local = threading.local()
    stop = threading.Event()  # set by SIGTERM: a graceful restart (the secret rotation)


_REENTERED: contextvars.ContextVar[bool] = contextvars.ContextVar("reentered", default=False)


def connect(path: str) -> sqlite3.Connection:
    """A connection to the source database (waits up to 30 s on a lock)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def create_db(path: str) -> None:
    """Make the source and sink tables."""
    conn = connect(path)
    try:
        conn.executescript(SCHEMA)
    finally:
        conn.close()


def _conn() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_State.local, "conn", None)
    if conn is None:
        conn = connect(_State.db)
        _State.local.conn = conn
    return conn


def current(name: str) -> int:
    """The version of row name in the source (0 when never written)."""
    row = _conn().execute("SELECT version FROM src WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row is not None else 0


def bump(name: str) -> int:
    """Write row name in the source: its version + 1, committed; the new version."""
    row = (
        _conn()
        .execute(
            "INSERT INTO src (name, version) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET "
            "version = version + 1 RETURNING version",
            (name,),
        )
        .fetchone()
    )
    return int(row[0])


def save(batch: list[memo.Write]) -> None:
    """The write-behind flush: upsert each write into the sink by version."""
    conn = _conn()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for write in batch:
            conn.execute(UPSERT, (write.arguments["k"], write.value))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- the functions under test (module level: one qualname in every process) ------------------


@memo.cached(ttl=READ_TTL)
def get(k: int) -> int:
    """Cached read of row r:k."""
    return current(f"r:{k}")


@memo.cached(ttl=READ_TTL)
async def aget(k: int) -> int:
    """Async cached read of row r:k (its own entries)."""
    return current(f"r:{k}")


@memo.refresh_ahead(ttl=HOT_TTL, refresh_at=0.5)
def hot(k: int) -> int:
    """Refresh-ahead read of row r:k (never invalidated)."""
    return current(f"r:{k}")


@memo.cached(ttl=READ_TTL)
def wb_get(k: int) -> int:
    """The write-behind reader (its value is what the writers last wrote)."""
    return 0


@memo.cached(ttl=READ_TTL, lock_timeout=REENTRY_LOCK_TIMEOUT)
def rget(k: int) -> int:
    """Re-entrant cached read of row r:k: the outer call calls rget(k) again (same key, same
    thread) while it leads the flight; the inner one must compute without waiting."""
    if _REENTERED.get():
        return current(f"r:{k}")
    token = _REENTERED.set(True)
    try:
        return rget(k)
    finally:
        _REENTERED.reset(token)


@memo.cached(ttl=READ_TTL, lock_timeout=REENTRY_LOCK_TIMEOUT)
async def arget(k: int) -> int:
    """Async re-entrant cached read of row r:k (same key, same task)."""
    if _REENTERED.get():
        return current(f"r:{k}")
    token = _REENTERED.set(True)
    try:
        return await arget(k)
    finally:
        _REENTERED.reset(token)


@memo.cached(ttl=READ_TTL, tags=["trow:{k}"])
def tget(k: int) -> int:
    """Tagged cached read of row t:k (invalidated by tag only; a squatter may hold the tag)."""
    return current(f"t:{k}")


def tput(k: int) -> int:
    """Write t:k, then memo.invalidate_tag("trow:k")."""
    version = bump(f"t:{k}")
    memo.invalidate_tag(f"trow:{k}")
    return version


async def atput(k: int) -> int:
    """Async write of t:k, then memo.ainvalidate_tag("trow:k")."""
    version = bump(f"t:{k}")
    await memo.ainvalidate_tag(f"trow:{k}")
    return version


@memo.invalidates(aget, rget, arget)
@memo.write_through(get)
def put(k: int) -> int:
    """Write r:k; its new version becomes get(k)'s value, aget(k) is evicted."""
    return bump(f"r:{k}")


@memo.invalidates(get, rget, arget)
@memo.write_through(aget)
async def aput(k: int) -> int:
    """Async write of r:k: through to aget(k), get(k) evicted."""
    return bump(f"r:{k}")


@memo.invalidates(get, aget, rget, arget)
def drop(k: int) -> int:
    """Cache-aside write of r:k: evict both readers."""
    return bump(f"r:{k}")


@memo.invalidates(get, aget, rget, arget)
async def adrop(k: int) -> int:
    """Async cache-aside write of r:k."""
    return bump(f"r:{k}")


@memo.write_behind(wb_get, flush=save, batch_size=20, interval=0.2)
def wb_set(k: int, version: int) -> int:
    """Write-behind write of w:k at version."""
    return version


@memo.write_behind(wb_get, flush=save, batch_size=20, interval=0.2)
async def awb_set(k: int, version: int) -> int:
    """Async write-behind write of w:k at version."""
    return version


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
    # memo logs each outage (at most once a second); the nemesis makes many on purpose
    logging.getLogger("memo").addHandler(logging.NullHandler())
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
