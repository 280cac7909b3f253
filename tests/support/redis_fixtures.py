"""Pytest fixtures with real Redis servers (never mocks); load with ``pytest_plugins``.

Session-scoped servers start on first use and stop at the end of the run (and at interpreter
exit through `tests.support.redis_servers.stop_all`). When Redis cannot be started the test fails
with the install hint, under CI and locally alike: Redis tests never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.support.redis_servers import (
    INSTALL_HINT,
    RedisCluster,
    RedisSentinel,
    RedisServer,
    RedisUnavailableError,
    acl_user,
)
from tests.support.tcp_proxy import TcpProxy

T = TypeVar("T")


def require_redis(what: str, start: Callable[[], T]) -> T:
    """``start()``, or `pytest.fail` (never a skip) with the install hint if Redis is missing."""
    try:
        return start()
    except (RedisUnavailableError, OSError) as exc:
        where = "CI=true: a real Redis is required" if os.environ.get("CI") == "true" else ""
        lines = [f"could not start {what}: {exc}", f"redis-server is needed: {INSTALL_HINT}"]
        if where:
            lines.append(where)
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One standalone redis-server for the whole run; share it through `namespace`."""
    server = require_redis("redis-server", RedisServer().start)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def restricted_url(redis_server: RedisServer) -> str:
    """An ACL user on the session server: keys and channels ``memo:*``, no @dangerous commands."""
    return acl_user(redis_server)


@pytest.fixture
def redis_url(restricted_url: str) -> str:
    """The session server as the restricted ACL user: every Redis test runs with the least
    privilege memo needs (no FLUSHDB, KEYS, INFO, CONFIG; only ``memo:*`` keys)."""
    return restricted_url


@pytest.fixture
def namespace() -> str:
    """A namespace of this test only (``t`` + 12 hex), so tests never clash or flush."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A shared Redis Cluster of 3 masters; do not kill its nodes (use `fault_cluster`)."""
    cluster = require_redis("a Redis Cluster", RedisCluster(masters=3).start)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    """A shared Sentinel (service ``mymaster``) over a master of its own."""
    master = require_redis("the Sentinel's master", RedisServer().start)
    try:
        sentinel = require_redis("redis-server --sentinel", RedisSentinel(master).start)
        yield sentinel
        sentinel.stop()
    finally:
        master.stop()


@pytest.fixture
def fault_redis() -> Iterator[RedisServer]:
    """A private redis-server this test may kill, pause or restart."""
    server = require_redis("redis-server", RedisServer().start)
    yield server
    server.stop()


@pytest.fixture
def proxy(fault_redis: RedisServer) -> Iterator[TcpProxy]:
    """A `TcpProxy` in front of `fault_redis`: block, drop, refuse or flap its connections."""
    tcp_proxy = TcpProxy(fault_redis.host, fault_redis.port).start()
    yield tcp_proxy
    tcp_proxy.stop()


@pytest.fixture
def fault_cluster() -> Iterator[RedisCluster]:
    """A private Redis Cluster (3 masters, 1 replica each) this test may break (~2-3 s)."""
    cluster = require_redis("a Redis Cluster", RedisCluster(masters=3, replicas=1).start)
    yield cluster
    cluster.stop()


@pytest.fixture
def fault_sentinel(fault_redis: RedisServer) -> Iterator[RedisSentinel]:
    """A private Sentinel over `fault_redis` with one replica, so a failover can happen."""
    sentinel = require_redis("a Sentinel", RedisSentinel(fault_redis, replicas=1).start)
    yield sentinel
    sentinel.stop()
