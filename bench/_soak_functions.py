"""The soak's source of truth and the memoized functions under test (`bench._soak_worker`).

The source is a SQLite file (WAL) shared by every process: table ``src`` holds one version
per row name (``r:K`` for the cached rows, ``t:K`` for the tagged rows, ``w:K`` for the
write-behind rows); a write bumps it. The write-behind flush upserts ``sink`` by version.
The functions are at module level: one qualname, so one key, in every process.
"""

from __future__ import annotations

import contextvars
import os
import sqlite3
import threading

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
REENTRY_LOCK_TIMEOUT = 20.0  # a re-entrant call waiting on itself would wait this long


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
