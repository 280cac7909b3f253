"""Durable write-behind: a Redis Stream per writer, read by a consumer group.

A write is one entry of `memo:{ns}:wb:{name}` (XADD) with the fields `key`, `version` and
`data`: the write's arguments and value as an entry of the store's codec (signed when the
store has a secret), bound to the stream's key. Every process that runs the writer reads
the stream as one consumer of the group `memo-flushers`. An entry stays pending until
`flush` succeeded for it; then it is acknowledged and deleted in one script (XACK + XDEL).
Entries a dead consumer left pending are claimed again (XAUTOCLAIM) once idle past the
visibility timeout; Redis counts their deliveries, and an entry delivered more than
`max_attempts` times, or one that fails its codec check, goes to `memo:{ns}:wb:{name}:dead`.

Every command is a Lua script, so replies come back raw and alike from every client kind.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from memo._codec.envelope import Rejected
from memo._errors import SerializationError
from memo._redis.ops import Batch, Command, Op, Script
from memo._redis.store import RedisStore
from memo._redis.transport import reply_text
from memo._writes.queue import Write

__all__ = ["GROUP", "Entry", "Stream", "redis_of"]

GROUP = "memo-flushers"
_DEAD_MAXLEN = 100_000  # the dead-letter stream keeps about this many newest entries
_CHUNK = 1_000  # ids per XACK/XDEL call (Lua's unpack has a stack limit)

ENSURE = Script("redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM') return 1")

# KEYS: stream. ARGV: group, consumer, count, min idle ms ('' : claim nothing), cursor.
# Returns {next cursor, claimed entries, their delivery counts, new entries}.
READ = Script(
    """
local count = tonumber(ARGV[3])
local cursor = ARGV[5]
local claimed = {}
if ARGV[4] ~= '' then
  local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], cursor,
                           'COUNT', count)
  cursor = reply[1]
  claimed = reply[2]
end
local deliveries = {}
for i, entry in ipairs(claimed) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1, ARGV[2])
  deliveries[i] = p[1] and p[1][4] or 1
end
local fresh = {}
if #claimed < count then
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT',
                           count - #claimed, 'STREAMS', KEYS[1], '>')
  if reply then fresh = reply[1][2] end
end
return {cursor, claimed, deliveries, fresh}
"""
)

# KEYS: stream. ARGV: group, ids... Acknowledge and delete: the entry is settled.
SETTLE = Script(
    """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
"""
)

# KEYS: stream. ARGV: group, consumer, ids... Reset the idle time of entries still being
# retried here, so no other consumer claims them meanwhile (JUSTID: deliveries unchanged).
TOUCH = Script("return #redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ARGV, 3))")

# KEYS: stream. ARGV: group, this consumer, min idle ms. Removes consumers of dead processes:
# those with no pending entry, idle that long (a live one is re-created by its next read).
TIDY = Script(
    """
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
"""
)

LAST = Script(
    """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return '' end
return last[1][1]
"""
)

# KEYS: stream. ARGV: upto, ids to look past... 1 if an entry with id <= upto is still there,
# other than those (entries left for consumers that can verify them), else 0.
REMAINING = Script(
    """
local skip = {}
for i = 2, #ARGV do skip[ARGV[i]] = true end
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', #ARGV)) do
  if not skip[entry[1]] then return 1 end
end
return 0
"""
)


def redis_of(store: Any) -> RedisStore | None:
    """The RedisStore behind store (itself or a TieredStore's L2), or None: memory mode."""
    redis = getattr(store, "redis", store)  # a TieredStore's L2, or the store itself
    return redis if isinstance(redis, RedisStore) else None


@dataclass(slots=True)
class Entry:
    """One stream entry as read: its id, the write (None if it failed its check), deliveries."""

    id: str
    write: Write | None
    deliveries: int
    fields: dict[bytes, bytes]
    reason: str = ""


class Stream:
    """One writer's stream on one RedisStore, as seen by this process's consumer."""

    def __init__(self, redis: RedisStore, name: str, consumer: str) -> None:
        self.redis = redis
        self.key = f"memo:{redis.namespace}:wb:{name}"
        self.dead_key = self.key + ":dead"
        self.consumer = consumer
        self.cursor = "0-0"
        self.ready = False  # the consumer group is known to exist

    # -- producing ---------------------------------------------------------------------------

    def encode(self, write: Write) -> tuple[Any, ...]:
        """The XADD command of write; SerializationError if the codec cannot represent it."""
        data = self.redis.codec.encode(
            self.key, (write.arguments, write.value), created=time.time(), expires=None, delta=0.0
        )
        fields = ("key", write.key, "version", str(write.version), "data", data)
        return ("XADD", self.key, "*", *fields)

    def append(self, write: Write) -> bool:
        """XADD write; False if Redis failed (the caller keeps it in memory)."""
        return self._call(self._command(self.encode(write))) is not None

    async def aappend(self, write: Write) -> bool:
        """`append` for async writers."""
        op = self._command(self.encode(write))
        try:
            return await self.redis._arun(op, None) is not None
        except SerializationError:
            raise
        except Exception:  # on_error="raise" stores too: a write is never lost to Redis
            return False

    def append_many(self, writes: Sequence[Write]) -> list[Write] | None:
        """XADD writes in one round trip (re-appending what an outage kept in memory).

        Returns the writes the codec cannot represent (they are delivered from memory), or
        None if Redis failed (then none was appended for sure).
        """
        commands: list[Command] = []
        refused: list[Write] = []
        for write in writes:
            try:
                commands.append(Command(self.encode(write)))
            except SerializationError:
                refused.append(write)
        if commands and self._call(self._send(Batch(tuple(commands)))) is None:
            return None
        return refused

    # -- consuming ---------------------------------------------------------------------------

    def ensure_group(self) -> bool:
        """Create the consumer group (and the stream) unless they exist."""
        self.ready = self._call(self._script(ENSURE, (GROUP,))) is not None
        return self.ready

    def read(self, count: int, claim_idle: float | None) -> list[Entry] | None:
        """Entries claimed from dead consumers (if claim_idle) and new ones; None: failed."""
        if not self.ready and not self.ensure_group():
            return None
        idle = "" if claim_idle is None else str(int(claim_idle * 1000))
        args = (GROUP, self.consumer, count, idle, self.cursor)
        reply = self._call(self._script(READ, args))
        if reply is None:
            self.ready = False  # maybe the group went away: create it again next time
            return None
        cursor, claimed, deliveries, fresh = reply
        self.cursor = reply_text(cursor) if claim_idle is not None else self.cursor
        entries = [self._entry(e, int(n)) for e, n in zip(claimed, deliveries, strict=True)]
        return entries + [self._entry(e, 1) for e in fresh]

    def tidy(self, idle: float) -> None:
        """Forget consumers of dead processes (no pending entries, idle past `idle` s)."""
        self._call(self._script(TIDY, (GROUP, self.consumer, int(idle * 1000))))

    def settle(self, ids: Iterable[str]) -> bool:
        """Acknowledge and delete these entries; False if Redis failed (they come back)."""
        ok = True
        for chunk in _chunks(list(ids)):
            ok = self._call(self._script(SETTLE, (GROUP, *chunk))) is not None and ok
        return ok

    def touch(self, ids: Sequence[str]) -> None:
        """Reset the idle time of entries still being delivered here."""
        for chunk in _chunks(list(ids)):
            self._call(self._script(TOUCH, (GROUP, self.consumer, *chunk, "JUSTID")))

    @contextlib.contextmanager
    def keep_claimed(self, ids: Sequence[str], visibility: float) -> Iterator[None]:
        """While the block runs (a slow flush, retries, backoff), touch ids every third of the
        visibility timeout, so no other consumer claims entries this live one still holds."""
        done = threading.Event()

        def keep() -> None:
            while not done.wait(visibility / 3):
                self.touch(ids)

        thread = threading.Thread(target=keep, name="memo-write-behind-claims", daemon=True)
        with contextlib.suppress(RuntimeError):  # at interpreter shutdown: deliver without it
            thread.start()
        try:
            yield
        finally:
            done.set()

    def bury(self, entry_ids: Sequence[str], fields: dict[bytes, bytes], error: str) -> bool:
        """Copy one record to the dead-letter stream, then settle its entries."""
        extra = (b"error", error.encode()[:1000], b"ids", ",".join(entry_ids).encode())
        flat = [part for pair in fields.items() for part in pair]
        command = ("XADD", self.dead_key, "MAXLEN", "~", _DEAD_MAXLEN, "*", *flat, *extra)
        if self._call(self._command(command)) is None:
            return False
        return self.settle(entry_ids)

    def last_id(self) -> str | None:
        """The newest entry's id ('' if none), or None if Redis failed."""
        reply = self._call(self._script(LAST, ()))
        return None if reply is None else reply_text(reply)

    def remaining(self, upto: str, past: Iterable[str] = ()) -> int | None:
        """1 if an entry with id <= upto, other than those in past, is still in the stream,
        else 0; None if Redis failed."""
        reply = self._call(self._script(REMAINING, (upto, *past)))
        return None if reply is None else int(reply)

    # -- plumbing ----------------------------------------------------------------------------

    def _entry(self, raw: Any, deliveries: int) -> Entry:
        entry_id, flat = reply_text(raw[0]), raw[1]
        fields = dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {}
        try:
            write = self._decode(fields)
        except Rejected as exc:
            return Entry(entry_id, None, deliveries, fields, exc.reason)
        return Entry(entry_id, write, deliveries, fields)

    def _decode(self, fields: dict[bytes, bytes]) -> Write:
        try:
            key, version, data = fields[b"key"], fields[b"version"], fields[b"data"]
            decoded = self.redis.codec.decode(self.key, data)
            arguments, value = decoded.value
            return Write(key.decode(), dict(arguments), value, int(version))
        except Rejected:
            raise
        except Exception as exc:  # a malformed entry: missing fields, wrong shapes
            raise Rejected("fields") from exc

    def _script(self, script: Script, args: tuple[Any, ...]) -> Op:
        return (yield script((self.key,), args))

    def _command(self, args: tuple[Any, ...]) -> Op:
        return (yield Command(args))

    def _send(self, batch: Batch) -> Op:
        return (yield batch)

    def _call(self, op: Op) -> Any:
        """Run op on the store's sync client behind its breaker; None when Redis failed."""
        try:
            return self.redis._run(op, None)
        except Exception:  # on_error="raise" stores: the flusher and writers never raise
            return None


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
