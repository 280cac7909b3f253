"""Sending one request in one colour (the async one is the source: scripts/unasync.py).

A request is a `Command`, a `ScriptCall` (EVALSHA, then EVAL when the server does not know
the script) or a `Batch` (a non-transactional pipeline, whose scripts go as EVAL).
"""

from __future__ import annotations

from typing import Any

from memo._redis.client import import_redis
from memo._redis.ops import Command, ScriptCall

__all__ = ["send_async"]


async def send_async(client: Any, request: Any) -> Any:
    """The reply to request, sent with client."""
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


async def _script_async(client: Any, call: ScriptCall) -> Any:
    redis = import_redis()
    n, script = len(call.keys), call.script
    try:
        return await client.execute_command("EVALSHA", script.sha, n, *call.keys, *call.args)
    except redis.exceptions.NoScriptError:
        return await client.execute_command("EVAL", script.source, n, *call.keys, *call.args)
