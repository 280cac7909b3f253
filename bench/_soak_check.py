"""The soak checker: holds the recorded history to memo's contract.

Rules (each breach is one violation line):

1. No op recorded an exception (memo is fail-safe: nothing reaches a caller).
2. Staleness. A read of key k that returned version v and started at s is stale by
   ``s - e`` where e is the end of the first completed write of k with a version above v
   (writes of one key are sequential, see `bench._soak_worker`). The bounds:

   - ``get``/``aget`` (invalidated on every write, in every process):
     ``L1_TTL + max_outage + REPLAY_LAG``. A process's L1 may keep an entry for l1_ttl after
     the event that should have evicted it was lost; an invalidation made while Redis was
     unreachable reaches L2 only when the writer's breaker closes and it replays (the
     breaker probes every 0.25 s), so a reader right after an outage may see the old L2 entry:
     the outage's length (measured from the nemesis log) plus REPLAY_LAG (probe period,
     replay thread, scheduling on a loaded box). The two cannot add up beyond their sum.
   - writes by a process that was SIGKILLed afterwards: its not-yet-replayed invalidations
     die with it (they live in its memory), so only the entry TTL bounds them:
     ``READ_TTL + L1_TTL + REPLAY_LAG``.
   - ``hot`` (refresh-ahead, never invalidated): ``HOT_TTL + L1_TTL + REPLAY_LAG``.
   - The re-entrant ``rget``/``arget`` and the tagged ``tget`` are held to the get/aget
     bound: a tag whose set a squatter replaced is still invalidated (memo repairs it), and
     a squatted lease or generations hash changes nothing either.
   - The idle invalidator's writes (``"idle": true``, `bench._soak_idle`): made while Redis
     hangs, by a process that never calls memo again. Its invalidation completes when Redis
     is back (the nemesis's ``back``); from then on ``IDLE_BOUND + REPLAY_LAG``.
   - Cluster (``master_kill``): writes ending from FAULT_MARGIN before a master's SIGKILL
     until its replica is promoted may be lost by asynchronous replication, deletes
     included: the entry TTL bounds them (``READ_TTL + L1_TTL + REPLAY_LAG``), as in
     tests/test_failover.py. The window is not narrowed to the killed master's slots.

3. Write-behind sink. For each key: the sink's version must be at least the last write
   that was acknowledged durably, i.e. every write of a process that was never killed
   (memo.flush at the end delivers its memory queue too), and the writes of a killed process
   that ran entirely outside every Redis fault window widened by FAULT_MARGIN (then its XADD
   succeeded; Redis runs with an append-only file, so a restarted server keeps the stream).
   A write made during an outage sits in the killed process's memory and may be lost: the
   documented contract only covers acknowledged (XADDed) writes. When the last write of a
   key came from a process never killed, the sink must equal it exactly. A gracefully
   restarted process (the secret rotation: SIGTERM, memo.flush, exit) is never killed. In a
   Cluster, a write-behind write near a master's kill is not counted as acknowledged (Redis
   Cluster may lose an acknowledged XADD on failover).
4. Re-entry: a re-entrant call (``rget``/``arget`` calling itself with the same key) that
   waited on itself would take REENTRY_LOCK_TIMEOUT (60 s); one may wait for another
   holder's lease, so the bound is the longest outage + REENTRY_SLACK.
5. Resources: per process, the maximum RSS is at most 2x the first sample after WARMUP
   seconds plus 64 MiB, and the maximum number of open fds at most 2x plus 32.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench._soak_functions import HOT_TTL, L1_TTL, READ_TTL
from bench._soak_idle import IDLE_BOUND

REPLAY_LAG = 1.5
FAULT_MARGIN = 2.0
# A re-entrant call that waited on its own lease would wait REENTRY_LOCK_TIMEOUT (20 s); a
# call may legitimately wait for another holder's lease: LEASE_TTL (a dead holder's lease
# expires), one more wait slice, scheduling
LEASE_TTL = 5.0
REENTRY_SLACK = LEASE_TTL + 1.0 + 2.0
WARMUP = 5.0
RSS_SLACK = 64 << 20
FD_SLACK = 32
# the source row each op reads or writes: r:K (get, aget, the re-entrant rget/arget, hot and
# their writers) or t:K (the tagged tget, invalidated by tag only)
READS = {"get": "r", "aget": "r", "rget": "r", "arget": "r", "hot": "r", "tget": "t"}
WRITES = {"put": "r", "aput": "r", "drop": "r", "adrop": "r", "tput": "t", "atput": "t"}
REENTRANT = ("rget", "arget")
# memo.invalidate_tag used not to fence a compute in flight (see _tag_race); fixed (a tagged
# miss joins its tags' sets before it takes its lease), so every stale tget read is a
# violation again. Set True only to count such reads apart (tag_races) while diagnosing.
TAG_RACE_KNOWN = False
# memo's re-entry check used to compare L1 keys, which carry the function's token, so a
# generation move between the outer and the inner call made the inner call wait on its own
# lease; fixed (flights also remember a call without its token), so such a wait is a
# violation again. Set True only to count them apart (reentry_waits) while diagnosing.
REENTRY_TOKEN_KNOWN = False
MOVES = ("squat_tag", "squat_generations")
WB_WRITES = ("wb", "awb")
REDIS_FAULTS = ("redis_kill", "redis_stop", "proxy_flap", "proxy_drop", "idle_invalidate")


@dataclass
class Verdict:
    """What the checker found."""

    violations: list[str] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    bounds: dict[str, float] = field(default_factory=dict)
    max_staleness: dict[str, float] = field(default_factory=dict)
    stale_reads: int = 0
    sink_keys: int = 0
    sink_exact: int = 0
    max_rss: int = 0
    max_fds: int = 0
    max_reentry: float = 0.0
    tag_races: int = 0
    reentry_waits: int = 0
    notes: list[str] = field(default_factory=list)
    flushed: list[bool] = field(default_factory=list)


def _add(verdict: Verdict, message: str, limit: int = 50) -> None:
    if len(verdict.violations) < limit:
        verdict.violations.append(message)
    elif len(verdict.violations) == limit:
        verdict.violations.append("... (more violations left out)")


def check(
    history: list[dict[str, Any]],
    nemesis: list[dict[str, Any]],
    sink: dict[int, int],
    *,
    mode: str = "plain",
) -> Verdict:
    """Check the history (every process's records) against the rules above."""
    verdict = Verdict()
    killed = {int(event["pid"]) for event in nemesis if event["kind"] == "worker_kill"}
    faults = [(e["s"], e["e"]) for e in nemesis if e["kind"] in REDIS_FAULTS]
    # Cluster: a killed master may lose acknowledged writes and deletes (asynchronous
    # replication) until its replica is promoted; the entry TTL bounds what it lost
    lossy = [(e["s"] - FAULT_MARGIN, e["e"]) for e in nemesis if e["kind"] == "master_kill"]
    back = {int(e["pid"]): e["back"] for e in nemesis if e["kind"] == "idle_invalidate"}
    moves = [e["s"] for e in nemesis if e["kind"] in MOVES]
    max_outage = max((end - start for start, end in faults), default=0.0)
    tight = L1_TTL + max_outage + REPLAY_LAG
    verdict.bounds = {
        "get/aget/rget/arget/tget": tight,
        "killed writer": READ_TTL + L1_TTL + REPLAY_LAG,
        "hot": HOT_TTL + L1_TTL + REPLAY_LAG,
        "idle invalidation, after Redis is back": IDLE_BOUND + REPLAY_LAG,
        "re-entrant call": max_outage + REENTRY_SLACK,
    }
    if lossy:
        verdict.bounds["write near a killed master"] = verdict.bounds["killed writer"]
    ops = [r for r in history if r["op"] not in ("res", "start", "flush")]
    for record in ops:
        verdict.ops[record["op"]] += 1
        if record["err"] is not None:
            verdict.errors += 1
            _add(verdict, f"exception reached a caller: {_describe(record)}: {record['err']}")
        if record["op"] in REENTRANT:
            took = record["e"] - record["s"]
            verdict.max_reentry = max(verdict.max_reentry, took)
            if took > verdict.bounds["re-entrant call"]:
                if REENTRY_TOKEN_KNOWN and any(t < record["e"] for t in moves):
                    verdict.reentry_waits += 1
                    verdict.notes.append(
                        f"re-entrant call waited on its own lease after a generation move "
                        f"(known memo bug): {_describe(record)}, {took:.3f} s"
                    )
                else:
                    _add(verdict, f"re-entrant call waited on itself? {_describe(record)}")
    for record in ops:  # an idle invalidation completes when Redis is back (plus the bound)
        if record.get("idle") and record["pid"] in back:
            record["e"] = max(record["e"], back[record["pid"]])
    _check_staleness(verdict, ops, killed, lossy, tight)
    _check_sink(verdict, ops, sink, killed, faults + lossy, lossy=lossy)
    _check_resources(verdict, history)
    verdict.flushed = [bool(r["ok"]) for r in history if r["op"] == "flush"]
    if not all(verdict.flushed):
        _add(verdict, f"memo.flush() timed out in a worker: {verdict.flushed}")
    return verdict


def _describe(record: dict[str, Any]) -> str:
    return (
        f"{record['op']}(k={record['k']}) in slot {record['p']} pid {record['pid']} "
        f"[{record['s']:.3f}, {record['e']:.3f}] -> {record['v']}"
    )


def _within(record: dict[str, Any], windows: list[tuple[float, float]]) -> bool:
    return any(start <= record["e"] <= end for start, end in windows)


def _check_staleness(
    verdict: Verdict,
    ops: list[dict[str, Any]],
    killed: set[int],
    lossy: list[tuple[float, float]],
    tight: float,
) -> None:
    every: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for record in ops:
        if record["op"] in WRITES and record["err"] is None:
            every[WRITES[record["op"]], record["k"]].append(record)
    for items in every.values():
        items.sort(key=lambda r: r["v"])
    surviving = {
        k: [r for r in items if r["pid"] not in killed and not _within(r, lossy)]
        for k, items in every.items()
    }
    index_all = {k: (items, [r["v"] for r in items]) for k, items in every.items()}
    index_kept = {k: (items, [r["v"] for r in items]) for k, items in surviving.items()}
    loose = verdict.bounds["killed writer"]
    computes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in ops:
        if record["op"] == "tget" and record["err"] is None:
            computes[record["k"]].append(record)
    for record in ops:
        op = record["op"]
        if op not in READS or record["err"] is not None:
            continue
        row = (READS[op], record["k"])
        # the first write of the key above the version read, among all writes (TTL-bounded
        # when its process was killed), and among the writes of surviving processes
        first = _first_newer(index_all.get(row, _NONE), record)
        if first is None:
            continue
        staleness = record["s"] - first["e"]
        verdict.stale_reads += 1
        verdict.max_staleness[op] = max(verdict.max_staleness.get(op, 0.0), staleness)
        if op == "hot":
            checks = [(first, verdict.bounds["hot"])]
        else:
            checks = [(first, loose)]
            held = _first_newer(index_kept.get(row, _NONE), record)
            if held is not None:
                idle = held.get("idle", False)
                if idle:
                    late = record["s"] - held["e"]
                    verdict.max_staleness["idle"] = max(verdict.max_staleness.get("idle", 0), late)
                checks.append((held, verdict.bounds[_IDLE] if idle else tight))
        _judge(verdict, record, checks, computes, index_all.get(row, _NONE)[0])


def _judge(
    verdict: Verdict,
    record: dict[str, Any],
    checks: list[tuple[dict[str, Any], float]],
    computes: dict[int, list[dict[str, Any]]],
    writes: list[dict[str, Any]],
) -> None:
    """Hold one read to each (newer write, bound); at most one line per read."""
    op = record["op"]
    for newer, bound in checks:
        late = record["s"] - newer["e"]
        if late > bound and op == "tget" and _tag_race(computes, writes, record, newer):
            verdict.tag_races += 1
            if len(verdict.notes) < 10:
                verdict.notes.append(
                    f"tag race (known memo bug): {_describe(record)}; version {newer['v']} "
                    f"by {newer['op']} in pid {newer['pid']} ended {late:.3f} s before, "
                    "while a tget of that key computing the old version was in flight"
                )
            return
        if late > bound:
            _add(
                verdict,
                f"stale read: {_describe(record)} while version {newer['v']} was written "
                f"by {newer['op']} in pid {newer['pid']} ending {late:.3f} s before "
                f"(bound {bound:.3f} s)",
            )
            return


def _tag_race(
    computes: dict[int, list[dict[str, Any]]],
    writes: list[dict[str, Any]],
    read: dict[str, Any],
    newer: dict[str, Any],
) -> bool:
    """Whether the version read came from a tget of the key that overlapped one of the key's
    tag invalidations up to newer: before memo fenced such computes, one could store what it
    read before the invalidation, served until the entry's TTL. Such reads are counted
    (tag_races), not violations, only while TAG_RACE_KNOWN is True."""
    if not TAG_RACE_KNOWN:
        return False
    racing = [w for w in writes if w["v"] <= newer["v"]]
    return any(
        other["v"] == read["v"] and any(other["s"] < w["e"] and other["e"] > w["s"] for w in racing)
        for other in computes.get(read["k"], ())
    )


_IDLE = "idle invalidation, after Redis is back"
_Index = tuple[list[dict[str, Any]], list[int]]
_NONE: _Index = ([], [])


def _first_newer(index: _Index, read: dict[str, Any]) -> dict[str, Any] | None:
    """The first write (in versions order) above the version read, if it ended before the
    read started."""
    items, versions = index
    at = bisect.bisect_right(versions, read["v"])
    if at < len(items) and items[at]["e"] < read["s"]:
        return items[at]
    return None


def _in_fault(record: dict[str, Any], faults: list[tuple[float, float]]) -> bool:
    return any(
        record["s"] <= end + FAULT_MARGIN and record["e"] >= start - FAULT_MARGIN
        for start, end in faults
    )


def _check_sink(
    verdict: Verdict,
    ops: list[dict[str, Any]],
    sink: dict[int, int],
    killed: set[int],
    faults: list[tuple[float, float]],
    *,
    lossy: list[tuple[float, float]],
) -> None:
    by_key: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in ops:
        if record["op"] in WB_WRITES and record["err"] is None:
            by_key[record["k"]].append(record)
    for k, items in sorted(by_key.items()):
        verdict.sink_keys += 1
        last = max(items, key=lambda r: r["v"])
        acked = [
            r["v"]
            for r in items
            if (r["pid"] not in killed or not _in_fault(r, faults)) and not _in_fault(r, lossy)
        ]
        need = max(acked, default=0)
        got = sink.get(k, 0)
        if last["pid"] not in killed and not _in_fault(last, lossy):
            verdict.sink_exact += 1
            if got != last["v"]:
                _add(verdict, f"sink[{k}] = {got}, the model says {last['v']} ({_describe(last)})")
        elif got < need:
            _add(verdict, f"sink[{k}] = {got} lost an acknowledged write: version {need}")


def _check_resources(verdict: Verdict, history: list[dict[str, Any]]) -> None:
    samples: dict[int, list[dict[str, Any]]] = defaultdict(list)
    starts = {r["pid"]: r["t"] for r in history if r["op"] == "start"}
    for record in history:
        if record["op"] == "res":
            samples[record["pid"]].append(record)
    for pid, items in samples.items():
        items.sort(key=lambda r: r["t"])
        verdict.max_rss = max(verdict.max_rss, *(r["rss"] for r in items))
        verdict.max_fds = max(verdict.max_fds, *(r["fds"] for r in items))
        begin = starts.get(pid, items[0]["t"])
        warm = [r for r in items if r["t"] >= begin + WARMUP]
        if len(warm) < 2:
            continue
        base, rest = warm[0], warm[1:]
        rss, fds = max(r["rss"] for r in rest), max(r["fds"] for r in rest)
        if rss > 2 * base["rss"] + RSS_SLACK:
            _add(verdict, f"pid {pid}: RSS grew from {base['rss']} to {rss} bytes")
        if fds > 2 * base["fds"] + FD_SLACK:
            _add(verdict, f"pid {pid}: open fds grew from {base['fds']} to {fds}")
