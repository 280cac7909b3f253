"""`memo invalidate`: remove one call's entry, or every entry with a tag, in every process.

The function is imported (MODULE:FUNCTION) after memo is configured with the Redis URL, so its
`.invalidate(...)` deletes the shared entry and every process's L1 copy through the events
channel, as the same call in the application would. An in-process cache of the CLI's own
process is empty, so without a Redis tier the command refuses rather than do nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import memo
from memo._cli.app import (
    EXIT_OK,
    FUNCTION_EXAMPLE,
    CommandError,
    add_global_options,
    add_namespace_option,
    call_arguments,
    load_function,
    need_redis,
    parse_json,
    reaches_redis,
    redis_must_answer,
)
from memo._runtime.settings import settings
from memo._writes.stream import redis_of

__all__ = ["add"]

ARGS_EXAMPLE = "'[42]' or '{\"user_id\": 42}' for get_user(42)"
_WHY = (
    "invalidate removes entries other processes share through Redis; the in-process cache "
    "of this command's own process is empty"
)


def add(commands: Any) -> None:
    """Add `memo invalidate`."""
    parser = commands.add_parser(
        "invalidate",
        help="remove a call's cached entry (or every entry with a tag) in every process",
        description="Import MODULE:FUNCTION, a function decorated with @memo.cached, and "
        "remove the entry of the call ARGS_JSON describes, from Redis and from every "
        "process's L1; or, with --tag, remove every entry stored with that tag. Needs the "
        "Redis tier the application uses (--redis-url, --namespace).",
        epilog="ARGS_JSON: a JSON array is the positional arguments ('[42, \"eu\"]'), an "
        "object the keyword arguments ('{\"user_id\": 42}'), any other JSON value the one "
        "argument ('42'); omitted, the call without arguments. Keys are type-exact: 42 and "
        '"42" are different calls. Exit codes: 0 done (whether or not an entry was there), '
        "1 Redis failed, 2 bad arguments, module or function, or no Redis tier. Examples: "
        "memo invalidate app.users:get_user '[42]'; memo invalidate --tag user:42",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    add_namespace_option(parser)
    parser.add_argument(
        "function",
        metavar="MODULE:FUNCTION",
        nargs="?",
        help=f"the cached function ({FUNCTION_EXAMPLE})",
    )
    parser.add_argument(
        "arguments",
        metavar="ARGS_JSON",
        nargs="?",
        help="the call's arguments as JSON (see below)",
    )
    parser.add_argument(
        "--tag",
        metavar="TAG",
        help="remove every entry stored with this tag (as rendered from tags=, e.g. user:42)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Invalidate one call, or a tag."""
    if args.tag is not None:
        if args.function is not None:
            raise CommandError(
                "give MODULE:FUNCTION [ARGS_JSON] or --tag TAG, not both; e.g. "
                "memo invalidate --tag user:42"
            )
        return _invalidate_tag(args)
    if args.function is None:
        raise CommandError(
            "say what to invalidate: MODULE:FUNCTION [ARGS_JSON] or --tag TAG; e.g. "
            "memo invalidate app.users:get_user '[42]'"
        )
    return _invalidate_call(args)


def _invalidate_call(args: argparse.Namespace) -> int:
    call: Any = (
        [] if args.arguments is None else parse_json(args.arguments, "ARGS_JSON", ARGS_EXAMPLE)
    )
    positional, keywords = call_arguments(call)
    function, core = load_function(args.function, args)
    if not reaches_redis(core):
        need_redis(args, _WHY)  # no URL: say to pass one
        raise CommandError(f"{args.function} uses an in-process store only; {_WHY}")
    try:
        key = function.cache_key(*positional, **keywords)
        with redis_must_answer(core.store, f"the invalidation of {key}"):
            removed = function.invalidate(*positional, **keywords)
            if core.is_async:
                removed = asyncio.run(removed)
    except memo.KeyBuildError:
        raise  # its message names the parameter and the way out
    except TypeError as exc:
        raise CommandError(
            f"ARGS_JSON does not fit {core.plan.name}: {exc}; for example {ARGS_EXAMPLE}"
        ) from None
    print(f"{'removed' if removed else 'no entry at'} {key}")
    return EXIT_OK


def _invalidate_tag(args: argparse.Namespace) -> int:

    need_redis(args, _WHY)
    with redis_must_answer(settings.store, f"the invalidation of tag {args.tag!r}"):
        removed = memo.invalidate_tag(args.tag)
    where = redis_of(settings.store)
    place = f"namespace {settings.namespace!r} on {where.name if where else 'no Redis'}"
    print(
        f"removed {removed:,} entr{'y' if removed == 1 else 'ies'} tagged {args.tag!r} in {place}"
    )
    return EXIT_OK
