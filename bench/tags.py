"""Suite `tags`: `invalidate_tag` over 1k, 10k and 100k members, against raw pipelined DELs.

A tag's set is filled with N entries (bytes written at the bytes level, as memo's own batch
writes do: entry, tag set), then `RedisStore.delete_tag` (what `memo.invalidate_tag` runs per
store) removes them; the same N keys are then filled again and removed with raw redis-py
pipelines of `DEL`, 1,000 a pipeline. Both run on a private redis-server and on a private
3-master Redis Cluster, alternated `repeats` times (best and worst reported). Round trips are
the requests memo's executor sent (a pipeline counts once; on a cluster a pipeline goes to
each node it touches, in one write each); commands come from `INFO commandstats`, summed
over the nodes. memo does more than the raw DELs: it also deletes each entry's lease (the
fence of a compute in flight), empties the set and tells every process (one event per chunk
of 1,000, one for the tag).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import memo
from bench._report import SuiteResult, Table
from bench._settings import Settings
from memo._redis._sync import executor

__all__ = ["run"]

SIZES = (1_000, 10_000, 100_000)
FILL_CHUNK = 2_000
RAW_CHUNK = 1_000
PAYLOAD = b"x" * 64


@dataclass
class Case:
    """One size on one topology: seconds (best, worst) and the costs of one run."""

    topology: str
    size: int
    memo_s: list[float]
    raw_s: list[float]
    memo_trips: int
    raw_trips: int
    memo_commands: int
    raw_commands: int
    removed: int

    def as_dict(self) -> dict[str, Any]:
        """The numbers for --json."""
        return dict(self.__dict__)


@contextmanager
def _counting() -> Iterator[list[int]]:
    """Count the requests memo's sync executor sends (each is one round trip)."""
    sent = [0]
    original = executor.send_sync

    def counted(client: Any, request: Any) -> Any:
        sent[0] += 1
        return original(client, request)

    executor.send_sync = counted  # type: ignore[assignment]
    try:
        yield sent
    finally:
        executor.send_sync = original  # type: ignore[assignment]


def _commands(nodes: list[Any]) -> int:
    from bench.l2_hit import command_stats

    return sum(
        calls for node in nodes for name, calls in command_stats(node).items() if name != "info"
    )


def _fill(store: memo.RedisStore, namespace: str, tag: str, size: int) -> list[str]:
    """size entries tagged tag; their Redis keys."""
    prefix = f"memo:{namespace}:bench.tags.profile:v1:"
    remotes = [f"{prefix}{{{uuid.uuid4().hex}}}" for _ in range(size)]
    for start in range(0, size, FILL_CHUNK):
        chunk = remotes[start : start + FILL_CHUNK]
        store.backend.set_many([(remote, PAYLOAD, 600_000, (tag,)) for remote in chunk])
    return remotes


def _raw_delete(client: Any, remotes: list[str]) -> int:
    """DEL every key, RAW_CHUNK per pipeline; the pipelines sent."""
    trips = 0
    for start in range(0, len(remotes), RAW_CHUNK):
        pipe = client.pipeline(transaction=False)
        for remote in remotes[start : start + RAW_CHUNK]:
            pipe.delete(remote)
        pipe.execute()
        trips += 1
    return trips


def _case(topology: str, url: str, nodes: list[Any], size: int, repeats: int) -> Case:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    store = memo.RedisStore(url, namespace=namespace, socket_timeout=30.0)
    client = store.backend.client
    case = Case(topology, size, [], [], 0, 0, 0, 0, 0)
    try:
        for _ in range(repeats):
            tag = f"user:{uuid.uuid4().hex[:6]}"
            _fill(store, namespace, tag, size)
            before = _commands(nodes)
            with _counting() as sent:
                start = time.perf_counter()
                case.removed = store.delete_tag(tag)
                case.memo_s.append(time.perf_counter() - start)
            case.memo_commands = _commands(nodes) - before
            case.memo_trips = sent[0]
            remotes = _fill(store, namespace, tag, size)
            before = _commands(nodes)
            start = time.perf_counter()
            case.raw_trips = _raw_delete(client, remotes)
            case.raw_s.append(time.perf_counter() - start)
            case.raw_commands = _commands(nodes) - before
            client.delete(store.backend.tag_key(tag))
    finally:
        store.close()
    return case


def run(settings: Settings) -> SuiteResult:
    """Every size on one server, then on a 3-master cluster."""
    from bench.l2_hit import redis_server
    from tests.support.redis_servers import RedisCluster

    repeats = 1 if settings.quick else min(settings.repeats, 3)  # 100k fills take a while
    sizes = SIZES[:2] if settings.quick else SIZES
    cases: list[Case] = []
    with redis_server() as server:
        cases += [_case("server", server.url, [server], n, repeats) for n in sizes]
    cluster = RedisCluster(masters=3).start()
    try:
        nodes = list(cluster.nodes)
        cases += [_case("cluster", cluster.seeds_url, nodes, n, repeats) for n in sizes]
    finally:
        cluster.stop()
    return SuiteResult([_table(cases, repeats)], {"cases": [c.as_dict() for c in cases]})


def _table(cases: list[Case], repeats: int) -> Table:
    header = [
        "topology / members",
        "memo ms (best-worst)",
        "raw DEL ms",
        "memo/raw",
        "memo trips",
        "raw trips",
        "memo cmds",
        "raw cmds",
    ]
    rows = []
    for c in cases:
        rows.append(
            [
                f"{c.topology} / {c.size:,}",
                f"{min(c.memo_s) * 1e3:,.0f}-{max(c.memo_s) * 1e3:,.0f}",
                f"{min(c.raw_s) * 1e3:,.0f}-{max(c.raw_s) * 1e3:,.0f}",
                f"{min(c.memo_s) / min(c.raw_s):.2f}x",
                str(c.memo_trips),
                str(c.raw_trips),
                f"{c.memo_commands:,}",
                f"{c.raw_commands:,}",
            ]
        )
    table = Table("invalidate_tag vs raw pipelined DELs of the same keys", header, rows)
    table.notes = [
        f"{repeats} alternated runs per row; memo/raw compares the best runs",
        "trips: requests sent, a pipeline counting once (memo's executor; raw: pipelines "
        "of 1,000 DELs); cmds: INFO commandstats over every node, scripts counted with the "
        "commands they ran",
        "memo also deletes each entry's lease, empties the tag's set and publishes one eviction "
        "event per 1,000 members (on a cluster: one UNLINK of entry and lease per member)",
    ]
    return table
