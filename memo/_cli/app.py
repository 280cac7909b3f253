"""The `memo` command line (`python -m memo`, or the `memo` script).

Each command lives in `memo/_cli/<name>.py` as an `add(commands)` function that adds its
subparser and sets `run` to the function carrying it out; `COMMANDS` names those modules, in
the order `memo --help` lists them. They are imported when the parser is built, so
`import memo._cli.app` stays light. Errors go to stderr as `memo: error: ...`: exit code 2 for
usage and configuration (as argparse reports its own), 1 when a command ran and failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import memo
from memo._redis.client import parse_url
from memo._runtime.handles import Handles
from memo._runtime.settings import settings
from memo._writes.stream import redis_of

if TYPE_CHECKING:
    from memo._runtime.core import Core

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS = ("demo", "stats", "inspect", "invalidate", "warm", "flush", "dead-letters")
"""The commands, each carried by `memo._cli.<name>.add` (`-` in a name is `_` there)."""


class CommandError(Exception):
    """A command cannot go on: printed as `memo: error: <message>`, exit with `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def main(argv: list[str] | None = None) -> int:
    """Run the command line with argv (default: `sys.argv[1:]`) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse printed them
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else 1
    try:
        with _not_publishing_stats():
            args.redis_url = _configure(args)
            run: Callable[[argparse.Namespace], int] = args.run
            return run(args)
    except CommandError as exc:
        print(f"memo: error: {exc}", file=sys.stderr)
        return exc.code
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
        epilog="Run 'memo COMMAND --help' for a command's options. Exit codes: 0 done, "
        "1 the command ran and failed (see its help), 2 usage or configuration error.",
    )
    parser.add_argument("--version", action="version", version=f"memo {memo.__version__}")
    add_global_options(parser, default=None)
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for name in COMMANDS:
        module = importlib.import_module(f"memo._cli.{name.replace('-', '_')}")
        module.add(commands)
    return parser


def add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Options accepted before and after the command (`memo --redis-url U demo` or after)."""
    # Subparsers get SUPPRESS as default so they never overwrite a value given before.
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        default=default,
        help="Redis URL of the shared L2 tier (default: $MEMO_REDIS_URL); without one, "
        "memo uses the in-process L1 tier only",
    )


def add_namespace_option(parser: argparse.ArgumentParser) -> None:
    """`--namespace NS`: the namespace memo is configured with (that of the application)."""
    parser.add_argument(
        "--namespace",
        metavar="NS",
        default=None,
        help="the namespace the application passes to memo.configure() (default: default)",
    )


@contextlib.contextmanager
def _not_publishing_stats() -> Iterator[None]:
    """A command is not part of the application's fleet: configure() (ours, or one in a module
    the command imports) must not publish this process's counters for `memo stats`."""
    previous = os.environ.get(_STATS_INTERVAL)
    os.environ[_STATS_INTERVAL] = "0"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_STATS_INTERVAL, None)
        else:
            os.environ[_STATS_INTERVAL] = previous


_STATS_INTERVAL = "MEMO_STATS_INTERVAL"


def _configure(args: argparse.Namespace) -> str | None:
    """Apply the global options to memo's configuration; the Redis URL in use, if any."""
    url = getattr(args, "redis_url", None) or os.environ.get("MEMO_REDIS_URL") or None
    namespace = getattr(args, "namespace", None) or "default"  # None: not given
    if url is not None:  # ConfigurationError for a URL or namespace memo cannot use
        memo.configure(redis_url=url, namespace=namespace, secret=getattr(args, "secret", None))
    elif namespace != "default":
        memo.configure(namespace=namespace)
    return url


def need_redis(args: argparse.Namespace, why: str) -> str:
    """The Redis URL; without one, a usage error saying why the command needs it."""
    if args.redis_url is None:
        raise CommandError(
            f"{why}; pass --redis-url redis://HOST:6379/0 (or set MEMO_REDIS_URL), the Redis "
            "your application uses"
        )
    url: str = args.redis_url
    return url


# -- argument types ----------------------------------------------------------------------


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number, 0 or more")
    return value


# -- MODULE:FUNCTION and JSON arguments ----------------------------------------------------

FUNCTION_EXAMPLE = "e.g. 'app.users:get_user' for get_user in app/users.py"


def import_module(name: str) -> Any:
    """Import a user's module, looking in the current directory first (as `python -m` does)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise CommandError(
                f"cannot import module {name!r}: no module named {exc.name!r} (memo looks in "
                "the current directory and on PYTHONPATH)"
            ) from exc
        raise CommandError(f"importing module {name!r} failed: {_described(exc)}") from exc
    except memo.MemoError:
        raise
    except (Exception, SystemExit) as exc:  # the user's module failed: say so, do not crash
        raise CommandError(f"importing module {name!r} failed: {_described(exc)}") from exc


def resolve(spec: str) -> Any:
    """The object MODULE:NAME names (NAME may be dotted: Class.method)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise CommandError(f"{spec!r} is not MODULE:FUNCTION ({FUNCTION_EXAMPLE})")
    target: Any = import_module(module_name)
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CommandError(
                f"module {module_name!r} has no {attribute!r} ({FUNCTION_EXAMPLE})"
            ) from None
    return target


def load_function(spec: str, args: argparse.Namespace | None = None) -> tuple[Any, Core]:
    """The memo-decorated function named by MODULE:FUNCTION, and its runtime core.

    With args, the function must use the Redis and namespace the command's flags name: a
    module that configures memo itself at import (or a function with its own store=) must
    not turn the command onto another server or namespace without saying so.
    """
    target = resolve(spec)
    handles = getattr(target, "_memo_handles", target)  # a plain function carries them
    if not isinstance(handles, Handles):
        raise CommandError(
            f"{spec} is a {type(target).__name__}, not a memo-cached function: decorate it "
            "with @memo.cached or @memo.refresh_ahead (write-through and write-behind writers "
            "have no cache of their own; name their reader)"
        )
    core = handles._memo_core()
    if args is not None:
        check_flags_apply(spec, args, core)
    return target, core


def check_flags_apply(spec: str, args: argparse.Namespace, core: Core) -> None:
    url = getattr(args, "redis_url", None) or os.environ.get("MEMO_REDIS_URL") or None
    namespace = getattr(args, "namespace", None)
    redis = redis_of(core.store)
    if url is None and namespace is None:
        return  # no flags: the module's own configuration is what the command acts on
    wanted_server = parse_url(url).name if url is not None else None
    server = redis.name if redis is not None else "no Redis (an in-process store)"
    used_namespace = redis.namespace if redis is not None else settings.namespace
    if (wanted_server is not None and wanted_server != server) or (
        namespace is not None and namespace != used_namespace
    ):
        raise CommandError(
            f"{spec} uses {server}, namespace {used_namespace!r}, not what the command was "
            f"given ({wanted_server or 'the same Redis'}, namespace "
            f"{namespace or used_namespace!r}): its module configures memo itself at import, "
            "or the function has its own store=. Pass the --redis-url and --namespace the "
            "application uses, or leave both out to act on the module's own configuration."
        )


def reaches_redis(core: Core) -> bool:
    """Whether a decorated function's store has a Redis tier (so other processes see it)."""

    return redis_of(core.store) is not None


@contextlib.contextmanager
def redis_must_answer(store: Any, what: str) -> Iterator[None]:
    """Run a block against store's Redis tier, which must answer throughout: memo swallows
    Redis errors (the cache fails open), but a command whose whole point is Redis must not
    report success when Redis was not reached. PING first, then count the store's errors."""

    redis = redis_of(store)
    if redis is None:
        yield
        return
    try:
        redis.client.execute_command("PING")
    except Exception as exc:  # redis-py's connection, timeout and auth errors
        raise CommandError(
            f"cannot reach Redis {redis.name}: {_described(exc)}", EXIT_FAILED
        ) from exc
    before = redis.errors
    yield
    failed = redis.errors - before
    if failed or redis.breaker.is_open:
        raise CommandError(
            f"Redis {redis.name} failed {failed or 'some'} time(s) during {what}: it may not "
            "be complete; run the command again",
            EXIT_FAILED,
        )


def call_arguments(value: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A JSON array is positional arguments, an object keyword arguments, else one argument."""
    if isinstance(value, list):
        return tuple(value), {}
    if isinstance(value, dict):
        return (), value
    return (value,), {}


def parse_json(text: str, what: str, example: str) -> Any:
    """json.loads(text), or a usage error naming `what`, the problem and an example."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what} is not valid JSON ({exc}); for example: {example}") from None


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
