"""The dead-letter stream of a durable writer: list it, replay entries into the writer's stream
once their cause is fixed, or drop them (what `memo dead-letters` does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memo._redis.transport import reply_text
from memo._writes.stream import Stream

__all__ = ["DeadLetter", "drop", "listing", "replay"]

_FIELDS = (b"key", b"version", b"data")  # what a write's stream entry carries


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry of the dead-letter stream: its id, the write's key and version, the error."""

    id: str
    key: str
    version: str
    error: str
    fields: dict[bytes, bytes]

    @property
    def written_at(self) -> float:
        """When it went to the dead-letter stream (seconds since the epoch, from its id)."""
        return int(self.id.partition("-")[0]) / 1000


def listing(stream: Stream, count: int) -> list[DeadLetter]:
    """The oldest `count` dead letters (Redis errors propagate: this is an operator's read)."""
    client = stream.redis.client
    raw = client.execute_command("XRANGE", stream.dead_key, "-", "+", "COUNT", count)
    return [_letter(entry_id, flat) for entry_id, flat in raw or ()]


def replay(stream: Stream, ids: Sequence[str]) -> int:
    """Append each dead letter's write to the writer's stream again, then remove it from the
    dead-letter stream; how many. At least once: a crash between the two steps replays twice,
    which an upsert by version absorbs."""
    client = stream.redis.client
    moved = 0
    for entry_id in ids:
        found = client.execute_command("XRANGE", stream.dead_key, entry_id, entry_id)
        if not found:
            continue
        letter = _letter(*found[0])
        fields = [
            part
            for name in _FIELDS
            if name in letter.fields
            for part in (name, letter.fields[name])
        ]
        client.execute_command("XADD", stream.key, "*", *fields)
        client.execute_command("XDEL", stream.dead_key, entry_id)
        moved += 1
    return moved


def drop(stream: Stream, ids: Sequence[str]) -> int:
    """Remove dead letters for good; how many."""
    if not ids:
        return 0
    return int(stream.redis.client.execute_command("XDEL", stream.dead_key, *ids))


def _letter(entry_id: Any, flat: Any) -> DeadLetter:
    # redis-py parses XRANGE's field list into a dict; a raw reply is a flat list
    fields = dict(flat) if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
    text = {
        name: fields.get(name, b"").decode("utf-8", "replace")
        for name in (b"key", b"version", b"error")
    }
    return DeadLetter(reply_text(entry_id), text[b"key"], text[b"version"], text[b"error"], fields)
