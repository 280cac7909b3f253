"""`memo inspect KEY`: what an L2 entry holds, read from its header, and whether it verifies.

The header (`_codec/envelope.py`) is read without any secret. The signature is checked by decoding
the entry with a codec of the entry's own serializer and the secret given (`--secret` or
`MEMO_SECRET`), exactly as a reader does. The value is printed only with `--value`, and only
when the entry passed every check: a value nothing vouches for is never shown.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pprint
import re
import time
from typing import Any

import memo
from memo._cli.app import EXIT_FAILED, EXIT_OK, CommandError, add_global_options, need_redis
from memo._codec.envelope import CHECKSUM_SIZE, HEADER_SIZE, TAG_SIZE, Codec, Header, Rejected
from memo._codec.typed import PlainReader
from memo._runtime.settings import settings

__all__ = ["add", "parse_key"]

KEY_EXAMPLE = "memo:NAMESPACE:module.function:vVERSION:{32 hex digits}, as f.cache_key(...) gives"
_KEY = re.compile(
    r"^memo:(?P<namespace>[A-Za-z0-9._-]+):(?P<function>[A-Za-z0-9._-]+)"
    r":v(?P<version>[A-Za-z0-9._-]+):\{(?P<digest>[0-9a-f]{32})\}$"
)
_SERIALIZERS = {1: "pickle", 2: "json", 3: "msgpack", 4: "typed json", 5: "typed msgpack"}
_REASONS = {  # Rejected.reason -> what it means, for people
    "magic": "it does not start with memo's magic bytes",
    "truncated": "it is shorter than its header says",
    "version": "it has an entry format version this memo does not read",
    "flags": "its header has flags this memo does not know",
    "serializer": "it was written with another serializer",
    "key": "it was written under another key (moved or copied)",
    "size": "its length does not match its header",
    "signature": "the HMAC tag does not match: another secret, or altered bytes",
    "decompress": "its compressed payload does not inflate",
    "decode": "its payload does not deserialize",
}
_VALUE_LIMIT = 10_000


def add(commands: Any) -> None:
    """Add `memo inspect`."""
    parser = commands.add_parser(
        "inspect",
        help="decode the header of one cache entry in Redis and check its signature",
        description="Read the entry stored at KEY in Redis and print what its header says: "
        "function, version, created and expiry times (UTC) with the remaining TTL, compute "
        "time (delta), size, serializer, compression and signing; then check the entry as a "
        "reader would (HMAC-SHA256 with the secret, key, size, payload) and say whether it "
        "verifies. The value is not printed unless --value is given.",
        epilog="Exit codes: 0 the entry was printed (verified, unsigned, or not checked for "
        "want of a secret), 1 no entry at KEY, not a memo entry, or verification FAILED, "
        "2 bad KEY, no Redis URL. Example: memo --redis-url redis://localhost:6379/0 inspect "
        "'memo:default:app.users.get_user:v1:{0123456789abcdef0123456789abcdef}'",
    )
    add_global_options(parser, default=argparse.SUPPRESS)
    parser.add_argument("key", metavar="KEY", help=f"the Redis key: {KEY_EXAMPLE}")
    parser.add_argument(
        "--secret",
        metavar="S",
        default=None,
        help="the secret the entries are signed with (default: $MEMO_SECRET)",
    )
    parser.add_argument(
        "--value",
        action="store_true",
        help="also print the cached value, if the entry verifies (it may hold personal data)",
    )
    parser.set_defaults(run=run)


def parse_key(key: str) -> dict[str, str]:
    """namespace, function, version and digest of a memo entry's key; CommandError if not."""
    match = _KEY.match(key)
    if match is None:
        raise CommandError(f"{key!r} is not the key of a memo entry: expected {KEY_EXAMPLE}")
    return match.groupdict()


def run(args: argparse.Namespace) -> int:
    """Print the entry at args.key."""

    need_redis(args, "inspect reads an entry stored in Redis")
    parts = parse_key(args.key)
    redis: Any = settings.store.redis  # type: ignore[attr-defined]  # configured with a URL
    generations = (
        f"memo:{parts['namespace']}:generations",
        f"{parts['function']}:v{parts['version']}",
    )
    data, pttl, current = _read(redis, args.key, generations)
    try:
        header = redis.codec.header(data)
    except Rejected as exc:
        raise CommandError(
            f"{args.key} is not a memo entry: {_REASONS.get(exc.reason, exc.reason)} "
            f"({len(data)} bytes)",
            EXIT_FAILED,
        ) from None
    secret = args.secret or os.environ.get("MEMO_SECRET") or None
    verdict, value, ok = _verify(args.key, data, header, secret)
    fields = _fields(args.key, header, parts=parts, size=len(data), pttl=pttl, verdict=verdict)
    fields.insert(7, ("generation", _generation(header.generation, current)))
    if header.soft is not None:
        fields.insert(7, ("soft", f"{_iso(header.soft)} (a hit after it starts a refresh)"))
    for label, text in fields:
        print(f"{label:<12}{text}")
    if args.value:
        print(f"{'value':<12}{_show(value) if ok is True else _withheld(ok)}")
    return EXIT_FAILED if ok is False else EXIT_OK


def _read(redis: Any, key: str, generation: tuple[str, str]) -> tuple[bytes, int | None, int]:
    """The bytes at key, its Redis TTL in ms (None: no TTL) and the current generation of
    its function; exit 1 when missing."""
    try:
        pipe = redis.client.pipeline(transaction=False)
        pipe.execute_command("GET", key)
        pipe.execute_command("PTTL", key)
        pipe.execute_command("HGET", *generation)
        data, pttl, generation = pipe.execute(raise_on_error=False)
    except Exception as exc:  # redis-py's connection and timeout errors
        raise CommandError(f"cannot read Redis {redis.name}: {_text(exc)}", EXIT_FAILED) from exc
    if isinstance(data, Exception):
        if "WRONGTYPE" in str(data):
            raise CommandError(f"{key} holds a Redis set, hash or list, not a memo entry", 1)
        raise CommandError(f"cannot GET {key}: {_text(data)}", EXIT_FAILED)
    if data is None:
        raise CommandError(f"no entry at {key}", EXIT_FAILED)
    current = int(generation) if isinstance(generation, (bytes, str, int)) else 0
    return bytes(data), (int(pttl) if isinstance(pttl, int) and pttl >= 0 else None), current


def _generation(stamped: int, current: int) -> str:
    if stamped < current:
        return f"{stamped} (the function is at {current}: read as a miss, then overwritten)"
    return f"{stamped} (current)"


def _verify(
    key: str, data: bytes, header: Header, secret: str | None
) -> tuple[str, Any, bool | None]:
    """(what the check found, the value if it passed, passed?); None when not checked."""
    name = _SERIALIZERS.get(header.serializer_id)
    if name is None:
        return "not checked (a user serializer wrote it; only its application reads it)", None, None
    if header.signed and secret is None:
        return "not checked: the entry is signed; pass --secret or set MEMO_SECRET", None, None
    if not header.signed and name == "pickle":
        return "FAILED (unsigned pickle: memo never reads such an entry)", None, False
    try:
        codec = _codec(name, header, secret if header.signed else None)
    except memo.ConfigurationError as exc:
        return f"not checked ({exc})", None, None
    try:
        decoded = codec.decode(key, data)
    except Rejected as exc:
        return f"FAILED ({exc.reason}: {_REASONS.get(exc.reason, '')})", None, False
    if header.signed:
        return "verified (HMAC-SHA256, key, size and payload check out)", decoded.value, True
    return "none: unsigned entry (key, size and payload check out)", decoded.value, True


def _codec(name: str, header: Header, secret: str | None) -> Codec:
    """A codec that checks the entry; a typed payload is shown as plain data (no class built)."""
    fmt = name.removeprefix("typed ")
    codec = Codec(fmt, secret)
    if fmt == name:
        return codec
    return codec.retyped(PlainReader(fmt), header.serializer_id, header.serializer_tag)


def _fields(
    key: str, h: Header, *, parts: dict[str, str], size: int, pttl: int | None, verdict: str
) -> list[tuple[str, str]]:
    tag = TAG_SIZE if h.signed else CHECKSUM_SIZE
    serializer = _SERIALIZERS.get(h.serializer_id, f"user serializer (tag {h.serializer_tag:08x})")
    return [
        ("key", key),
        ("namespace", parts["namespace"]),
        ("function", f"{parts['function']} (version {parts['version']})"),
        ("created", f"{_iso(h.created)} ({_ago(time.time() - h.created)})"),
        ("expires", _expiry(h.expires)),
        ("redis ttl", "none" if pttl is None else f"{pttl / 1000:.1f} s"),
        ("delta", f"{h.delta:.6f} s (the compute time, for early refresh)"),
        ("size", f"{size:,} bytes (header {HEADER_SIZE}, payload {h.payload_length:,}, tag {tag})"),
        ("serializer", serializer),
        ("compressed", "yes (zlib)" if h.compressed else "no"),
        ("signed", "yes" if h.signed else "no"),
        ("signature", verdict),
    ]


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ago(seconds: float) -> str:
    return f"{seconds:.1f} s ago" if seconds >= 0 else f"in {-seconds:.1f} s"


def _expiry(expires: float | None) -> str:
    if expires is None:
        return "never (no TTL)"
    left = expires - time.time()
    when = f"in {left:.1f} s" if left > 0 else f"expired {-left:.1f} s ago (kept as stale)"
    return f"{_iso(expires)} ({when})"


def _show(value: Any) -> str:
    text = pprint.pformat(value, width=88, compact=True)
    if len(text) > _VALUE_LIMIT:
        text = text[:_VALUE_LIMIT] + f"... ({len(text):,} characters in all)"
    return text.replace("\n", "\n" + " " * 12)


def _withheld(ok: bool | None) -> str:
    if ok is False:
        return "not shown: the entry did not verify"
    return "not shown: the entry was not checked (pass the secret it is signed with)"


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
