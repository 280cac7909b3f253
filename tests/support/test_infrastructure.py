"""The test infrastructure itself: real Redis servers, Cluster, Sentinel, ACL and the proxy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import redis.cluster
import redis.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import redis_servers
from tests.support.redis_fixtures import require_redis
from tests.support.redis_servers import (
    ACL_DENIED_EXAMPLES,
    RedisCluster,
    RedisSentinel,
    RedisServer,
    RedisUnavailableError,
    acl_user,
    free_port,
)
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


def client(url: str, timeout: float = 1.0) -> redis.Redis:
    """A redis-py client with no retries and short timeouts, so faults show at once."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def alive(pid: int) -> bool:
    """Whether a process exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ----------------------------------------------------------------------------- standalone


def test_free_port_is_bindable_and_never_repeats() -> None:
    """free_port() hands out distinct loopback ports that can be bound, never 6379."""
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert 6379 not in ports
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_session_server_answers(redis_server: RedisServer, redis_url: str, namespace: str) -> None:
    """The session server answers redis-py at redis_url (as the restricted user)."""
    assert redis_url.endswith(f"@127.0.0.1:{redis_server.port}/0")
    assert redis_server.port != 6379
    with client(redis_url) as r:
        assert r.ping()
        r.set(f"memo:{namespace}:k", b"v")
        assert r.get(f"memo:{namespace}:k") == b"v"
    assert namespace.startswith("t") and len(namespace) == 13
    int(namespace[1:], 16)


def test_kill_then_start_comes_back_empty_on_the_same_port(fault_redis: RedisServer) -> None:
    """kill() makes clients fail with ConnectionError; start() returns on the same port, empty."""
    port, pid = fault_redis.port, fault_redis.pid
    assert pid is not None
    with client(fault_redis.url) as r:
        r.set("memo:x", 1)
        fault_redis.kill()
        assert not alive(pid) and not fault_redis.running
        with pytest.raises(redis.ConnectionError):
            r.get("memo:x")
        fault_redis.start()
        assert fault_redis.port == port and fault_redis.pid not in (None, pid)
        assert r.get("memo:x") is None


def test_restart_gives_fresh_data(fault_redis: RedisServer) -> None:
    """restart() stops gracefully and starts again on the same port with no data."""
    with client(fault_redis.url) as r:
        r.set("memo:x", 1)
        fault_redis.restart()
        assert r.get("memo:x") is None
        assert fault_redis.url.endswith(f":{fault_redis.port}/0")


def test_pause_times_out_and_resume_recovers(fault_redis: RedisServer) -> None:
    """A paused (SIGSTOP) server makes a 0.2 s client time out; after resume() it answers."""
    with client(fault_redis.url, timeout=0.2) as r:
        assert r.ping()
        fault_redis.pause()
        assert fault_redis.paused
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            r.get("memo:x")
        assert time.monotonic() - started < 2.0
        fault_redis.resume()
        assert r.ping()


def test_stop_ends_the_process_and_removes_the_directory() -> None:
    """stop() (also on a paused server) ends the process and removes its temp dir."""
    with RedisServer() as server:
        pid, directory = server.pid, server.dir
        assert pid is not None and directory is not None and os.path.isdir(directory)
        server.pause()
    assert not alive(pid)
    assert not os.path.exists(directory)
    server.stop()  # idempotent


def test_password_server_requires_auth() -> None:
    """A server with a password puts it in .url and rejects clients without it."""
    with RedisServer(password="s3cret") as server:
        assert server.url == f"redis://:s3cret@127.0.0.1:{server.port}/0"
        with client(server.url) as r:
            assert r.ping()
        with (
            client(f"redis://127.0.0.1:{server.port}/0") as r,
            pytest.raises(redis.AuthenticationError),
        ):
            r.ping()


def test_missing_redis_server_raises_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without redis-server on PATH, start() raises RuntimeError naming apt-get install."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match=r"apt-get install redis-server"):
        RedisServer().start()


@pytest.mark.parametrize("ci", ["true", ""])
def test_unavailable_redis_fails_never_skips(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    """require_redis() turns an unavailable Redis into a failure (not a skip), CI or not."""
    monkeypatch.setenv("CI", ci)

    def broken() -> RedisServer:
        raise RedisUnavailableError("redis-server was not found on PATH")

    with pytest.raises(pytest.fail.Exception, match="apt-get install redis-server"):
        require_redis("redis-server", broken)


@pytest.mark.parametrize(
    "ending",
    [
        "pass",  # a normal exit: atexit stops the server
        "os._exit(0)",  # no atexit: the server dies with its parent (PR_SET_PDEATHSIG)
        "os.kill(os.getpid(), signal.SIGKILL)",
    ],
)
def test_servers_left_running_die_with_the_interpreter(ending: str) -> None:
    """A process that never calls stop(), however it ends, leaves no redis-server behind."""
    script = (
        "import os, signal, sys\n"
        "from tests.support.redis_servers import RedisServer\n"
        "server = RedisServer().start()\n"
        "print(server.pid, server.dir, flush=True)\n"
        f"{ending}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    pid_text, directory = done.stdout.split()
    pid = int(pid_text)
    shutil.rmtree(directory, ignore_errors=True)  # left behind when atexit cannot run
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


# ----------------------------------------------------------------------------- proxy


def test_proxy_passes_traffic_through(proxy: TcpProxy) -> None:
    """Commands through the proxy reach the server; accepted and byte counters move."""
    with client(proxy.url) as r:
        r.set("memo:x", b"v" * 1000)
        assert r.get("memo:x") == b"v" * 1000
    stats = proxy.stats
    assert stats.accepted >= 1
    assert stats.bytes_up > 1000 and stats.bytes_down > 1000


def test_proxy_large_values_survive(proxy: TcpProxy) -> None:
    """A 5 MB value goes through the proxy intact in both directions."""
    payload = os.urandom(5 * 1024 * 1024)
    with client(proxy.url, timeout=5.0) as r:
        r.set("memo:big", payload)
        assert r.get("memo:big") == payload


def test_proxy_block_times_out_then_unblock_recovers(proxy: TcpProxy) -> None:
    """block() hangs clients (TimeoutError at 0.2 s), also new ones; unblock() serves again."""
    with client(proxy.url, timeout=0.2) as r:
        assert r.ping()
        proxy.block()
        with pytest.raises(redis.TimeoutError):
            r.get("memo:x")
        with client(proxy.url, timeout=0.2) as fresh, pytest.raises(redis.TimeoutError):
            fresh.ping()
        proxy.unblock()
        assert r.ping()


def test_proxy_drop_breaks_connections_then_reconnects(proxy: TcpProxy) -> None:
    """drop() fails an in-flight command with ConnectionError; the next command reconnects."""
    with client(proxy.url, timeout=3.0) as r, ThreadPoolExecutor(1) as pool:
        assert r.ping()
        assert proxy.stats.active == 1
        for reset in (False, True):
            sent = proxy.stats.bytes_up
            in_flight = pool.submit(r.blpop, ["memo:queue"], 2)
            deadline = time.monotonic() + 2.0
            while proxy.stats.bytes_up == sent and time.monotonic() < deadline:
                time.sleep(0.01)
            proxy.drop(reset=reset)
            assert proxy.stats.active == 0
            with pytest.raises(redis.ConnectionError):
                in_flight.result(timeout=5.0)
            assert r.ping()
        # An idle pooled connection that was dropped is replaced silently on checkout.
        proxy.drop()
        assert r.ping()


def test_proxy_refuse_then_accept_again(proxy: TcpProxy) -> None:
    """refuse() gives ConnectionRefusedError on connect; accept_again() on the same port works."""
    proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=1.0).close()
    with client(proxy.url) as r, pytest.raises(redis.ConnectionError):
        r.ping()
    proxy.accept_again()
    with client(proxy.url) as r:
        assert r.ping()


def test_proxy_flap_alternates_and_ends_accepting(proxy: TcpProxy) -> None:
    """flap() refuses and accepts in turn for a bounded time, then accepts for good."""
    proxy.flap(period=0.25, duration=1.5)  # long phases: a loaded machine still sees both
    outcomes: set[bool] = set()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(proxy.address, timeout=0.5).close()
            outcomes.add(True)
        except ConnectionError:  # refused, or reset: a connect queued as the port closed
            outcomes.add(False)
        time.sleep(0.02)
    proxy.wait_flap()
    assert outcomes == {True, False}
    with client(proxy.url) as r:
        assert r.ping()


def test_proxy_to_a_dead_target_closes_the_client(
    proxy: TcpProxy, fault_redis: RedisServer
) -> None:
    """With the target killed, connects through the proxy fail with ConnectionError."""
    fault_redis.kill()
    with client(proxy.url) as r, pytest.raises(redis.ConnectionError):
        r.ping()
    assert proxy.stats.upstream_failures >= 1
    fault_redis.start()
    with client(proxy.url) as r:
        assert r.ping()


def test_proxy_stop_joins_its_thread() -> None:
    """stop() closes the port and joins the daemon thread."""
    with RedisServer() as server:
        tcp_proxy = TcpProxy(server.host, server.port).start()
        with client(tcp_proxy.url) as r:
            assert r.ping()
            tcp_proxy.stop()
            with pytest.raises(redis.ConnectionError):
                r.ping()
    assert not any(t.name == f"TcpProxy-{tcp_proxy.port}" for t in threading.enumerate())


# ----------------------------------------------------------------------------- cluster


def test_cluster_serves_keys_in_every_slot_range(redis_cluster: RedisCluster) -> None:
    """A redis-py RedisCluster client sets and gets keys on all three masters."""
    nodes = [redis.cluster.ClusterNode(host, port) for host, port in redis_cluster.startup_nodes]
    rc = redis.cluster.RedisCluster(startup_nodes=nodes, socket_timeout=2.0)
    try:
        keys = [f"memo:k{i}" for i in range(30)]
        for key in keys:
            rc.set(key, key)
        assert [rc.get(key) for key in keys] == [key.encode() for key in keys]
        owners = {redis_cluster.node_for_key(key).port for key in keys}
        assert len(owners) == 3
    finally:
        rc.close()
    for i in range(3):
        info = redis_cluster.cluster_info(i)
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == "16384"
    assert redis_cluster.url == f"redis://127.0.0.1:{redis_cluster.node(0).port}/0?cluster=true"
    assert [kind for kind, _ in redis_cluster.roles().values()] == ["master"] * 3


@pytest.mark.timeout(120)
def test_cluster_replica_takes_over_a_killed_master(fault_cluster: RedisCluster) -> None:
    """Killing a master promotes its replica; a restarted old master rejoins as a replica."""
    roles = fault_cluster.roles()
    assert sorted(kind for kind, _ in roles.values()) == ["master"] * 3 + ["replica"] * 3
    victim = fault_cluster.node_for_key("memo:victim")
    (replica,) = fault_cluster.replicas_of(victim)
    assert fault_cluster.master_of(replica) is victim
    victim.kill()
    fault_cluster.wait_ok(30)
    assert fault_cluster.node_for_key("memo:victim") is replica
    victim.start()  # keeps nodes.conf: rejoins the cluster as a replica of its old replica
    fault_cluster.wait_ok(30)
    assert fault_cluster.master_of(victim) is replica


# ----------------------------------------------------------------------------- sentinel


def test_sentinel_master_for_sets_and_gets(redis_sentinel: RedisSentinel) -> None:
    """redis-py's Sentinel.master_for('mymaster') writes and reads through the Sentinel."""
    assert redis_sentinel.url == f"redis+sentinel://127.0.0.1:{redis_sentinel.port}/mymaster/0"
    sentinel = redis.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=1.0)
    master = sentinel.master_for("mymaster", socket_timeout=1.0)
    try:
        master.set("memo:s", b"1")
        assert master.get("memo:s") == b"1"
        assert sentinel.discover_master("mymaster") == redis_sentinel.master.address
    finally:
        master.close()
        for s in sentinel.sentinels:
            s.close()


@pytest.mark.timeout(120)
def test_sentinel_fails_over_to_the_replica(
    fault_redis: RedisServer, fault_sentinel: RedisSentinel
) -> None:
    """Killing the master makes the Sentinel promote the replica; master_for follows it."""
    sentinel = redis.sentinel.Sentinel(fault_sentinel.sentinels, socket_timeout=1.0)
    try:
        fault_redis.kill()
        promoted = fault_sentinel.wait_failover(30)
        assert sentinel.discover_master("mymaster") == promoted.address
        master = sentinel.master_for("mymaster", socket_timeout=1.0)
        master.set("memo:after", b"1")
        assert master.get("memo:after") == b"1"
        master.close()
    finally:
        for s in sentinel.sentinels:
            s.close()


# ----------------------------------------------------------------------------- ACL


def test_acl_user_is_limited_to_memo_keys(redis_server: RedisServer, namespace: str) -> None:
    """The ACL user can use memo:* keys, tracking and pub/sub, but not other keys or @dangerous."""
    url = acl_user(redis_server, user=f"memo-{namespace}", password="pw")
    assert url == f"redis://memo-{namespace}:pw@127.0.0.1:{redis_server.port}/0"
    with client(url) as r:
        key = f"memo:{namespace}:x"
        assert r.set(key, b"1") and r.get(key) == b"1"
        assert r.unlink(key) == 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.get("other:x")
        for denied in ACL_DENIED_EXAMPLES:
            with pytest.raises(redis.exceptions.NoPermissionError):
                r.execute_command(*denied)
        assert r.execute_command("CLIENT", "ID")
        assert r.execute_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "memo:")
        pubsub = r.pubsub()
        pubsub.subscribe("__redis__:invalidate", f"memo:{namespace}")
        pubsub.close()
        r.publish(f"memo:{namespace}", b"x")


def test_acl_user_from_url_and_on_a_cluster(
    redis_server: RedisServer, redis_cluster: RedisCluster
) -> None:
    """acl_user() accepts an admin URL or a whole cluster and returns URLs with credentials."""
    url = acl_user(redis_server.url, user="memo-url", password="p")
    assert url == f"redis://memo-url:p@127.0.0.1:{redis_server.port}/0"
    with client(url) as r:
        assert r.execute_command("ACL", "WHOAMI") == b"memo-url"
    cluster_url = acl_user(redis_cluster, user="memo-cluster", password="p")
    assert cluster_url.endswith("/0?cluster=true") and "memo-cluster:p@" in cluster_url
    host, port = redis_cluster.startup_nodes[0]
    rc = redis.cluster.RedisCluster(
        host=host, port=port, username="memo-cluster", password="p", socket_timeout=2.0
    )
    try:
        for i in range(10):
            rc.set(f"memo:acl{i}", i)
        with pytest.raises(redis.exceptions.NoPermissionError):
            rc.get("other:x")
    finally:
        rc.close()


def test_redis_servers_needs_neither_pytest_nor_redis_py() -> None:
    """tests.support.redis_servers imports only the standard library."""
    source = Path(redis_servers.__file__).read_text()
    assert "import pytest" not in source and "import redis\n" not in source
