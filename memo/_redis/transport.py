"""Sending memo's Redis requests (the senders are generated: `_async/transport.py`) and
classifying what comes back."""

from __future__ import annotations

from typing import Any

from memo._redis._async.transport import send_async
from memo._redis._sync.transport import send_sync
from memo._redis.ops import TAG, ScriptCall

__all__ = [
    "is_outage",
    "key_hash",
    "reply_text",
    "send_async",
    "send_sync",
    "short_error",
    "tag_command",
]


def tag_command(tag_key: str, member: str, ttl_ms: int) -> ScriptCall:
    return TAG((tag_key,), (member, ttl_ms))


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


def reply_text(value: Any) -> str:
    """A Redis reply as text: redis-py gives bytes, or str when the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


def short_error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def key_hash(remote: str) -> str:
    """The digest part of a key, for logs: never the payload, never a password."""
    start = remote.rfind("{")
    return remote[start:] if start >= 0 else remote[-40:]
