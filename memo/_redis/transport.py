"""Sending memo's Redis requests: commands, scripts (EVALSHA, then EVAL) and pipelines."""

from __future__ import annotations

from typing import Any

from memo._redis.client import import_redis
from memo._redis.ops import TAG, Command, ScriptCall

__all__ = ["is_outage", "key_hash", "send_async", "send_sync", "short_error", "tag_command"]


def tag_command(tag_key: str, member: str, ttl_ms: int) -> ScriptCall:
    return TAG((tag_key,), (member, ttl_ms))


def send_sync(client: Any, request: Any) -> Any:
    if isinstance(request, Command):
        return client.execute_command(*request.args)
    if isinstance(request, ScriptCall):
        return _script_sync(client, request)
    pipe = client.pipeline(transaction=False)
    for command in request.commands:
        if isinstance(command, ScriptCall):
            script = command.script
            pipe.execute_command(
                "EVAL", script.source, len(command.keys), *command.keys, *command.args
            )
        else:
            pipe.execute_command(*command.args)
    return pipe.execute()


async def send_async(client: Any, request: Any) -> Any:
    if isinstance(request, Command):
        return await client.execute_command(*request.args)
    if isinstance(request, ScriptCall):
        return await _script_async(client, request)
    pipe = client.pipeline(transaction=False)
    for command in request.commands:
        if isinstance(command, ScriptCall):
            script = command.script
            pipe.execute_command(
                "EVAL", script.source, len(command.keys), *command.keys, *command.args
            )
        else:
            pipe.execute_command(*command.args)
    return await pipe.execute()


def _script_sync(client: Any, call: ScriptCall) -> Any:
    redis = import_redis()
    n, script = len(call.keys), call.script
    try:
        return client.execute_command("EVALSHA", script.sha, n, *call.keys, *call.args)
    except redis.exceptions.NoScriptError:
        return client.execute_command("EVAL", script.source, n, *call.keys, *call.args)


async def _script_async(client: Any, call: ScriptCall) -> Any:
    redis = import_redis()
    n, script = len(call.keys), call.script
    try:
        return await client.execute_command("EVALSHA", script.sha, n, *call.keys, *call.args)
    except redis.exceptions.NoScriptError:
        return await client.execute_command("EVAL", script.source, n, *call.keys, *call.args)


def is_outage(redis: Any, exc: BaseException) -> bool:
    """Errors that say the server as a whole is unusable (they trip the breaker).

    Running out of pooled connections is not one: the server is fine, this process merely
    has more callers in flight than its pool; those calls degrade, the rest go on.
    """
    exceptions = redis.exceptions
    pool_full = getattr(exceptions, "MaxConnectionsError", None)
    if pool_full is not None and isinstance(exc, pool_full):
        return False
    if "Too many connections" in str(exc) or "No connection available" in str(exc):
        return False
    outage = (
        exceptions.ConnectionError,
        exceptions.TimeoutError,
        exceptions.BusyLoadingError,
        exceptions.ReadOnlyError,
        OSError,
    )
    if isinstance(exc, outage):
        return True
    text = str(exc)
    return text.startswith(("OOM", "LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN"))


def short_error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def key_hash(remote: str) -> str:
    """The digest part of a key, for logs: never the payload, never a password."""
    start = remote.rfind("{")
    return remote[start:] if start >= 0 else remote[-40:]
