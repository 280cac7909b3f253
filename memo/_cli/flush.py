"""`memo flush`: drain the write-behind queues, e.g. the Redis streams a dead process left.

`memo.flush(timeout)` drains the write-behind writers defined in this process. A fresh CLI
process has none until it imports the modules that define them (`--import`): then, with
Redis, each writer's flusher reads its stream, claims the entries that crashed consumers left
pending, and hands them to the writer's `flush=` function here.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import memo
from memo._cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    add_global_options,
    add_namespace_option,
    import_module,
    non_negative_float,
)
from memo._strategies.write_behind import _FLUSHERS

__all__ = ["add"]


def add(commands: Any) -> None:
    """Add `memo flush`."""
    parser = commands.add_parser(
        "flush",
        help="deliver pending write-behind writes (import the modules defining the writers)",
        description="Run memo.flush(): deliver every queued write of the @memo.write_behind "
        "writers in this process to their flush= functions. With Redis (durable "
        "write-behind) that includes the entries of the writers' streams, also those left "
        "pending by processes that died; the writers must be defined here, so import their "
        "modules with --import.",
        epilog="Exit codes: 0 drained (or nothing to drain), 1 not drained within --timeout, "
        "2 a module failed to import. Example: memo --redis-url redis://localhost:6379/0 "
        "flush --import app.writers --timeout 60",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    add_namespace_option(parser)
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="MODULE",
        action="append",
        default=[],
        help="import MODULE first (it defines write-behind writers); repeatable",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=non_negative_float,
        default=30.0,
        help="seconds to wait for the queues to drain (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import the writers' modules, flush, and say what happened."""
    for name in args.imports:
        import_module(name)
    writers = _writers()
    if not writers:
        hint = "" if args.imports else "; pass --import MODULE for the modules defining them"
        print(f"nothing to flush: no @memo.write_behind writer in this process{hint}")
        return EXIT_OK
    before = {id(w): (w.stats.delivered, w.stats.dead) for w in writers}
    began = time.monotonic()
    drained = memo.flush(args.timeout)
    took = time.monotonic() - began
    durable = any(w.stream() is not None for w in writers)
    for writer in writers:
        delivered, dead = before[id(writer)]
        print(
            f"{writer.display}: delivered {writer.stats.delivered - delivered:,}, "
            f"dead-lettered {writer.stats.dead - dead:,}; {_left(writer)}"
        )
    mode = "Redis streams" if durable else "in-process queues: no Redis tier"
    count = f"{len(writers)} writer" + ("" if len(writers) == 1 else "s")
    if drained:
        print(f"drained {count} ({mode}) in {took:.2f} s")
        return EXIT_OK
    print(f"not drained within {args.timeout:g} s ({mode}).")
    if durable:
        slowest = max(writers, key=lambda w: w.options.visibility)
        print(
            "Entries a stopped process had already read are claimed only once idle for "
            f"5 x interval ({slowest.options.visibility:g} s for {slowest.display}); pass "
            "a longer --timeout, or run again later."
        )
    return EXIT_FAILED


def _left(writer: Any) -> str:
    """What is still to deliver: this process's queue, and the stream's entries."""
    stream = writer.stream()
    if stream is None:
        return f"{writer.pending():,} pending in this process"
    try:
        length = int(stream.redis.client.execute_command("XLEN", stream.key))
    except Exception as exc:  # Redis unreachable: say so, the exit code tells the rest
        return f"stream {stream.key}: unknown ({type(exc).__name__})"
    return f"stream {stream.key}: {length:,} entr{'y' if length == 1 else 'ies'} left"


def _writers() -> list[Any]:
    """The write-behind flushers of this process, in a stable order."""

    return sorted(_FLUSHERS, key=lambda flusher: flusher.display)
