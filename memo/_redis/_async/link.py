"""Single commands sent on connections memo keeps (the async one is the source:
scripts/unasync.py).

redis-py's client spends more on each command than a loopback round trip: it checks a
connection out of its pool (a lock and a readiness poll, one more system call), wraps the call
in a retry closure and records observability events; and it packs the command argument by
argument (`wire.py`). Measured on the bench machine: 107 us for `execute_command("GET", key)`,
48 us for the same GET sent and read on a connection. A Link keeps the connections it used in
a list of its own (pop and append are atomic) and sends each command on one of them, so an L2
hit and a miss's scripts pay the round trip only. Kept only from memo's own clients (made from
a URL): a client given to memo shares its pool with the application, and a kept connection
would be one fewer for it; from such a pool a Link takes a connection per command and gives
it back, as the client does.

What the client did and still holds: its reply callbacks (but for a `GET` and a script,
whose replies memo reads as Redis sends them); its retry (a connection error that comes at
once is tried once more, on a fresh connection: `client.py`); a connection that failed in any
way but an error reply is closed and given back to the pool, never reused with a reply in
flight (a cancelled read included); the pool's bound and its fork check (every connection
comes from it). A client whose commands must go through `execute_command` (a Cluster client,
one bound to a single connection, one with redis-py's client-side cache, one whose
`execute_command` is wrapped, as tracing instrumentation does) gets a Link that does just
that.
"""

from __future__ import annotations

import time
from typing import Any

from memo._redis.client import RETRY_WINDOW, direct_pool, import_redis
from memo._redis.turns import Turns, aread_reply
from memo._redis.wire import asend_command, pack

__all__ = ["AsyncLink"]

# Commands whose reply memo reads as Redis sends it: an entry's bytes, a script's reply (and
# a SET ... GET's, the entry it replaced: `_raw`). A callback the application set on the
# client (for GET, say) is not memo's to apply.
_RAW = frozenset(("GET", "EVALSHA", "EVAL"))


class AsyncLink:
    """`execute(*args)`: one command and its reply, on a kept connection of the client's pool."""

    __slots__ = (
        "_callbacks",
        "_connection_error",
        "_encoding",
        "client",
        "idle",
        "keep",
        "no_script",
        "pool",
        "reply_error",
        "turns",
    )

    def __init__(self, client: Any, *, keep: bool) -> None:
        exceptions = import_redis().exceptions
        self.client = client
        self.pool = direct_pool(client)  # None: every command goes through the client
        self.idle: list[Any] = []  # connections checked out of the pool, free for a command
        self.keep = keep  # the client is memo's own: its connections may wait in `idle`
        self._callbacks = getattr(client, "response_callbacks", None) or {}
        options = getattr(self.pool, "connection_kwargs", None) or {}
        self._encoding = (
            options.get("encoding", "utf-8"),
            options.get("encoding_errors", "strict"),
        )
        self._connection_error = exceptions.ConnectionError
        self.reply_error = exceptions.ResponseError  # an error reply: the link is sound
        self.no_script = exceptions.NoScriptError  # EVALSHA of a script the server lacks
        self.turns = Turns()  # how soon replies come: turns of the loop before a read (turns.py)

    async def execute(self, *args: Any) -> Any:
        """The client's reply to the command args (raises what the client would raise)."""
        if self.pool is None:
            return await self.client.execute_command(*args)
        started = time.monotonic()
        try:
            reply = await self._send(args)
        except self._connection_error:
            await self.drop()  # the server went away: the idle connections went with it
            if time.monotonic() - started > RETRY_WINDOW:
                raise
            reply = await self._send(args)
        if _raw(args):
            return reply
        callback = self._callbacks.get(args[0])
        return reply if callback is None else callback(reply)

    async def _send(self, args: tuple[Any, ...]) -> Any:
        try:
            connection = self.idle.pop()
        except IndexError:
            connection = await self.pool.get_connection()
        try:
            await asend_command(connection, pack(connection, args, *self._encoding))
            reply = await aread_reply(connection, self.turns)
        except self.reply_error:  # the server answered with an error: the link is sound
            await self._done(connection)
            raise
        except BaseException:  # never reused: a reply may still be on its way
            await self._discard(connection)
            raise
        await self._done(connection)
        return reply

    async def _done(self, connection: Any) -> None:
        if self.keep:
            self.idle.append(connection)
        else:  # the application's pool: it may be waiting for this connection
            await self.pool.release(connection)

    async def _discard(self, connection: Any) -> None:
        try:  # redis-py closed it already on an error it saw; this is for the rest
            await connection.disconnect()
        finally:
            await self.pool.release(connection)

    async def drop(self) -> None:
        """Close the idle connections and give them back to the pool."""
        idle, self.idle = self.idle, []
        for connection in idle:
            await self._discard(connection)


def _raw(args: tuple[Any, ...]) -> bool:
    """Whether the reply goes back as Redis sent it (redis-py's callback for SET would
    decode a replaced entry to tell it from 'OK')."""
    return args[0] in _RAW or (args[0] == "SET" and len(args) > 3 and args[-1] == "GET")
