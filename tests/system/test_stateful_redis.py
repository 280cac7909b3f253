"""A hypothesis state machine over real Redis: two processes, writes, outages, restarts.

Two independent L1+L2 stacks ("processes" A and B) read one source of truth through
`@memo.cached(ttl=T)`; writers change the source and then invalidate (`@memo.invalidates`,
the documented cache-aside write) or store their result (`@memo.write_through`). Between
steps the machine advances the fake clock, kills, restarts and starts the Redis server,
cuts one process off from it (a TCP proxy per process refuses and drops its connections,
Redis keeps its data), kills a process's events connection, flushes an L1, or brings
everything back. After every step each process reads each key.

The staleness bound every read is held to (docs/tiers.md "How L1 stays coherent",
docs/failures.md "Invalidations made during an outage"):

- **Always, the TTL bound.** An entry, in L2 or in an L1, lives at most T fake seconds from
  the compute or write that made it (an L1 copy of an L2 entry gets the entry's remaining
  lifetime, and there is no l1_ttl), and that compute read the source then. So a read at
  `now` returns a value the source held at some instant of `[now - T, now]`. `FakeClock`
  drives L1 deadlines and the wall-clock expiry in the L2 header; Redis's own PX expiry is
  real time (T real seconds, never reached), so entries expire by their header.
- **After a coherent write, nothing older.** A write that reached Redis, and that the other
  process applied (its events connection evicted the key, or it lost that connection and
  flushed its L1) or could not miss (its L1 was flushed and bypassed), leaves no older copy
  anywhere: later reads return that value or a later one.
- **After recovery, nothing older than the last write.** Once Redis is reachable by both,
  their breakers closed (the invalidations made meanwhile replayed, L1 flushed) and their
  events connections back, Redis holds no value older than each key's last write, and from
  then on reads return the last written value or a later one.

The recovery bound assumes what a running service does: each process makes some call once
Redis is back (an invalidation lost in a blip, with the breaker still closed, is replayed as
soon as Redis answers a ping, even by an idle process, see
`test_idle_process_replays_a_blip_invalidation`). The tests after the machine are the
minimal reproducers of what it found.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memo
from memo._keys.key import LazyCacheKey
from memo.testing import FakeClock
from tests.support.redis_fixtures import require_redis
from tests.support.redis_servers import RedisServer, free_port
from tests.support.tcp_proxy import TcpProxy

T = 100.0  # every reader's ttl, in fake seconds (Redis's PX: 100 real seconds, never reached)
EPS = 1e-6  # float slack on window edges (wall-clock header vs monotonic deadlines)
KEYS = (0, 1)
PROCESSES = ("a", "b")
SECRET = "stateful-redis"
HEARD = 5.0  # real seconds an event may take to reach a healthy subscriber
RECOVERY = 10.0  # real seconds Redis may take to be fully back in use (probe 0.25 s, backoff 1 s)


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    """Poll check (real time) until it holds or timeout passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# ----------------------------------------------------------------------------- servers


class Lab:
    """One redis-server on a fixed port and a TcpProxy per process in front of it, started on
    first use and reused by every example (each example takes a fresh namespace)."""

    def __init__(self) -> None:
        self.server: RedisServer | None = None
        self.proxies: dict[str, TcpProxy] = {}

    def ready(self) -> tuple[RedisServer, dict[str, TcpProxy]]:
        """The server running and every proxy accepting, as each example starts."""
        if self.server is None:
            self.server = RedisServer(port=free_port())
        server = self.server
        require_redis("redis-server", server.start)
        for name in PROCESSES:
            if name not in self.proxies:
                self.proxies[name] = TcpProxy(server.host, server.port).start()
            self.proxies[name].accept_again()
        return server, self.proxies

    def stop(self) -> None:
        """Stop the proxies and the server."""
        for proxy in self.proxies.values():
            proxy.stop()
        self.proxies.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None


LAB = Lab()


@pytest.fixture(autouse=True, scope="module")
def stop_lab() -> Iterator[None]:
    """The module's server and proxies stop when its tests are done."""
    yield
    LAB.stop()


# ----------------------------------------------------------------------------- processes


class Witness:
    """An events sink and L2-health listener registered after the TieredStore, so that when it
    is told something, the store has already evicted or flushed its L1 for it."""

    def __init__(self) -> None:
        self.coherence = 0  # events connection lost or regained (L1 flushed each time)
        self.l2_up = True  # the last thing the breaker said
        self.keys: Counter[str] = Counter()  # key events applied, by Redis key
        self.lock = threading.Lock()

    def on_key(self, remote: str) -> None:
        """A key event was applied (the key evicted from L1)."""
        with self.lock:
            self.keys[remote] += 1

    def on_tag(self, tag: str) -> None:
        """Not used by the machine."""

    def on_generation(self, name: str, generation: int) -> None:
        """Not used by the machine."""

    def on_coherence(self, healthy: bool) -> None:
        """The events connection came or went (L1 flushed)."""
        with self.lock:
            self.coherence += 1

    def on_l2_health(self, healthy: bool) -> None:
        """The breaker opened, or closed (after the replay and the L1 flush)."""
        self.l2_up = healthy

    def on_fork(self) -> None:
        """In a forked child (spawning a redis-server forks): nothing to do."""

    def changed_since(self, coherence: int) -> Callable[[], bool]:
        """A check: the connection came or went since coherence changes were counted."""
        return lambda: self.coherence > coherence

    def heard(self, remote: str) -> Callable[[], bool]:
        """A check: an event about remote was applied."""
        return lambda: self.keys[remote] > 0

    def count(self, remote: str) -> tuple[int, int]:
        """(events applied for remote, coherence changes): grows once L1 lost remote's copy."""
        return self.keys[remote], self.coherence


class Process:
    """One process's stack: L1 over a RedisStore reached through this process's proxy, the
    reader over the shared source, and the two writers."""

    def __init__(
        self, url: str, namespace: str, source: dict[int, int], write: Callable[[int, int], None]
    ) -> None:
        redis_store = memo.RedisStore(url, namespace=namespace, secret=SECRET, socket_timeout=0.2)
        self.store = memo.TieredStore(memo.MemoryStore(), redis_store)
        self.witness = Witness()
        redis_store.events.sinks.append(self.witness)
        redis_store.listeners.append(self.witness)

        def read(key: int) -> int:
            return source.get(key, 0)

        read.__qualname__ = "stateful_redis_read"  # one name in both processes: shared keys
        self.read = memo.cached(ttl=T, store=self.store)(read)

        @memo.invalidates(self.read)
        def update(key: int, value: int) -> None:
            write(key, value)

        @memo.write_through(self.read)
        def put(key: int, value: int) -> int:
            write(key, value)
            return value

        self.update, self.put = update, put

        def probe(key: int) -> int:
            return -1

        probe.__qualname__ = "stateful_redis_probe"
        self.probe = memo.cached(ttl=T, store=self.store)(probe)

    @property
    def redis(self) -> memo.RedisStore:
        """This process's L2 tier."""
        return self.store.redis


@dataclass
class KeyModel:
    """What the model knows about one key: the source's history (fake seconds, value)."""

    history: list[tuple[float, int]] = field(default_factory=lambda: [(float("-inf"), 0)])
    strict: int = 0  # returns must come from history[strict:] (coherent writes, recoveries)

    @property
    def last(self) -> int:
        """The index of the last write (0: never written)."""
        return len(self.history) - 1

    def allowed(self, now: float, since: int = 0) -> set[int]:
        """The values of history[since:] held at some instant of [now - T, now] (each held
        over [its write, the next write]: writes at one instant all count as held then)."""
        ends = [moment for moment, _ in self.history[1:]] + [float("inf")]
        return {
            value
            for (start, value), end in zip(self.history, ends, strict=True)
            if start <= now and end >= now - T - EPS
        } & {value for _, value in self.history[since:]}


# ----------------------------------------------------------------------------- the machine


class RedisModel(RuleBasedStateMachine):
    """Two processes over one real Redis: every return is within the documented staleness."""

    def __init__(self) -> None:
        super().__init__()
        self.server, self.proxies = LAB.ready()
        self.clock = FakeClock()
        self.clock.install()
        self.namespace = f"sm{uuid.uuid4().hex[:12]}"
        self.source: dict[int, int] = {}
        self.keys = {key: KeyModel() for key in KEYS}
        self.partitioned: set[str] = set()
        self.probes = 0
        self.processes = {
            name: Process(self.proxies[name].url, self.namespace, self.source, self._write)
            for name in PROCESSES
        }
        for process in self.processes.values():
            process.redis.events.ensure_started()
        assert wait_for(self._all_healthy, RECOVERY), "events connections never came up"
        reader = self.processes["a"].read
        self.remote = {key: reader.cache_key(key) for key in KEYS}
        self.observer = memo.RedisStore(self.server.url, namespace=self.namespace, secret=SECRET)

    def _write(self, key: int, value: int) -> None:
        """The database write inside every writer: the source changes now."""
        self.source[key] = value
        self.keys[key].history.append((self.clock.monotonic(), value))

    def _all_healthy(self) -> bool:
        """Both processes subscribed, breakers closed, and done with what a closing does."""
        return all(
            p.redis.events.healthy and not p.redis.breaker.is_open and p.witness.l2_up
            for p in self.processes.values()
        )

    def _other(self, name: str) -> Process:
        return self.processes["b" if name == "a" else "a"]

    # -- calls ---------------------------------------------------------------------------

    @invariant()
    def reads(self) -> None:
        """After every step, each process reads each key: within the bound, every time."""
        for name in PROCESSES:
            for key in KEYS:
                self.check(name, key)

    def check(self, name: str, key: int) -> None:
        """Read key in one process: a value the source held within the bound."""
        now = self.clock.monotonic()
        model = self.keys[key]
        got = self.processes[name].read(key)
        allowed = model.allowed(now, model.strict)
        assert got in allowed, (
            f"process {name} read key {key} = {got!r} at t={now}; allowed {sorted(allowed)}; "
            f"history {model.history}, strict from write #{model.strict}; Redis down: "
            f"{not self.server.running}, partitioned: {sorted(self.partitioned)}"
        )

    # -- writes --------------------------------------------------------------------------

    @rule(
        name=st.sampled_from(PROCESSES),
        key=st.sampled_from(KEYS),
        value=st.integers(1, 99),
        through=st.booleans(),
    )
    def write(self, name: str, key: int, value: int, through: bool) -> None:
        """Change the source in one process: then invalidate, or write through."""
        process, other = self.processes[name], self._other(name)
        redis = process.redis
        errors, opened, was_open = redis.errors, redis.breaker.opened, redis.breaker.is_open
        other_listening = other.redis.events.healthy
        # Documented: L1 is bypassed (and was flushed) while the events connection is down,
        # unless Redis is unreachable (breaker open, or failing before it opens): then L1 is
        # all there is.
        other_bypassed = not other_listening and not other.redis.breaker.failing
        heard = other.witness.count(self.remote[key])
        if through:
            assert process.put(key, value) == value
        else:
            process.update(key, value)
        reached = (  # Redis ran the write: not skipped (breaker), not failed
            not was_open
            and not redis.breaker.is_open
            and (redis.errors, redis.breaker.opened) == (errors, opened)
        )
        model = self.keys[key]
        if not reached:  # kept for replay (a write-through as a delete): see recover()
            return
        if other_listening:
            told = wait_for(lambda: other.witness.count(self.remote[key]) > heard, HEARD)
        else:
            told = other_bypassed
        if told:
            model.strict = model.last

    # -- time, tiers and faults -------------------------------------------------------

    @rule(seconds=st.sampled_from([5.0, 30.0, 60.0, 99.99, 100.0, 250.0]))
    def advance(self, seconds: float) -> None:
        """Move the fake clock."""
        self.clock.advance(seconds)

    @rule(name=st.sampled_from(PROCESSES), events=st.booleans())
    def disturb(self, name: str, events: bool) -> None:
        """Kill one process's events connection (it reconnects by itself), or drop its L1."""
        process = self.processes[name]
        if not events:
            process.store.memory.clear()
            return
        if not process.redis.events.healthy:
            return
        listening = {name: process.witness.coherence}
        process.redis.events.kill_connection()
        self._dropped(listening)

    @rule(restart=st.booleans())
    def redis(self, restart: bool) -> None:
        """Restart the server, or kill it / start it again (no persistence: data is gone)."""
        listening = self._listening()
        if not self.server.running:
            self.server.start()
            return
        if restart:
            self.server.restart()
        else:
            self.server.kill()
        self._dropped(listening)

    @rule(name=st.sampled_from(PROCESSES))
    def partition(self, name: str) -> None:
        """Cut one process off from Redis (its proxy refuses and drops connections; Redis
        keeps its data), or let it through again."""
        proxy = self.proxies[name]
        if name in self.partitioned:
            proxy.accept_again()
            self.partitioned.discard(name)
            return
        listening = {n: c for n, c in self._listening().items() if n == name}
        proxy.refuse()
        proxy.drop()
        self.partitioned.add(name)
        self._dropped(listening)

    def _listening(self) -> dict[str, int]:
        """Processes whose events connection is up, with their coherence-change counts."""
        return {
            name: process.witness.coherence
            for name, process in self.processes.items()
            if process.redis.events.healthy
        }

    def _dropped(self, listening: dict[str, int]) -> None:
        """Each process that was listening notices its events connection is lost (its L1 is
        flushed), even when it could connect again at once (test_dropped_events_...)."""
        for name, changes in listening.items():
            assert wait_for(self.processes[name].witness.changed_since(changes), HEARD), (
                f"process {name} did not notice that its events connection was lost"
            )

    @rule()
    def recover(self) -> None:
        """Redis back for everyone: in use again, replays done, nothing older than the writes."""
        if not self.server.running:
            self.server.start()
        for name in sorted(self.partitioned):
            self.proxies[name].accept_again()
        self.partitioned.clear()
        assert wait_for(self._all_healthy, RECOVERY), (
            f"not back in use {RECOVERY} s after Redis returned: "
            + ", ".join(
                f"{n}: events healthy {p.redis.events.healthy}, breaker open "
                f"{p.redis.breaker.is_open}"
                for n, p in self.processes.items()
            )
        )
        for process in self.processes.values():
            self.probes += 1  # a new key: a call that reaches Redis, as a serving process makes
            process.probe(self.probes)
        assert wait_for(lambda: not self._stale_in_redis(), HEARD), (
            f"Redis still holds values older than the last write after recovery: "
            f"{self._stale_in_redis()}"
        )
        self._barrier()
        for model in self.keys.values():
            model.strict = model.last

    def _stale_in_redis(self) -> dict[int, int]:
        """Keys whose Redis entry holds a value older than the key's last write."""
        now = self.clock.monotonic()
        stale: dict[int, int] = {}
        for key in KEYS:
            entry = self.observer.get(
                LazyCacheKey(("observer", key), lambda _local, _values, k=key: self.remote[k], ())
            )
            model = self.keys[key]
            if entry is not None and entry.value not in model.allowed(now, model.last):
                stale[key] = cast(int, entry.value)
        return stale

    def _barrier(self) -> None:
        """Publish a marker after everything Redis did so far; wait until both heard it."""
        marker = f"memo:{self.namespace}:marker:{uuid.uuid4().hex[:8]}"
        message = self.observer.message("k", marker)
        self.observer.client.execute_command("PUBLISH", self.observer.channel, message)
        for name, process in self.processes.items():
            assert wait_for(process.witness.heard(marker), HEARD), (
                f"process {name} did not hear the marker event"
            )

    def teardown(self) -> None:
        """Close both stacks and the observer, put the real clock back."""
        for process in self.processes.values():
            process.store.close()
        self.observer.close()
        self.clock.uninstall()


TestRedisModel = pytest.mark.timeout(180)(RedisModel.TestCase)
TestRedisModel.__doc__ = (
    "Every read over real Redis, through faults, is within the staleness bound."
)
TestRedisModel.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)


# ----------------------------------------------------------------------------- reproducers
# What the machine found, each as the smallest test that shows it.


def stack(url: str, namespace: str) -> memo.TieredStore:
    """One process's L1 over Redis at url."""
    return memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(url, namespace=namespace, secret=SECRET)
    )


def shared_reader(store: memo.TieredStore, rows: dict[int, str]) -> memo.Memoized[[int], str]:
    """A cached read of rows over store, with one name in every process (shared keys)."""

    def read(key: int) -> str:
        return rows.get(key, "-")

    read.__qualname__ = "stateful_redis_bug_read"
    return memo.cached(ttl=300, store=store)(read)


def subscribed(*stores: memo.TieredStore) -> None:
    """Start each store's events connection and wait until it is up (L1 in use)."""
    for store in stores:
        store.redis.events.ensure_started()
    assert wait_for(lambda: all(s.redis.events.healthy for s in stores), RECOVERY)


def back_in_use(store: memo.TieredStore) -> bool:
    """Whether store reaches Redis again: breaker closed and events connection up."""
    return not store.redis.breaker.is_open and store.redis.events.healthy


def test_write_through_during_an_outage_leaves_no_old_value(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """A write-through made while Redis is unreachable leaves no old value once it is back
    (its Redis write is replayed as a delete)."""
    rows = {1: "old"}
    store_a, store_b = stack(proxy.url, namespace), stack(fault_redis.url, namespace)
    read_a, read_b = shared_reader(store_a, rows), shared_reader(store_b, rows)

    @memo.write_through(read_a)
    def put(key: int, value: str) -> str:
        rows[key] = value
        return value

    subscribed(store_a, store_b)
    assert read_a(1) == read_b(1) == "old"
    proxy.refuse()
    proxy.drop()
    probe = iter(range(100, 200))
    assert wait_for(lambda: read_a(next(probe)) == "-" and store_a.redis.breaker.is_open, 3)
    assert put(1, "new") == "new"
    proxy.accept_again()
    assert wait_for(lambda: back_in_use(store_a), RECOVERY)
    assert wait_for(lambda: (read_a(1), read_b(1)) == ("new", "new"), 2)


def test_write_through_racing_an_event_updates_the_writers_l1(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write-through leaves the writer's L1 current even if an event arrives meanwhile."""
    rows = {1: "old"}
    store_a, store_b = stack(redis_url, namespace), stack(redis_url, namespace)
    read_a, read_b = shared_reader(store_a, rows), shared_reader(store_b, rows)

    @memo.write_through(read_a)
    def put(key: int, value: str) -> str:
        rows[key] = value
        return value

    subscribed(store_a, store_b)
    assert read_a(1) == "old"  # now in A's L1
    redis_set = store_a.redis.set

    def set_then_event(*args: Any, **kwargs: Any) -> bool:
        written = redis_set(*args, **kwargs)
        seq = store_a.redis.events.seq
        read_b.invalidate(2)  # B deletes another key: its event reaches A now
        assert wait_for(lambda: store_a.redis.events.seq != seq, HEARD)
        return written

    monkeypatch.setattr(store_a.redis, "set", set_then_event)
    assert put(1, "new") == "new"
    monkeypatch.undo()
    assert read_a(1) == "new"


def test_invalidation_lost_in_a_blip_leaves_no_old_value(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """Once an invalidation lost in a blip is replayed, its own process serves the new value."""
    rows = {1: "old"}
    store = stack(proxy.url, namespace)
    read = shared_reader(store, rows)

    @memo.invalidates(read)
    def update(key: int, value: str) -> None:
        rows[key] = value

    subscribed(store)
    assert read(1) == "old"
    key = read.cache_key(1)
    proxy.refuse()
    proxy.drop()
    update(1, "new")  # one failed DELETE, kept for replay; the breaker stays closed
    assert not store.redis.breaker.is_open
    proxy.accept_again()
    assert wait_for(lambda: back_in_use(store), RECOVERY)
    read(1)  # Redis answers again: the replay starts
    assert wait_for(lambda: fault_redis.command("EXISTS", key) == 0, HEARD)  # replayed
    assert read(1) == "new"


def test_dropped_events_connection_flushes_l1(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """An invalidation published while a process's events connection was down (dropped, then
    connected again at once) does not leave that process serving the old value."""
    rows: dict[int, str] = {}
    store_a, store_b = stack(fault_redis.url, namespace), stack(proxy.url, namespace)
    read_a, read_b = shared_reader(store_a, rows), shared_reader(store_b, rows)

    @memo.invalidates(read_a)
    def update(key: int, value: str) -> None:
        rows[key] = value

    subscribed(store_a, store_b)
    for key in range(3):
        rows[key] = "old"
        assert read_b(key) == read_a(key) == "old"  # in B's L1
        proxy.drop()  # B's connections closed; the proxy still accepts
        update(key, "new")
        time.sleep(0.3)
        assert wait_for(lambda: back_in_use(store_b), RECOVERY)
        assert read_b(key) == "new"


def test_idle_process_replays_a_blip_invalidation(
    proxy: TcpProxy, fault_redis: RedisServer, namespace: str
) -> None:
    """An invalidation lost in a blip is replayed once Redis is back even if its process makes
    no further call, so the other processes stop serving the old value."""
    rows = {1: "old"}
    store_a, store_b = stack(fault_redis.url, namespace), stack(proxy.url, namespace)
    read_a, read_b = shared_reader(store_a, rows), shared_reader(store_b, rows)

    @memo.invalidates(read_b)
    def update(key: int, value: str) -> None:
        rows[key] = value

    subscribed(store_a, store_b)
    assert read_a(1) == read_b(1) == "old"
    proxy.refuse()
    proxy.drop()
    update(1, "new")  # one failed DELETE, kept for replay; the breaker stays closed
    assert not store_b.redis.breaker.is_open
    proxy.accept_again()
    assert wait_for(lambda: back_in_use(store_b), RECOVERY)
    assert wait_for(lambda: read_a(1) == "new", 2)  # B makes no call
