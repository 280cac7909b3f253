"""One Redis command on the wire: packed as redis-py packs it, in a few string operations, and
sent in either colour (`send_command`, `asend_command`: a Link's one step that differs).

redis-py's `Connection.pack_command` encodes each argument through a method call and a chain
of isinstance checks: measured, 5 us for a GET and 15-22 us for memo's scripts with their
six to ten arguments, a tenth of a loopback round trip (`pack` takes 5 us for the largest).
memo's commands hold str, bytes and int only; `pack` makes the same bytes for them and leaves
anything else (a float, a memoryview, a bool that redis-py refuses, a command name that is
not one word, which redis-py splits) to redis-py's own packing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from memo._redis.client import import_redis

__all__ = ["asend_command", "pack", "send_command"]


_HEADS = tuple(b"$%d" % size for size in range(512))  # bulk-string heads of short arguments
_CUTOFF = 6000  # an argument this long goes as a buffer of its own, not copied (redis-py's)


def pack(connection: Any, args: tuple[Any, ...], encoding: str, errors: str) -> list[bytes]:
    """The command args as the buffers `send_packed_command` takes: `*N`, then `$len` and
    the bytes of each argument, CRLF after each, joined once (a long argument is left out of
    the join and sent as it is)."""
    name = args[0]
    if type(name) is not str or not name.isalpha():  # 'CONFIG GET' goes as two arguments
        return connection.pack_command(*args)  # type: ignore[no-any-return]
    buffers: list[bytes] = []
    pieces = [b"*%d" % len(args)]
    append, heads = pieces.append, _HEADS
    for arg in args:
        kind = type(arg)
        if kind is str:
            data = arg.encode(encoding, errors)
        elif kind is bytes:
            data = arg
        elif kind is int:
            data = b"%d" % arg
        else:
            return connection.pack_command(*args)  # type: ignore[no-any-return]
        size = len(data)
        append(heads[size] if size < 512 else b"$%d" % size)
        if size > _CUTOFF:
            append(b"")
            buffers += (b"\r\n".join(pieces), data)
            pieces = [b""]
            append = pieces.append
        else:
            append(data)
    append(b"")
    buffers.append(b"\r\n".join(pieces))
    return buffers


def send_command(connection: Any, buffers: list[bytes]) -> None:
    """Send a packed command on a redis-py connection (connecting it first if need be)."""
    connection.send_packed_command(buffers)


async def asend_command(connection: Any, buffers: list[bytes]) -> None:
    """Send a packed command on a `redis.asyncio` connection.

    redis-py bounds each write with `asyncio.wait_for`, which on Python 3.11 runs the write
    as a task of its own: a turn of the event loop per command, measured at 50 us of a 160 us
    GET. A command that the transport takes whole needs no waiting; only one it holds back
    (a server that stopped reading) is drained, under the same socket timeout, with the same
    errors. A connection not yet open, or one that checks its health, goes redis-py's way.
    """
    writer = getattr(connection, "_writer", None)
    if writer is None or connection.health_check_interval or writer.transport.is_closing():
        await connection.send_packed_command(buffers)
        return
    writer.writelines(buffers)
    if not writer.transport.get_write_buffer_size():
        return
    exceptions = import_redis().exceptions
    try:
        await asyncio.wait_for(writer.drain(), connection.socket_timeout)
    except asyncio.TimeoutError:
        await _abort(connection, writer)
        raise exceptions.TimeoutError("Timeout writing to socket") from None
    except OSError as exc:
        await _abort(connection, writer)
        raise exceptions.ConnectionError(f"Error while writing to socket: {exc}") from exc


async def _abort(connection: Any, writer: asyncio.StreamWriter) -> None:
    """Close at once: a close would wait to flush what the server does not read."""
    writer.transport.abort()
    await connection.disconnect(nowait=True)
