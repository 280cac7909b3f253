"""What happened to one call on its way through the tiers, kept beside its key, not on it.

A `Trace` belongs to one call's `CacheKey` (by identity) and lives in a context variable, so
it follows the call through its thread or task without being passed around and without the
key carrying any state. Tiers open it when something worth remembering happens:

- `failed`/`error`: a tier degraded on this call (counted once, by class, when the call ends);
- `outage`: the server looked down, so the rest of this call skips Redis (one timeout per
  call, not one per command);
- `generation`: the function's generation the call's last shared lookup saw; its write
  carries that generation, so a value computed across an `invalidate_all()` elsewhere is
  stored as already stale.

The runtime closes the trace when the call ends (`close`). Traces nest the way calls do (a
cached function calling another): each knows the one it was opened over, and closing a
trace also closes any left open above it. A hit opens nothing, so the hit path pays nothing.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["Trace", "close", "current", "degrade", "failed", "find", "open_for", "skips"]

_MAX_DEPTH = 32  # traces left open (never closed by a runtime) cannot pile up past this


class Trace:
    """One call's degradation flags and the generation its lookup saw."""

    __slots__ = ("depth", "error", "failed", "generation", "key", "outage", "outer")

    depth: int
    outer: Trace | None

    def __init__(self, key: object, outer: Trace | None) -> None:
        self.key = key
        self.outer = outer if outer is not None and outer.depth < _MAX_DEPTH else None
        self.depth = 0 if self.outer is None else self.outer.depth + 1
        self.failed = False  # a tier degraded on this call (counted as an error)
        self.error = ""  # the class of that tier's error, for the per-class counters
        self.outage = False  # the server looked down: the rest of this call skips Redis
        self.generation = -1  # the function's generation its last shared lookup saw

    def __repr__(self) -> str:
        return (
            f"Trace({self.key!r}, failed={self.failed}, error={self.error!r}, "
            f"outage={self.outage}, generation={self.generation})"
        )


_CURRENT: ContextVar[Trace | None] = ContextVar("memo_trace", default=None)
# The innermost open trace of this context, or None (a C call: a miss asks before closing).
current = _CURRENT.get


def find(key: object) -> Trace | None:
    """The open trace of key's call in this context, if any."""
    trace = _CURRENT.get()
    while trace is not None:
        if trace.key is key:
            return trace
        trace = trace.outer
    return None


def open_for(key: object) -> Trace:
    """The trace of key's call, opened now if it has none."""
    trace = find(key)
    if trace is None:
        trace = Trace(key, _CURRENT.get())
        _CURRENT.set(trace)
    return trace


def close(key: object) -> str:
    """End key's call: drop its trace; the class of the error a tier met on it, else ""."""
    trace = _CURRENT.get()
    while trace is not None:
        if trace.key is key:
            _CURRENT.set(trace.outer)
            return trace.error if trace.failed else ""
        trace = trace.outer
    return ""


def degrade(key: object, error: str, *, outage: bool = False, keep_error: bool = False) -> None:
    """A tier failed on key's call with an error of class `error` (outage: server down;
    keep_error: a skip, which keeps the class of the failure that caused it)."""
    trace = open_for(key)
    trace.failed = True
    if not (keep_error and trace.error):
        trace.error = error
    trace.outage = trace.outage or outage


def skips(key: object) -> bool:
    """Whether key's call already met an outage (the rest of it leaves Redis out)."""
    trace = find(key)
    return trace is not None and trace.outage


def failed(key: object) -> bool:
    """Whether a tier degraded on key's call so far."""
    trace = find(key)
    return trace is not None and trace.failed
