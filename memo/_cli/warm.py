"""`memo warm MODULE:FUNCTION ARGS_FILE`: fill the shared cache before traffic arrives.

Each line of ARGS_FILE (JSON lines; `-` reads stdin) is one call; the calls go to `f.warm()`,
which skips those already cached, runs the rest with bounded concurrency and writes the
results to Redis in pipelined batches, with a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Iterable
from typing import Any

from memo._cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    FUNCTION_EXAMPLE,
    CommandError,
    add_global_options,
    add_namespace_option,
    load_function,
    need_redis,
    parse_json,
    positive_int,
    reaches_redis,
    redis_must_answer,
)

__all__ = ["add", "read_calls"]

LINE_EXAMPLE = '[42] or {"user_id": 42} or 42, one call per line'
_WHY = (
    "warm fills the cache other processes share through Redis; the in-process cache of "
    "this command's own process ends with it"
)


def add(commands: Any) -> None:
    """Add `memo warm`."""
    parser = commands.add_parser(
        "warm",
        help="call a cached function for each line of a file, filling the shared cache",
        description="Import MODULE:FUNCTION, a function decorated with @memo.cached, and "
        "warm its cache with f.warm(): one call per line of ARGS_FILE, skipping calls "
        "already cached, the others run --concurrency at a time and stored in Redis in "
        "batches. A progress bar shows on a terminal (with the progress extra: pip install "
        "'memo-cache[progress]').",
        epilog="ARGS_FILE holds JSON lines: an array is the positional arguments "
        '([42, "eu"]), an object the keyword arguments ({"user_id": 42}), any other JSON '
        "value the one argument (42); blank lines are skipped. Values are stored with the "
        "CLI's configuration: give the application's --namespace and MEMO_SECRET so it can "
        "read them. Exit codes: 0 every call warmed or already cached, 1 some calls or Redis "
        "failed, 2 bad file, module or function, or no Redis tier. Example: "
        "memo warm app.users:get_user ids.jsonl --concurrency 16",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    add_namespace_option(parser)
    parser.add_argument(
        "function", metavar="MODULE:FUNCTION", help=f"the cached function ({FUNCTION_EXAMPLE})"
    )
    parser.add_argument(
        "args_file", metavar="ARGS_FILE", help="JSON lines, one call each ('-': standard input)"
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        help="calls running at once (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=100,
        help="calls looked up and stored per Redis round trip (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Warm the function with the file's calls and print the counts."""
    calls = read_calls(args.args_file)
    function, core = load_function(args.function, args)
    if not reaches_redis(core):
        need_redis(args, _WHY)
        raise CommandError(f"{args.function} uses an in-process store only; {_WHY}")
    progress = sys.stderr.isatty()
    if progress and importlib.util.find_spec("tqdm") is None:
        print("memo warm: pip install 'memo-cache[progress]' for a progress bar", file=sys.stderr)
    options = {"concurrency": args.concurrency, "batch_size": args.batch_size}
    with redis_must_answer(core.store, f"warming {core.plan.name}"):
        report = function.warm(calls, progress=progress, **options)
        if core.is_async:
            report = asyncio.run(report)
    print(
        f"{core.plan.name}: warmed {report.warmed:,}, skipped {report.skipped:,} (already "
        f"cached), failed {report.failed:,} of {len(calls):,} calls"
    )
    return EXIT_FAILED if report.failed else EXIT_OK


def read_calls(path: str) -> list[Any]:
    """The calls in a JSON-lines file or stdin: tuples, dicts or single arguments."""
    if path == "-":
        return _parse(sys.stdin, "standard input")
    try:
        with open(path, encoding="utf-8") as lines:
            return _parse(lines, path)
    except OSError as exc:
        raise CommandError(f"cannot read ARGS_FILE {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"ARGS_FILE {path!r} is not UTF-8 text: {exc}") from None


def _parse(lines: Iterable[str], where: str) -> list[Any]:
    calls: list[Any] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value = parse_json(line.strip(), f"line {number} of {where}", LINE_EXAMPLE)
        calls.append(tuple(value) if isinstance(value, list) else value)
    return calls
