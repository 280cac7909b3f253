"""Sending one request in one colour (the async one is the source: scripts/unasync.py).

A request is a `Command`, a `ScriptCall` (EVALSHA, then EVAL when the server does not know
the script) or a `Batch` (a non-transactional pipeline, whose scripts go as EVAL).
"""

from __future__ import annotations

from typing import Any

from memo._redis._async.link import AsyncLink
from memo._redis.ops import Command, ScriptCall

__all__ = ["send_async"]


async def send_async(link: AsyncLink, request: Any) -> Any:
    """The reply to request, sent on link (a batch: with its client's pipeline)."""
    if isinstance(request, Command):
        if not request.answered:
            return await link.execute(*request.args)
        try:
            return await link.execute(*request.args)
        except link.reply_error as error:  # the operation answers it
            return error
    if isinstance(request, ScriptCall):
        return await _script_async(link, request)
    pipe = link.client.pipeline(transaction=False)
    for command in request.commands:
        if isinstance(command, ScriptCall):
            script = command.script
            pipe.execute_command(
                "EVAL", script.source, len(command.keys), *command.keys, *command.args
            )
        else:
            pipe.execute_command(*command.args)
    return await pipe.execute()


async def _script_async(link: AsyncLink, call: ScriptCall) -> Any:
    n, script = len(call.keys), call.script
    try:
        return await link.execute("EVALSHA", script.sha, n, *call.keys, *call.args)
    except link.no_script:
        return await link.execute("EVAL", script.source, n, *call.keys, *call.args)
