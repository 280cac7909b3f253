"""A Redis Cluster master SIGKILLed under load: callers never see it, L2 comes back after the
replica is promoted, and no read is staler than the bound.

Staleness bound: every entry lives at most ``TTL`` seconds in either tier (L1 and L2 share the
function's TTL), so a value can be at most ``TTL`` seconds behind the source, whatever happens
to invalidations. Invalidation events normally make it far less; but writes a killed master
acknowledged and had not replicated yet are lost with it (Redis replicates asynchronously),
and a DEL or a Lua delete lost that way leaves the old value on the promoted replica until it
expires. Hence the bound is the entry TTL, ``STALE_BOUND`` below (TTL plus scheduling slack).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.crc import key_slot

import memo
from tests.support.redis_servers import RedisCluster

pytestmark = pytest.mark.timeout(180)

TTL = 2.0  # the function's TTL: the life of an entry in L1 and in L2
STALE_BOUND = TTL + 0.5  # plus slack for a compute and thread scheduling on a loaded machine
SOCKET_TIMEOUT = 0.2
READERS = 4
KEYS = 48
BEFORE_KILL = 1.5  # seconds of load before the kill
AFTER_PROMOTION = 2.0  # seconds of load after the cluster is ok again
RECOVERY_BOUND = 20.0  # seconds from the kill to an L2 hit on the killed master's slots


@dataclass
class Source:
    """The source of truth: a version per key, and when each old version was replaced."""

    versions: dict[int, int] = field(default_factory=dict)
    replaced_at: dict[tuple[int, int], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, k: int) -> int:
        """The current version of k."""
        with self.lock:
            return self.versions.get(k, 0)

    def bump(self, k: int) -> None:
        """A new version of k; the old one is stale from now on."""
        with self.lock:
            old = self.versions.get(k, 0)
            self.replaced_at[(k, old)] = time.monotonic()
            self.versions[k] = old + 1

    def staleness(self, k: int, version: int, called_at: float) -> float:
        """How long before the call the returned version had been replaced (0: current)."""
        with self.lock:
            replaced = self.replaced_at.get((k, version))
        return 0.0 if replaced is None else max(0.0, called_at - replaced)


def value_of(k: int, version: int) -> dict[str, Any]:
    """The value: a pure function of the key and its version."""
    return {"k": k, "version": version, "payload": f"{k}:{version}" * 4}


def stack(cluster: RedisCluster, namespace: str) -> memo.TieredStore:
    """An independent L1+L2 stack over the cluster (another process, for Redis)."""
    l2 = memo.RedisStore(
        cluster.seeds_url, namespace=namespace, secret="failover", socket_timeout=SOCKET_TIMEOUT
    )
    return memo.TieredStore(memo.MemoryStore(), l2)


def slot_owner(cluster: RedisCluster) -> Callable[[str], int]:
    """key -> port of the master serving its slot, from one CLUSTER SLOTS taken now."""
    shards = cluster.node(0).command("CLUSTER", "SLOTS")
    assert isinstance(shards, list)
    ranges: list[tuple[int, int, int]] = []
    for entry in shards:
        assert isinstance(entry, list) and isinstance(entry[2], list)
        low, high, port = entry[0], entry[1], entry[2][1]
        assert isinstance(low, int) and isinstance(high, int) and isinstance(port, int)
        ranges.append((low, high, port))

    def owner(key: str) -> int:
        slot = key_slot(key.encode())
        return next(port for low, high, port in ranges if low <= slot <= high)

    return owner


def test_master_killed_under_load(fault_cluster: RedisCluster, namespace: str) -> None:
    """A master SIGKILLed mid-load: no caller error, reads within the TTL bound, L2 recovers."""
    cluster = fault_cluster
    source = Source()

    def load(k: int) -> dict[str, Any]:
        return value_of(k, source.read(k))

    load.__qualname__ = "failover_load"
    stores = [stack(cluster, namespace), stack(cluster, namespace)]
    fns = [memo.cached(ttl=TTL, store=s)(load) for s in stores]
    computed: list[int] = []

    def probe_load(p: int) -> int:
        computed.append(p)
        return p

    probe_load.__qualname__ = "failover_probe"
    fill, check = (memo.cached(ttl=TTL, store=s)(probe_load) for s in stores)
    owner = slot_owner(cluster)
    victim = cluster.node(0)
    assert cluster.roles()[0] == ("master", None)
    (replica,) = cluster.replicas_of(victim)
    ports = {owner(fns[0].cache_key(k)) for k in range(KEYS)}
    assert len(ports) == 3, "the keys should spread over every master"
    probes = (p for p in itertools.count(10_000) if owner(fns[0].cache_key(p)) == victim.port)

    errors: list[BaseException] = []
    stalest: list[float] = [0.0]
    reads: list[int] = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def reader(i: int) -> None:
        f = fns[i % 2]
        for n in itertools.count(i):
            if stop.is_set():
                return
            k = (n * 7) % KEYS
            called_at = time.monotonic()
            try:
                got = f(k)
            except BaseException as exc:  # any exception reaching a caller fails the test
                with lock:
                    errors.append(exc)
                continue
            version = got["version"]
            if got != value_of(k, version):
                with lock:
                    errors.append(AssertionError(f"f({k}) returned {got!r}"))
            late = source.staleness(k, version, called_at)
            with lock:
                reads[0] += 1
                stalest[0] = max(stalest[0], late)

    def writer() -> None:
        for n in itertools.count():
            if stop.wait(0.02):
                return
            k = (n * 5) % KEYS
            source.bump(k)
            try:
                fns[n % 2].invalidate(k)
            except BaseException as exc:
                with lock:
                    errors.append(exc)

    recovered = threading.Event()
    recovered_after: list[float] = []

    def probe(killed_at: float) -> None:
        """From the kill on: fill a new key on the killed master's slots from one stack and
        read it from the other until that read is an L2 hit (no second compute)."""
        while not stop.is_set() and time.monotonic() - killed_at < RECOVERY_BOUND:
            p = next(probes)
            try:
                fill(p)
                before = check.stats.l2_hits
                check(p)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return
            if check.stats.l2_hits > before and computed.count(p) == 1:
                recovered_after.append(time.monotonic() - killed_at)
                recovered.set()
                return
            time.sleep(0.02)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE_KILL)
        killed_at = time.monotonic()
        victim.kill()
        prober = threading.Thread(target=probe, args=(killed_at,))
        prober.start()
        threads.append(prober)
        cluster.wait_ok(30.0)
        promoted_after = time.monotonic() - killed_at
        assert cluster.master_of(replica) is None, "the replica should have been promoted"
        recovered.wait(RECOVERY_BOUND)
        time.sleep(AFTER_PROMOTION)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    print(
        f"\nfailover: promoted (cluster ok) {promoted_after:.2f} s after the kill; "
        f"first L2 hit on its slots {', '.join(f'{t:.2f}' for t in recovered_after)} s after it; "
        f"{reads[0]} reads, stalest {stalest[0]:.3f} s (bound {STALE_BOUND} s), "
        f"errors {sum(f.stats.errors for f in fns)} degraded calls"
    )
    assert errors == []
    assert reads[0] > 100
    assert stalest[0] <= STALE_BOUND
    assert recovered_after, f"no L2 hit within {RECOVERY_BOUND} s of the kill"
    assert not any(t.is_alive() for t in threads)
