"""Soak harness: worker processes x threads x asyncio tasks under a seeded nemesis.

``python -m bench.soak --minutes 10`` (``make soak``) or ``--seconds 40 --processes 2`` (the
short run of the test suite). A private redis-server (append-only file, so a SIGKILLed server
comes back with its data) sits behind a fault-injecting TCP proxy; the workers
(`bench._soak_worker`) reach it only through the proxy. Until the deadline the nemesis, every
1-3 s, does one of: SIGKILL + restart redis-server, SIGSTOP/SIGCONT it, flap the proxy, drop
the proxy's connections, kill the pub/sub (invalidation) connections, SIGKILL a worker and
start a replacement. Then the workers flush and exit and `bench._soak_check` holds the
history to the contract. Exit status 1 when there is any violation.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from multiprocessing.context import SpawnProcess
from typing import Any

from bench import _soak_worker as worker
from bench._soak_check import Verdict, check
from tests.support.redis_servers import RedisServer
from tests.support.tcp_proxy import TcpProxy

CTX = multiprocessing.get_context("spawn")
NEMESIS = ("redis_kill", "redis_stop", "proxy_flap", "proxy_drop", "events_kill", "worker_kill")


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
    parser.add_argument("--no-nemesis", action="store_true", help="no faults (a baseline)")
    parser.add_argument("--json", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--keep", metavar="DIR", help="keep the histories in DIR")
    args = parser.parse_args(argv)
    args.duration = args.minutes * 60 if args.minutes is not None else (args.seconds or 40.0)
    if args.processes < 1 or args.threads < 1 or args.tasks < 1 or args.duration <= 0:
        parser.error("--processes, --threads, --tasks and the length must be positive")
    return args


class Run:
    """The servers, the workers and the nemesis of one soak run."""

    def __init__(self, args: argparse.Namespace, directory: str) -> None:
        self.args = args
        self.dir = directory
        self.rng = random.Random(args.seed)
        self.server = RedisServer(args=("--appendonly", "yes", "--appendfsync", "everysec"))
        self.proxy: TcpProxy | None = None
        self.db = os.path.join(directory, "source.db")
        self.deadline = 0.0
        self.workers: dict[int, SpawnProcess] = {}
        self.nemesis: list[dict[str, Any]] = []
        self.namespace = f"soak{uuid.uuid4().hex[:8]}"

    def config(self, slot: int) -> dict[str, Any]:
        args = self.args
        return {
            "slot": slot,
            "seed": args.seed,
            "url": self.proxy.url if self.proxy is not None else self.server.url,
            "namespace": self.namespace,
            "db": self.db,
            "dir": self.dir,
            "deadline": self.deadline,
            "threads": args.threads,
            "tasks": args.tasks,
            "units": args.processes * (args.threads + args.tasks),
            "keys": args.keys,
            "pace": args.pace,
            "flush_timeout": 30.0,
        }

    def spawn(self, slot: int) -> None:
        process = CTX.Process(target=worker.run, args=(self.config(slot),), daemon=True)
        process.start()
        self.workers[slot] = process

    def start(self) -> None:
        worker.create_db(self.db)
        self.server.start()
        self.proxy = TcpProxy(self.server.host, self.server.port).start()
        self.deadline = time.time() + self.args.duration
        for slot in range(self.args.processes):
            self.spawn(slot)

    def act(self, kind: str) -> dict[str, Any]:
        """One nemesis action; its record (kind, start, end, detail)."""
        assert self.proxy is not None
        event: dict[str, Any] = {"kind": kind, "s": time.time()}
        if kind == "redis_kill":
            self.server.kill()
            time.sleep(self.rng.uniform(0.2, 0.8))
            self.server.start()
        elif kind == "redis_stop":
            self.server.pause()
            time.sleep(self.rng.uniform(0.5, 1.5))
            self.server.resume()
        elif kind == "proxy_flap":
            self.proxy.flap(0.25, 1.0)
            self.proxy.wait_flap()
        elif kind == "proxy_drop":
            self.proxy.drop()
        elif kind == "events_kill":
            event["killed"] = self.server.command("CLIENT", "KILL", "TYPE", "pubsub")
        else:
            slot = self.rng.randrange(self.args.processes)
            process = self.workers[slot]
            event["slot"], event["pid"] = slot, process.pid
            process.kill()
            process.join(10)
            self.spawn(slot)
        event["e"] = time.time()
        return event

    def run_nemesis(self) -> None:
        """Faults until the deadline (none with --no-nemesis)."""
        while time.time() < self.deadline - 1.0:
            time.sleep(min(self.rng.uniform(1.0, 3.0), max(0.0, self.deadline - time.time())))
            if self.args.no_nemesis or time.time() >= self.deadline - 1.0:
                continue
            self.nemesis.append(self.act(self.rng.choice(NEMESIS)))

    def finish(self) -> None:
        """Make sure Redis is up, then wait for the workers to flush and exit."""
        if not self.server.running:
            self.server.start()
        self.server.resume()
        limit = time.time() + 90
        for slot, process in self.workers.items():
            process.join(max(1.0, limit - time.time()))
            if process.is_alive():
                process.kill()
                process.join(5)
                raise RuntimeError(f"worker in slot {slot} did not finish in time")

    def stop(self) -> None:
        for process in self.workers.values():
            if process.is_alive():
                process.kill()
                process.join(5)
        if self.proxy is not None:
            self.proxy.stop()
        self.server.stop()


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
        verdict = check(_histories(directory), run.nemesis, _sink(run.db))
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
