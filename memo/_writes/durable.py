"""Durable write-behind delivery: a batch read from the stream, coalesced per key, handed to
`flush`, and the entries that cannot be delivered moved to the dead-letter stream.

An entry this process cannot verify (signed with a secret it does not hold, as during a
rotation, or altered) is not its to judge: it stays pending, and after the visibility timeout
any consumer may claim it, one that holds the secret included. Only an entry that nobody
verified for `UNVERIFIED_GRACE` seconds after it was written is dead-lettered, and then
through the `dead_letter` callback like any other.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from memo._errors import MemoError
from memo._writes.delivery import Delivery, Options, Record
from memo._writes.queue import FlusherStats, MemoryQueue, Write
from memo._writes.stream import Entry, Stream

__all__ = ["StreamDelivery", "coalesce"]

log = logging.getLogger("memo")

UNVERIFIED_GRACE = 3600.0  # seconds: far longer than a rolling deploy that rotates a secret
_LEFT_KEPT = 1_000  # ids of entries left for other consumers that a drain may look past


class StreamDelivery:
    """Delivers one writer's stream entries; counts the records in flight in this process."""

    def __init__(
        self,
        display: str,
        options: Options,
        stats: FlusherStats,
        delivery: Delivery,
        queue: MemoryQueue,
    ) -> None:
        self.display = display
        self.options = options
        self.stats = stats
        self.delivery = delivery
        self.queue = queue
        self.in_flight = 0  # stream records being delivered by this process
        self.unverified_grace = UNVERIFIED_GRACE
        self.left: OrderedDict[str, None] = OrderedDict()  # unverifiable here, left pending

    def deliver(self, stream: Stream, entries: list[Entry]) -> None:
        limit = self.options.max_attempts
        overdue = self._unverified_overdue(entries)
        doomed = overdue + [e for e in entries if e.write is not None and e.deliveries > limit]
        records = coalesce([e for e in entries if e.write is not None and e.deliveries <= limit])
        with self.queue.cond:
            self.in_flight += len(records)
        try:
            ids = [i for r in records for i in r.ids]
            ok: list[Record] = []
            dead: list[tuple[Record, BaseException]] = []
            if records:
                with stream.keep_claimed(ids, self.options.visibility):
                    ok, dead = self.delivery.deliver(records)
            for entry in doomed:
                self.bury_entry(stream, entry)
            for record, exc in dead:
                self.bury_record(stream, record, exc)
            stream.settle([i for r in ok for i in r.ids])
            self.stats.delivered += len(ok)
        finally:
            with self.queue.cond:
                self.in_flight -= len(records)
                self.queue.cond.notify_all()

    def _unverified_overdue(self, entries: list[Entry]) -> list[Entry]:
        """Entries this process cannot verify: left pending for a consumer that can, except
        those nobody verified within the grace period (returned, to be dead-lettered)."""
        now_ms = time.time() * 1000
        overdue = []
        for entry in entries:
            if entry.write is not None:
                continue
            if now_ms - _written_ms(entry.id) >= self.unverified_grace * 1000:
                overdue.append(entry)
                self.left.pop(entry.id, None)
                continue
            known = entry.id in self.left
            self.left[entry.id] = None
            if len(self.left) > _LEFT_KEPT:
                self.left.popitem(last=False)
            if known:
                continue  # claimed back after the visibility timeout: said once already
            log.warning(
                "write-behind of %s: entry %s cannot be verified here (%s); left for a "
                "consumer that holds its secret",
                self.display,
                entry.id,
                entry.reason,
            )
        return overdue

    def bury_entry(self, stream: Stream, entry: Entry) -> None:
        if entry.write is None:
            exc = MemoError(
                f"no consumer verified it within {self.unverified_grace:g} s of its write "
                f"({entry.reason}): signed with a secret no consumer holds, or altered"
            )
            unread = Write(_text(entry.fields.get(b"key", b"")), {}, None, _version(entry))
            self.bury_record(stream, Record(unread, (entry.id,), entry.fields), exc)
            return
        exc = MemoError(
            f"delivered {entry.deliveries} times without being acknowledged (its consumers "
            "died or hung while flushing it)"
        )
        self.bury_record(stream, Record(entry.write, (entry.id,), entry.fields), exc)

    def bury_record(self, stream: Stream, record: Record, exc: BaseException) -> None:
        self.stats.dead += 1
        stream.bury(record.ids, record.fields, repr(exc))
        log.error(
            "write-behind of %s: dead-lettered %s to %s (%r)",
            self.display,
            record.write.key,
            stream.dead_key,
            exc,
        )
        self.delivery.alert([record.write], exc)


def coalesce(entries: list[Entry]) -> list[Record]:
    """One record per key: the highest version wins; it settles every entry of its key."""
    records: dict[str, Record] = {}
    for entry in entries:
        write = entry.write
        assert write is not None
        held = records.get(write.key)
        if held is None:
            records[write.key] = Record(write, (entry.id,), entry.fields)
        elif write.version > held.write.version:
            records[write.key] = Record(write, (*held.ids, entry.id), entry.fields)
        else:
            held.ids = (*held.ids, entry.id)
    return list(records.values())


def _written_ms(entry_id: str) -> float:
    """When a stream entry was added: the milliseconds part of its id."""
    try:
        return float(entry_id.partition("-")[0])
    except ValueError:
        return 0.0


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _version(entry: Entry) -> int:
    raw = entry.fields.get(b"version", b"0")
    return int(raw) if raw.isdigit() else 0
