"""`memo dead-letters`: list a durable write-behind writer's dead letters, replay or drop them.

A write goes to the dead-letter stream `memo:{ns}:wb:{writer}:dead` when `flush` refused it
`max_attempts` times, when its consumers kept dying with it, or when no consumer could verify
it within the grace period. Once the cause is fixed (the sink is back, the secret is
deployed), `replay` puts the writes back into the writer's stream, where the flushers deliver
them; `drop` removes them for good.
"""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from memo._cli.app import (
    EXIT_OK,
    CommandError,
    add_global_options,
    add_namespace_option,
    check_flags_apply,
    need_redis,
    positive_int,
    redis_must_answer,
    resolve,
)
from memo._strategies.write_behind import WriteBehind
from memo._writes import dead
from memo._writes.stream import Stream

__all__ = ["add"]

WRITER_EXAMPLE = "e.g. 'app.users:update_user' for a @memo.write_behind writer in app/users.py"


def add(commands: Any) -> None:
    """Add `memo dead-letters`."""
    parser = commands.add_parser(
        "dead-letters",
        help="list a write-behind writer's dead letters, or replay or drop them",
        description="Work on the dead-letter stream of a durable @memo.write_behind writer "
        "(Redis mode): list its entries, replay them into the writer's stream once the cause "
        "is fixed (its flushers then deliver them), or drop them.",
        epilog="Exit codes: 0 done, 1 Redis failed, 2 bad arguments or no Redis tier. "
        "Examples: memo --redis-url redis://localhost:6379/0 dead-letters list "
        "app.users:update_user; ... dead-letters replay app.users:update_user --all",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    add_namespace_option(parser)
    parser.add_argument("action", choices=("list", "replay", "drop"), help="what to do")
    parser.add_argument("writer", metavar="MODULE:WRITER", help=f"the writer ({WRITER_EXAMPLE})")
    parser.add_argument(
        "--id", dest="ids", metavar="ID", action="append", default=[], help="one entry; repeatable"
    )
    parser.add_argument("--all", action="store_true", help="replay or drop every entry")
    parser.add_argument(
        "--count",
        type=positive_int,
        default=1000,
        help="list, or with --all act on, at most this many (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="list as JSON lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List, replay or drop."""
    need_redis(args, "dead letters live in Redis, beside the writer's stream")
    stream = _stream(args)
    with redis_must_answer(stream.redis, f"dead-letters {args.action} of {args.writer}"):
        if args.action == "list":
            return _list(stream, args)
        ids = _chosen(stream, args)
        done = dead.replay(stream, ids) if args.action == "replay" else dead.drop(stream, ids)
    entries = f"{done:,} entr{'y' if done == 1 else 'ies'}"
    if args.action == "replay":
        print(f"replayed {entries} from {stream.dead_key} into {stream.key}")
    else:
        print(f"dropped {entries} from {stream.dead_key}")
    return EXIT_OK


def _stream(args: argparse.Namespace) -> Stream:
    writer = resolve(args.writer)
    if not isinstance(writer, WriteBehind):
        raise CommandError(
            f"{args.writer} is a {type(writer).__name__}, not a @memo.write_behind writer "
            f"({WRITER_EXAMPLE})"
        )
    flusher = writer._self_flusher
    check_flags_apply(args.writer, args, flusher.core)
    stream = flusher.stream()
    if stream is None:
        raise CommandError(
            f"{args.writer} runs in memory mode here (its reader's store has no Redis tier): "
            "its dead letters are in its process's `.dead_letters`"
        )
    return stream


def _chosen(stream: Stream, args: argparse.Namespace) -> list[str]:
    if bool(args.ids) == bool(args.all):
        raise CommandError(f"{args.action} needs --id ID (repeatable) or --all, not both")
    return list(args.ids) or [letter.id for letter in dead.listing(stream, args.count)]


def _list(stream: Stream, args: argparse.Namespace) -> int:
    letters = dead.listing(stream, args.count)
    for letter in letters:
        when = datetime.datetime.fromtimestamp(letter.written_at, datetime.timezone.utc)
        row = {
            "id": letter.id,
            "dead_since": when.isoformat(timespec="seconds"),
            "key": letter.key,
            "version": letter.version,
            "error": letter.error,
        }
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(
                f"{row['id']}  {row['dead_since']}  {letter.key}  v{letter.version}  {letter.error}"
            )
    if not args.json:
        print(f"{len(letters):,} dead letter(s) in {stream.dead_key}")
    return EXIT_OK
