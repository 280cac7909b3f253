"""`memo stats`: every function's counters, added up over the processes sharing a namespace.

Counters live in each process; processes with a Redis tier publish them there (`_runtime/fleet.py`:
every `MEMO_STATS_INTERVAL` seconds, expiring when a process stops). This command reads what
the live processes of one namespace published and prints the sum per function.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import memo
from memo._cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_global_options,
    add_namespace_option,
    need_redis,
)
from memo._runtime import fleet as _fleet
from memo._runtime.settings import settings

__all__ = ["add", "format_table"]

_COLUMNS = (  # (title, right-aligned?)
    ("function", False),
    ("l1 hits", True),
    ("l2 hits", True),
    ("misses", True),
    ("hit rate", True),
    ("errors", True),
    ("refreshes", True),
    ("stale", True),
    ("waits", True),
)


def add(commands: Any) -> None:
    """Add `memo stats`."""
    parser = commands.add_parser(
        "stats",
        help="per-function cache counters, summed over every process sharing Redis",
        description="Read the counters that processes using memo with a Redis tier publish "
        "(every $MEMO_STATS_INTERVAL seconds, 10 by default) and print them per function, "
        "summed over the live processes of one namespace. Counters are kept per process: "
        "without --redis-url there is nothing to read.",
        epilog="Exit codes: 0 printed (also when no process has published), 1 Redis could "
        "not be read, 2 no Redis URL or a bad option.",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    add_namespace_option(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print {namespace, processes, functions: {name: counters}} as JSON",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the fleet's counters and print them."""

    need_redis(args, "stats are counted per process and shared through Redis")
    store: Any = settings.store
    try:
        fleet, exited = _fleet.read_fleet_status(store)
    except memo.MemoError:
        raise
    except Exception as exc:  # redis-py's errors: connection, timeout, NOPERM
        raise CommandError(
            f"cannot read stats from Redis {store.redis.name}: {type(exc).__name__}: {exc}",
            EXIT_FAILED,
        ) from exc
    totals = _fleet.aggregate(fleet)
    if args.json:
        json.dump(
            _as_json(args.namespace or "default", fleet, exited, totals),
            sys.stdout,
            indent=2,
            sort_keys=True,
        )
        sys.stdout.write("\n")
        return EXIT_OK
    live = len(fleet) - len(exited)
    ended = f" ({len(exited)} more exited; their last counts are included)" if exited else ""
    print(f"namespace {args.namespace or 'default'}: {_processes(live)} publishing to Redis{ended}")
    if not totals:
        print(
            "no counters: no live process has published in this namespace (processes "
            "publish when they use memo with a Redis tier; MEMO_STATS_INTERVAL=0 turns it off)"
        )
        return EXIT_OK
    print()
    print(format_table(totals))
    return EXIT_OK


def _processes(count: int) -> str:
    return f"{count} process" + ("" if count == 1 else "es")


def _as_json(
    namespace: str,
    fleet: Mapping[str, Any],
    exited: set[str],
    totals: Mapping[str, memo.Stats],
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "processes": len(fleet) - len(exited),
        "process_ids": sorted(set(fleet) - exited),
        "exited_process_ids": sorted(exited),
        "functions": {name: stats.as_dict() for name, stats in totals.items()},
    }


def format_table(totals: Mapping[str, memo.Stats]) -> str:
    """One aligned row per function, then a total row (no trailing newline)."""
    rows = [[title for title, _ in _COLUMNS]]
    rows += [_cells(name, stats) for name, stats in totals.items()]
    if len(totals) > 1:
        rows.append(_cells("(all)", sum(totals.values(), memo.Stats())))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    rule = ["-" * width for width in widths]
    return "\n".join(_line(row, widths) for row in (rows[0], rule, *rows[1:]))


def _cells(name: str, s: memo.Stats) -> list[str]:
    rate = f"{s.hit_rate:.1%}" if s.hits + s.misses else "-"
    numbers = (s.l1_hits, s.l2_hits, s.misses)
    rest = (s.errors, s.refreshes, s.stale, s.waits)
    return [name, *(f"{n:,}" for n in numbers), rate, *(f"{n:,}" for n in rest)]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (
        cell.rjust(width) if right else cell.ljust(width)
        for cell, width, (_, right) in zip(cells, widths, _COLUMNS, strict=True)
    )
    return "  ".join(padded).rstrip()
