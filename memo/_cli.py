"""The `memo` command line (`python -m memo`, or the `memo` script).

Each command is one `_add_<name>` function that adds its subparser and sets `run` to the
function carrying it out; `COMMANDS` lists them. Errors go to stderr as `memo: error: ...`
with exit code 2, as argparse reports its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import memo
from memo._demo import run_demo
from memo._demo_report import format_report

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the command line with argv (default: `sys.argv[1:]`) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse printed them
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else 1
    try:
        args.redis_url = _configure(args)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except memo.MemoError as exc:
        print(f"memo: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("memo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The parser of `memo` and all of its commands."""
    parser = argparse.ArgumentParser(
        prog="memo",
        description="memo: memoization for sync and async Python over a tiered cache.",
        epilog="Run 'memo COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"memo {memo.__version__}")
    _add_global_options(parser, default=None)
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for add in COMMANDS:
        add(commands)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Options accepted before and after the command (`memo --redis-url U demo` or after)."""
    # Subparsers get SUPPRESS as default so they never overwrite a value given before.
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        default=default,
        help="Redis URL of the shared L2 tier (default: $MEMO_REDIS_URL); without one, "
        "memo uses the in-process L1 tier only",
    )


def _configure(args: argparse.Namespace) -> str | None:
    """Apply the global options to memo's configuration; the Redis URL in use, if any."""
    url = getattr(args, "redis_url", None) or os.environ.get("MEMO_REDIS_URL") or None
    if url is not None:
        memo.configure(redis_url=url)  # ConfigurationError for a URL memo cannot use
    return url


# -- argument types ----------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number, 0 or more")
    return value


# -- memo demo ---------------------------------------------------------------------------


def _add_demo(commands: Commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="run a workload against a slow SQLite database, uncached and cached",
        description="Build a SQLite database of products with simulated query latency, run "
        "one skewed workload through it uncached, through @memo.cached (sync and async) and "
        "as a stampede of threads on one cold key, and print latency percentiles, hit rates "
        "and how many times the database was reached.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_global_options(parser, default=argparse.SUPPRESS)
    parser.add_argument("--calls", type=_positive_int, default=2000, help="calls in the workload")
    parser.add_argument("--keys", type=_positive_int, default=1000, help="products in the database")
    parser.add_argument(
        "--latency-ms",
        type=_non_negative_float,
        default=2.0,
        help="simulated latency of each database query, in milliseconds",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the workload")
    parser.add_argument("--threads", type=_positive_int, default=8, help="threads in the stampede")
    parser.add_argument("--tasks", type=_positive_int, default=32, help="concurrent asyncio tasks")
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    progress = _progress if sys.stderr.isatty() else None
    result = run_demo(
        calls=args.calls,
        keys=args.keys,
        latency_ms=args.latency_ms,
        seed=args.seed,
        threads=args.threads,
        tasks=args.tasks,
        progress=progress,
        redis_url=args.redis_url,
    )
    sys.stdout.write(format_report(result))
    return EXIT_OK


def _progress(message: str) -> None:
    print(f"memo demo: {message} ...", file=sys.stderr, flush=True)


# One function per command, each adding its subparser; later: stats, inspect, invalidate,
# warm, flush.
COMMANDS: tuple[Callable[[Commands], None], ...] = (_add_demo,)
