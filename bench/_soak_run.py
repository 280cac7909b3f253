"""The servers, the workers and the nemesis of one soak run (`bench.soak`).

Modes: plain (a redis-server behind the fault-injecting proxy), ``tls`` (the same over
rediss://: the proxy forwards the TLS bytes, so every proxy fault still applies) and
``cluster`` (a 3-master Redis Cluster with one replica each, reached directly: its clients
follow MOVED redirections to the nodes' own addresses, so no proxy and no proxy faults; the
nemesis SIGKILLs a master once and the cluster promotes its replica).

Every 1-3 s the nemesis does one action (`Run.act`): each kind once in a seeded order, then
kinds drawn at random; each action is recorded with its start ``s`` and end
``e`` for the checker. Besides the server, proxy and worker faults: ``squat_*`` puts a foreign
value at one of memo's own keys (a lease without TTL, a list at the generations hash, a string
at a tag's set); ``idle_invalidate`` pauses Redis while a fresh process invalidates, then
resumes it (``back``), the process staying idle; and once per run the secret rotates
(``rotate``: every worker restarted gracefully with ["old", "new"], later with "new").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import time
import uuid
from multiprocessing.context import SpawnProcess
from typing import Any

from bench import _soak_functions as fns
from bench import _soak_idle as idle
from bench import _soak_worker as worker
from tests.support.redis_servers import RedisCluster, RedisServer, free_port
from tests.support.tcp_proxy import TcpProxy

CTX = multiprocessing.get_context("spawn")
FAULTS = ("redis_kill", "redis_stop", "proxy_flap", "proxy_drop", "events_kill", "worker_kill")
SQUATS = ("squat_lease", "squat_generations", "squat_tag")
NEMESIS = (*FAULTS, *SQUATS, "idle_invalidate")
CLUSTER_NEMESIS = ("worker_kill", *SQUATS)
ROTATION = (("old", "new"), "new")  # the two steps, after the first secret fns.SECRET
AOF = ("--appendonly", "yes", "--appendfsync", "everysec")


def tls_args(directory: str) -> tuple[list[str], str, int]:
    """redis-server arguments for a TLS port with a fresh CA; the CA file and the port."""
    from pathlib import Path

    from tests.system.test_tls import make_certificates

    ca, crt, key = make_certificates(Path(directory))
    port = free_port()
    args = ["--tls-port", str(port), "--tls-cert-file", str(crt), "--tls-key-file", str(key)]
    args += ["--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
    return args, str(ca), port


class Run:
    """The servers, the workers and the nemesis of one soak run."""

    def __init__(self, args: argparse.Namespace, directory: str) -> None:
        self.args = args
        self.dir = directory
        self.mode = "cluster" if args.cluster else "tls" if args.tls else "plain"
        self.rng = random.Random(args.seed)
        self.server: RedisServer | None = None
        self.cluster: RedisCluster | None = None
        self.proxy: TcpProxy | None = None
        self.url = ""
        self.tls_port = 0
        self.ca = ""
        self.db = os.path.join(directory, "source.db")
        self.deadline = 0.0
        self.workers: dict[int, SpawnProcess] = {}
        self.idle: SpawnProcess | None = None
        self.nemesis: list[dict[str, Any]] = []
        self.namespace = f"soak{uuid.uuid4().hex[:8]}"
        self.secret: Any = fns.SECRET
        self.rotations: list[float] = []  # when each rotation step starts
        self.master_killed = False

    def config(self, slot: int) -> dict[str, Any]:
        args = self.args
        return {
            "slot": slot,
            "seed": args.seed,
            "url": self.url,
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
            "secret": list(self.secret) if isinstance(self.secret, tuple) else self.secret,
        }

    def spawn(self, slot: int) -> None:
        process = CTX.Process(target=worker.run, args=(self.config(slot),), daemon=True)
        process.start()
        self.workers[slot] = process

    def start(self) -> None:
        fns.create_db(self.db)
        if self.mode == "cluster":
            self.cluster = RedisCluster(masters=3, replicas=1, args=AOF).start()
            self.url = self.cluster.seeds_url
        else:
            extra: list[str] = []
            if self.mode == "tls":
                extra, self.ca, self.tls_port = tls_args(self.dir)
            self.server = RedisServer(args=(*AOF, *extra)).start()
            target = self.tls_port or self.server.port
            self.proxy = TcpProxy(self.server.host, target).start()
            self.url = self.proxy.url
            if self.mode == "tls":
                self.url = (
                    f"rediss://{self.proxy.host}:{self.proxy.port}/0"
                    f"?ssl_ca_certs={self.ca}&ssl_cert_reqs=required"
                )
        self.deadline = time.time() + self.args.duration
        for slot in range(self.args.processes):
            self.spawn(slot)
        span = self.args.duration
        self.rotations = [time.time() + 0.35 * span, time.time() + 0.55 * span]
        if self.args.no_nemesis:
            self.rotations = []

    # -- the actions

    def _command(self, *argv: str | int) -> Any:
        """A command at the key argv[1] (the node serving it, in a cluster)."""
        if self.cluster is not None:
            return self.cluster.node_for_key(str(argv[1])).command(*argv)
        assert self.server is not None
        return self.server.command(*argv)

    def _entry_keys(self) -> list[str]:
        """memo's entry keys of this run (SCAN of every master)."""
        if self.cluster is not None:
            nodes = self.cluster.masters()
        else:
            assert self.server is not None
            nodes = [self.server]
        found: list[str] = []
        for node in nodes:
            cursor: Any = "0"
            for _ in range(50):
                cursor, batch = node.command(
                    "SCAN", cursor, "MATCH", f"memo:{self.namespace}:bench.*", "COUNT", 1000
                )
                found += [b.decode() if isinstance(b, bytes) else str(b) for b in batch]
                if cursor in (b"0", "0", 0):
                    break
        return sorted(k for k in found if not k.endswith(":lease"))

    def squat(self, kind: str, event: dict[str, Any]) -> None:
        """A foreign value at one of memo's keys."""
        if kind == "squat_lease":
            keys = self._entry_keys()
            if not keys:
                event["skipped"] = "no entry yet"
                return
            key = self.rng.choice(keys) + ":lease"
            self._command("SET", key, "squatter")  # no TTL
        elif kind == "squat_generations":
            key = f"memo:{self.namespace}:generations"
            self._command("DEL", key)
            self._command("RPUSH", key, "squatter")
        else:
            k = self.rng.randrange(self.args.keys + fns.IDLE_KEYS)
            key = f"memo:{self.namespace}:tag:trow:{k}"
            self._command("DEL", key)
            self._command("SET", key, "squatter")
            event["k"] = k
        event["key"] = key

    def idle_invalidate(self, event: dict[str, Any]) -> None:
        """A fresh process invalidates its keys while Redis hangs, then idles."""
        assert self.server is not None
        if self.idle is not None:
            self.idle.kill()
            self.idle.join(5)
        mine, theirs = CTX.Pipe()
        self.idle = CTX.Process(target=idle.run, args=(self.config(-1), theirs), daemon=True)
        self.idle.start()
        event["pid"] = self.idle.pid
        if not mine.poll(30) or mine.recv() != "ready":
            event["skipped"] = "not ready"
            return
        event["s"] = time.time()
        self.server.pause()
        try:
            mine.send("go")
            event["kept"] = mine.poll(30) and mine.recv() == "kept"
            time.sleep(self.rng.uniform(0.1, 0.8))
        finally:
            self.server.resume()
            event["back"] = time.time()

    def rotate(self, secret: Any, event: dict[str, Any]) -> None:
        """Restart every worker gracefully (SIGTERM: finish, flush, exit) with secret."""
        self.secret = secret
        event["secret"] = list(secret) if isinstance(secret, tuple) else secret
        event["pids"] = []
        for slot, process in sorted(self.workers.items()):
            if time.time() >= self.deadline - 1.0:
                break
            event["pids"].append(process.pid)
            process.terminate()
            process.join(60)
            if process.is_alive():
                raise RuntimeError(f"worker in slot {slot} did not stop for the rotation")
            self.spawn(slot)

    def kill_master(self, event: dict[str, Any]) -> None:
        """SIGKILL a master; the end is when the cluster is ok again (replica promoted)."""
        assert self.cluster is not None
        victim = self.cluster.masters()[0]
        event["port"] = victim.port
        victim.kill()
        self.cluster.wait_ok(60)
        self.master_killed = True

    def act(self, kind: str) -> dict[str, Any]:
        """One nemesis action; its record (kind, start, end, detail)."""
        event: dict[str, Any] = {"kind": kind, "s": time.time()}
        server, proxy = self.server, self.proxy
        if kind == "redis_kill" and server is not None:
            server.kill()
            time.sleep(self.rng.uniform(0.2, 0.8))
            server.start()
        elif kind == "redis_stop" and server is not None:
            server.pause()
            time.sleep(self.rng.uniform(0.5, 1.5))
            server.resume()
        elif kind == "proxy_flap" and proxy is not None:
            proxy.flap(0.25, 1.0)
            proxy.wait_flap()
        elif kind == "proxy_drop" and proxy is not None:
            proxy.drop()
        elif kind == "events_kill" and server is not None:
            event["killed"] = server.command("CLIENT", "KILL", "TYPE", "pubsub")
        elif kind.startswith("squat_"):
            self.squat(kind, event)
        elif kind == "idle_invalidate":
            self.idle_invalidate(event)
        elif kind == "rotate":
            self.rotate(ROTATION[len([e for e in self.nemesis if e["kind"] == "rotate"])], event)
        elif kind == "master_kill":
            self.kill_master(event)
        else:
            slot = self.rng.randrange(self.args.processes)
            process = self.workers[slot]
            event["slot"], event["pid"] = slot, process.pid
            process.kill()
            process.join(10)
            self.spawn(slot)
        event["e"] = time.time()
        return event

    def next_action(self) -> str:
        quarter = self.deadline - 0.75 * self.args.duration
        if self.cluster is not None and not self.master_killed and time.time() >= quarter:
            return "master_kill"
        if self.rotations and time.time() >= self.rotations[0]:
            self.rotations.pop(0)
            return "rotate"
        kinds = CLUSTER_NEMESIS if self.cluster is not None else NEMESIS
        # every kind once (in a seeded order), then at random
        done = {event["kind"] for event in self.nemesis}
        return self.rng.choice([k for k in kinds if k not in done] or kinds)

    def met_every_kind(self) -> bool:
        """Whether every kind of fault of this run's nemesis has happened once."""
        kinds = CLUSTER_NEMESIS if self.cluster is not None else NEMESIS
        return set(kinds) <= {event["kind"] for event in self.nemesis}

    def run_nemesis(self) -> None:
        """Faults until the deadline (none with --no-nemesis)."""
        while time.time() < self.deadline - 1.0:
            # Shorter pauses until every kind has run once: a short soak on a loaded machine
            # (slow restarts) must still meet every fault.
            pause = (
                self.rng.uniform(1.0, 3.0) if self.met_every_kind() else self.rng.uniform(0.3, 1.0)
            )
            time.sleep(min(pause, max(0.0, self.deadline - time.time())))
            if self.args.no_nemesis or time.time() >= self.deadline - 1.0:
                continue
            self.nemesis.append(self.act(self.next_action()))

    def finish(self) -> None:
        """Make sure Redis is up, then wait for the workers to flush and exit."""
        if self.server is not None:
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
        for process in [*self.workers.values(), *([self.idle] if self.idle else [])]:
            if process.is_alive():
                process.kill()
                process.join(5)
        if self.proxy is not None:
            self.proxy.stop()
        if self.server is not None:
            self.server.stop()
        if self.cluster is not None:
            self.cluster.stop()
