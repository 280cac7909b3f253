"""What memo asks of Redis, written once as generators of commands.

Each operation yields `Command`s (or a `Script` or a `Batch`) and receives the reply; the
executor (`_redis/_async/executor.py`, the sync one generated) sends them with redis-py's
sync or asyncio client. Scripts keep a write, its lease check and its invalidation message
atomic, so a compute that outlived its lease never overwrites a newer value nor brings back
an invalidated key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from typing import Any, NamedTuple

__all__ = [
    "DELETE",
    "EXTEND",
    "FETCH",
    "RELEASE",
    "TAG",
    "WRITE",
    "Batch",
    "Command",
    "Op",
    "Script",
]


# The requests are named tuples: made with every command of every call, and a frozen
# dataclass's __init__ sets each field through object.__setattr__.


class Command(NamedTuple):
    """One Redis command (answered: an error reply is sent back to the operation as its reply,
    a `ResponseError`, for it to answer; otherwise it fails the operation)."""

    args: tuple[Any, ...]
    answered: bool = False


class Batch(NamedTuple):
    """Several commands sent in one round trip (a non-transactional pipeline)."""

    commands: tuple[Command | ScriptCall, ...]


class Script:
    """A Lua script run by EVALSHA, loaded with EVAL when the server does not know it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, keys: tuple[str, ...], args: tuple[Any, ...]) -> ScriptCall:
        return ScriptCall(self, keys, args)


class ScriptCall(NamedTuple):
    """One run of a script with its keys and arguments."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[Any, ...]


Op = Generator[Any, Any, Any]

# KEYS: entry, lease. ARGV: payload, ttl ms (0: none), lease token ('' : none),
# mode ('set' | 'fill' | 'nx'), channel, message. Returns 1 if written. A 'set' (a refresh,
# a write-through) is authoritative: it also ends any lease, so a compute that started
# earlier elsewhere cannot overwrite the newer value when it finishes. A 'fill' (a miss's
# result) is a 'set' that publishes only when it replaces an entry (other processes may
# hold a copy) or when a caller elsewhere waits for it (its claim marked the lease, see
# CLAIM): most misses then wake no events connection, this process's own included. The
# SET comes first among the writes: Redis checks maxmemory at a script's first write, and a
# DEL would slip past it.
WRITE = Script(
    """
local waited = false
if ARGV[3] ~= '' then
  local held = redis.call('GET', KEYS[2])
  if held == ARGV[3] .. '+' then waited = true elseif held ~= ARGV[3] then return 0 end
end
if ARGV[4] == 'nx' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local quiet = ARGV[4] == 'fill' and not waited and redis.call('EXISTS', KEYS[1]) == 0
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[3] ~= '' or ARGV[4] ~= 'nx' then redis.call('DEL', KEYS[2]) end
if not quiet then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
"""
)

# KEYS: entry, lease. ARGV: channel, message. Deleting the lease too makes a compute in
# flight lose its right to write. Returns how many entries were removed (0 or 1).
DELETE = Script(
    """
local removed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return removed
"""
)

# KEYS: lease. ARGV: token, ttl ms. Extends the lease only while the caller holds it (its
# token, marked or not by a waiter).
EXTEND = Script(
    """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] or held == ARGV[1] .. '+' then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
)

# KEYS: lease. ARGV: token, ttl ms. Takes the lease if free. Anyone who can write to the
# keyspace may leave a value there that memo did not make: one without a TTL (or not a
# string) would block every miss of the key forever, so it is replaced. Returns 1 if taken,
# 2 if taken over from such a squatter, 0 if another caller holds it (then the lease is
# marked with a trailing '+': its holder's write must then wake the callers that wait).
CLAIM = Script(
    """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('PTTL', KEYS[1]) == -1 or redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
if string.sub(redis.call('GET', KEYS[1]), -1) ~= '+' then redis.call('APPEND', KEYS[1], '+') end
return 0
"""
)

# KEYS: entry, lease. ARGV: token, ttl ms. A miss's first round trip: the entry if there is
# one (no lease taken), else the lease, taken as CLAIM takes it (a squatter without a TTL is
# replaced, and a held one marked). Returns the entry (a bulk string), or an integer: 1 taken,
# 2 taken over, 0 held elsewhere (one reply, not an array: a client parses it in a third of
# the time). The look and the claim are one step, so no holder can store between them unseen.
FETCH = Script(
    """
local entry = redis.call('GET', KEYS[1])
if entry then return entry end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('PTTL', KEYS[2]) == -1 or redis.call('TYPE', KEYS[2])['ok'] ~= 'string' then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 2
end
if string.sub(redis.call('GET', KEYS[2]), -1) ~= '+' then redis.call('APPEND', KEYS[2], '+') end
return 0
"""
)

# KEYS: generations hash. ARGV: function name, floor, channel, message prefix. HINCRBY, and if
# the key holds something else than a hash (a squatter), replace it by a hash whose `~floor`
# field (the current time in ms, above any generation counted so far) makes every entry
# written before stale, for every function. Returns {generation, 1 if repaired else 0}.
BUMP = Script(
    """
local repaired = 0
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], '~floor', ARGV[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4] .. '~floor=' .. ARGV[2])
  repaired = 1
end
local floor = tonumber(redis.call('HGET', KEYS[1], '~floor') or '0')
local generation = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if generation <= floor then
  generation = floor + 1
  redis.call('HSET', KEYS[1], ARGV[1], generation)
end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ARGV[1] .. '=' .. generation)
return {generation, repaired}
"""
)

# KEYS: tag set. ARGV: member, ttl ms (0: none). The set lives as long as its longest
# member: created with the member's TTL, extended by longer ones, made persistent by one
# without a TTL.
TAG = Script(
    """
local added = redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local current = redis.call('PTTL', KEYS[1])
if ttl == 0 then
  redis.call('PERSIST', KEYS[1])
elseif (current == -1 and added == 1 and redis.call('SCARD', KEYS[1]) == 1)
    or (current >= 0 and current < ttl) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return added
"""
)

# KEYS: lease. ARGV: token, channel, message. Frees the lease a failed compute held and
# wakes the waiters, so they retry at once instead of waiting out the lease.
RELEASE = Script(
    """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] or held == ARGV[1] .. '+' then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""
)
