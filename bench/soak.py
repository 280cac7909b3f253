"""Soak harness: worker processes x threads x asyncio tasks under a seeded nemesis.

``python -m bench.soak --minutes 10`` (``make soak``) or ``--seconds 40 --processes 2`` (the
short run of the test suite). A private redis-server (append-only file, so a SIGKILLed server
comes back with its data) sits behind a fault-injecting TCP proxy; the workers
(`bench._soak_worker`) reach it only through the proxy. Until the deadline the nemesis
(`bench._soak_run`), every 1-3 s, does one of: SIGKILL + restart redis-server, SIGSTOP/SIGCONT
it, flap the proxy, drop the proxy's connections, kill the pub/sub (invalidation) connections,
SIGKILL a worker and start a replacement, squat one of memo's keys (a lease without TTL, a
list at the generations hash, a string at a tag's set), or invalidate from a fresh process
while Redis hangs and leave that process idle; once per run it rotates the secret (every
worker restarted with ["old", "new"], later with "new"). The workload includes re-entrant and
tagged cached functions. ``--tls`` runs the same over rediss:// (through the proxy);
``--cluster`` over a 3-master Redis Cluster with replicas, without the proxy and its faults
(the nemesis SIGKILLs a master once instead). Then the workers flush and exit and
`bench._soak_check` holds the history to the contract. Exit status 1 when there is any
violation.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench._soak_check import Verdict, check
from bench._soak_run import Run


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="run length in minutes")
    length.add_argument("--seconds", type=float, help="run length in seconds (default 40)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the nemesis and the workload")
    parser.add_argument("--processes", type=int, default=3, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument("--tasks", type=int, default=4, help="asyncio tasks per process")
    parser.add_argument("--keys", type=int, default=64, help="keys per kind")
    parser.add_argument("--pace", type=float, default=0.005, help="mean pause between ops (s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--cluster", action="store_true", help="a 3-master Redis Cluster (no proxy faults)"
    )
    mode.add_argument("--tls", action="store_true", help="rediss:// (TLS) through the proxy")
    parser.add_argument("--no-nemesis", action="store_true", help="no faults (a baseline)")
    parser.add_argument("--json", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--keep", metavar="DIR", help="keep the histories in DIR")
    args = parser.parse_args(argv)
    args.duration = args.minutes * 60 if args.minutes is not None else (args.seconds or 40.0)
    if args.processes < 1 or args.threads < 1 or args.tasks < 1 or args.duration <= 0:
        parser.error("--processes, --threads, --tasks and the length must be positive")
    return args


def _histories(directory: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(glob.glob(os.path.join(directory, "hist-*.jsonl"))):
        with open(path) as f:
            for line in f:
                with contextlib.suppress(json.JSONDecodeError):  # a line cut by SIGKILL
                    records.append(json.loads(line))
    return records


def _sink(db: str) -> dict[int, int]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {int(k): int(v) for k, v in conn.execute("SELECT k, version FROM sink")}
    finally:
        conn.close()


def report(
    args: argparse.Namespace, verdict: Verdict, nemesis: list[dict[str, Any]]
) -> dict[str, Any]:
    """The numbers of the run, as one JSON-able dict."""
    total = sum(verdict.ops.values())
    return {
        "seed": args.seed,
        "mode": "cluster" if args.cluster else "tls" if args.tls else "plain",
        "seconds": args.duration,
        "processes": args.processes,
        "threads": args.threads,
        "tasks": args.tasks,
        "ops": total,
        "ops_per_second": total / args.duration,
        "ops_by_kind": dict(sorted(verdict.ops.items())),
        "nemesis": dict(sorted(Counter(event["kind"] for event in nemesis).items())),
        "errors": verdict.errors,
        "stale_reads": verdict.stale_reads,
        "max_reentry": round(verdict.max_reentry, 3),
        "tag_races": verdict.tag_races,
        "reentry_waits": verdict.reentry_waits,
        "notes": verdict.notes,
        "max_staleness": {k: round(v, 3) for k, v in sorted(verdict.max_staleness.items())},
        "bounds": {k: round(v, 3) for k, v in verdict.bounds.items()},
        "sink_keys": verdict.sink_keys,
        "sink_exact": verdict.sink_exact,
        "flushed": verdict.flushed,
        "max_rss_mib": round(verdict.max_rss / (1 << 20), 1),
        "max_fds": verdict.max_fds,
        "violations": verdict.violations,
    }


def render(data: dict[str, Any]) -> str:
    """The report as a two-column table."""
    rows = [
        ("seed", str(data["seed"])),
        ("mode", data["mode"]),
        ("length", f"{data['seconds']:g} s"),
        (
            "workers",
            f"{data['processes']} processes x ({data['threads']} threads + {data['tasks']} tasks)",
        ),
        ("ops", f"{data['ops']} ({data['ops_per_second']:.0f}/s)"),
    ]
    rows += [(f"  {kind}", str(n)) for kind, n in data["ops_by_kind"].items()]
    rows.append(("nemesis actions", str(sum(data["nemesis"].values()))))
    rows += [(f"  {kind}", str(n)) for kind, n in data["nemesis"].items()]
    rows += [
        ("exceptions", str(data["errors"])),
        ("reads older than a finished write", str(data["stale_reads"])),
        ("slowest re-entrant call", f"{data['max_reentry']:.3f} s"),
        ("stale tget after a tag race (known)", str(data["tag_races"])),
        ("re-entrant waits on own lease (known)", str(data["reentry_waits"])),
    ]
    rows += [(f"  max staleness {k}", f"{v:.3f} s") for k, v in data["max_staleness"].items()]
    rows += [(f"  bound {k}", f"{v:.3f} s") for k, v in data["bounds"].items()]
    rows += [
        ("write-behind keys", f"{data['sink_keys']} ({data['sink_exact']} checked exactly)"),
        ("memo.flush() in workers", str(data["flushed"])),
        ("max RSS per process", f"{data['max_rss_mib']} MiB"),
        ("max open fds per process", str(data["max_fds"])),
        ("violations", str(len(data["violations"]))),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["memo soak", "=" * (width + 20)]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"NOTE: {line}" for line in data["notes"]]
    lines += [f"VIOLATION: {line}" for line in data["violations"]]
    return "\n".join(lines)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak; the report."""
    with tempfile.TemporaryDirectory(prefix="memo-soak-") as tmp:
        directory = args.keep or tmp
        os.makedirs(directory, exist_ok=True)
        run = Run(args, directory)
        try:
            run.start()
            run.run_nemesis()
            run.finish()
        finally:
            run.stop()
        verdict = check(_histories(directory), run.nemesis, _sink(run.db), mode=run.mode)
        if args.keep:
            with open(os.path.join(directory, "nemesis.json"), "w") as f:
                json.dump(run.nemesis, f)
    return report(args, verdict, run.nemesis)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    args = _parse(argv)
    data = soak(args)
    print(render(data))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
    return 1 if data["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
