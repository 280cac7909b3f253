"""Running an operation in one colour (the async one is the source: scripts/unasync.py).

An operation is a generator of requests (`_redis/commands.py`); the executor sends each with
the client of its colour, behind the breaker, and turns a failure into the fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memo._keys.key import CacheKey
from memo._redis._async.transport import send_async
from memo._redis.ops import Op

if TYPE_CHECKING:  # a base for the type checker only: resilience.py imports this module
    from memo._redis.resilience import Executing
else:
    Executing = object

__all__ = ["AsyncExecutor"]


class AsyncExecutor(Executing):
    """`_arun`: one operation to its end, or to its fallback."""

    async def _arun(self, op: Op, fallback: Any, key: CacheKey | None = None) -> Any:
        if self._skip(key):
            op.close()
            return fallback
        reply: Any = None
        try:
            link = await self.async_link()
            while True:
                request = op.send(reply)
                reply = await send_async(link, request)
        except StopIteration as stop:
            self._succeeded()
            return stop.value
        except Exception as exc:
            return self._failed(exc, fallback, key)
