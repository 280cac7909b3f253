"""Durable write-behind delivery: a batch read from the stream, coalesced per key, handed to
`flush`, and the entries that cannot be delivered moved to the dead-letter stream."""

from __future__ import annotations

import logging

from memo._errors import MemoError
from memo._writes.delivery import Delivery, Options, Record
from memo._writes.queue import FlusherStats, MemoryQueue
from memo._writes.stream import Entry, Stream

__all__ = ["StreamDelivery", "coalesce"]

log = logging.getLogger("memo")


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

    def deliver(self, stream: Stream, entries: list[Entry]) -> None:
        limit = self.options.max_attempts
        doomed = [e for e in entries if e.write is None or e.deliveries > limit]
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

    def bury_entry(self, stream: Stream, entry: Entry) -> None:
        if entry.write is None:
            reason = f"rejected by the codec ({entry.reason})"
            self.stats.dead += 1
            stream.bury([entry.id], entry.fields, reason)
            log.error("memo: write-behind of %s: entry %s %s", self.display, entry.id, reason)
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
            "memo: write-behind of %s: dead-lettered %s to %s (%r)",
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
