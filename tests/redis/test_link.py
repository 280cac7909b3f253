"""The Link: memo's commands sent on connections it keeps (memo/_redis/_async/link.py, the sync
one generated; the packing and the sends in memo/_redis/wire.py), against real servers.

What the client's `execute_command` did must still hold: the same bytes on the wire, the same
replies (callbacks applied), an error reply that leaves the connection in use, a connection
error that came at once tried again on a fresh connection, a timeout not retried, and no
connection reused with a reply in flight (a cancelled read among them).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from hypothesis import given
from hypothesis import strategies as st

import memo
from memo._redis._async.link import AsyncLink
from memo._redis._sync.link import SyncLink
from memo._redis.client import direct_pool
from memo._redis.wire import pack
from tests.support.fault_proxy import FaultProxy
from tests.support.redis_servers import RedisServer
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(60)
TIMEOUT = 0.25  # the socket timeout of the clients made here (memo's default is 0.2 s)

_ARGUMENT = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.booleans(),
)


_LONG = st.one_of(st.binary(min_size=5990, max_size=6010), st.text(min_size=5990, max_size=6010))


@given(
    name=st.sampled_from(["GET", "EVALSHA", "CONFIG GET", "SET", "JSON.SET", " GET"]),
    rest=st.lists(st.one_of(_ARGUMENT, _LONG), max_size=6),
)
def test_pack_makes_the_bytes_redis_py_makes(name: str, rest: list[Any]) -> None:
    connection = redis.Redis().connection_pool.make_connection()  # never connected
    args = (name, *rest)
    try:
        expected: Any = b"".join(connection.pack_command(*args))
    except redis.DataError as exc:  # a bool: refused by both, with redis-py's own message
        expected = exc
    if isinstance(expected, Exception):
        with pytest.raises(redis.DataError):
            pack(connection, args, "utf-8", "strict")
    else:
        assert b"".join(pack(connection, args, "utf-8", "strict")) == expected


def sync_client(url: str, **options: Any) -> Any:
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, **options
    )


@pytest.fixture
def key(namespace: str) -> str:
    return f"memo:{namespace}:link"


def counting_checkouts(pool: Any) -> list[int]:
    """Count the pool's get_connection calls made from now on by this thread (an instance
    attribute shadows it). A store's own threads (its events subscriber, which connects and
    reads the generations once it has started) check out connections of their own, when
    they run: not the calls' doing, and not in a fixed order with them."""
    count = [0]
    original = pool.get_connection
    caller = threading.get_ident()

    def get_connection(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == caller:
            count[0] += 1
        return original(*args, **kwargs)

    pool.get_connection = get_connection
    return count


def test_a_warm_link_sends_on_its_kept_connection(redis_url: str, key: str) -> None:
    client = sync_client(redis_url)
    link = SyncLink(client, keep=True)
    assert link.pool is client.connection_pool
    checkouts = counting_checkouts(link.pool)
    link.execute("SET", key, b"value")
    replies = [link.execute("GET", key) for _ in range(50)]
    assert replies == [b"value"] * 50
    assert checkouts[0] == 1  # one connection, taken once, used 51 times
    assert len(link.idle) == 1
    client.close()


def test_a_given_clients_pool_gets_its_connection_back_after_each_command(
    redis_url: str, key: str
) -> None:
    """A client given to memo shares its pool with the application: memo keeps none of its
    connections (here the pools hold a single one)."""
    for pool in (
        redis.BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=0.05),
        redis.ConnectionPool.from_url(redis_url, max_connections=1),
    ):
        client = redis.Redis(connection_pool=pool)
        link = SyncLink(client, keep=False)
        link.execute("SET", key, "v")
        assert link.execute("GET", key) == b"v"
        assert link.idle == []
        assert client.execute_command("GET", key) == b"v"  # its one connection is free
        client.close()


def test_replies_are_the_clients_replies(redis_url: str, key: str) -> None:
    """Each command on one key through the link, and on a twin key through the client."""
    client = sync_client(redis_url)
    link = SyncLink(client, keep=True)
    commands = [
        ("SET", "{k}", "1"),
        ("GET", "{k}"),
        ("INCR", "{k}"),
        ("EXISTS", "{k}", "{k}:none"),
        ("HSET", "{k}:hash", "a", 1, "b", b"\x00"),
        ("HGETALL", "{k}:hash"),
        ("PTTL", "{k}"),
        ("DEL", "{k}", "{k}:hash"),
        ("GET", "{k}"),
    ]
    for command in commands:
        mine, twin = (
            tuple(a.format(k=k) if isinstance(a, str) else a for a in command)
            for k in (key, f"{key}:twin")
        )
        assert link.execute(*mine) == client.execute_command(*twin), command
    assert link.execute("SET", key, "x") is True  # redis-py's callback, as the client gives it
    # a SET ... GET hands back the bytes it replaced (or None), not the callback's bool
    assert link.execute("SET", key, b"\xff", "PX", 60_000, "GET") == b"x"
    assert link.execute("SET", key, "y", "GET") == b"\xff"
    client.execute_command("DEL", key)
    assert link.execute("SET", key, "z", "GET") is None
    client.close()


def test_an_error_reply_raises_and_keeps_the_connection(redis_url: str, key: str) -> None:
    client = sync_client(redis_url)
    link = SyncLink(client, keep=True)
    link.execute("SET", key, "not a number")
    with pytest.raises(redis.ResponseError):
        link.execute("INCR", key)
    assert len(link.idle) == 1
    kept = link.idle[0]
    assert link.execute("GET", key) == b"not a number"
    assert link.idle == [kept]
    link.execute("DEL", key)
    client.close()


def test_connections_the_server_closed_are_replaced_at_once(fault_redis: RedisServer) -> None:
    """Every kept connection killed: the command is tried again on a fresh one, and answers."""
    client = sync_client(fault_redis.url)
    link = SyncLink(client, keep=True)
    link.idle.extend(client.connection_pool.get_connection() for _ in range(3))
    link.execute("SET", "memo:k", "v")
    killed = fault_redis.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    assert killed >= 3  # the link's three (this fresh server has no other client to keep)
    assert link.execute("GET", "memo:k") == b"v"
    assert len(link.idle) == 1  # the dead ones were dropped, not tried one by one
    client.close()


def test_a_timeout_is_not_retried_and_its_connection_is_not_reused(
    proxy: TcpProxy, fault_redis: RedisServer
) -> None:
    client = sync_client(proxy.url)
    link = SyncLink(client, keep=True)
    link.execute("SET", "memo:a", "a")
    link.execute("SET", "memo:b", "b")
    accepted = proxy.stats.accepted
    proxy.block()
    with pytest.raises(redis.TimeoutError):
        link.execute("GET", "memo:a")
    assert link.idle == []
    assert proxy.stats.accepted == accepted  # no second connection: no retry
    proxy.unblock()  # the GET's reply now comes, to a connection memo closed
    assert link.execute("GET", "memo:b") == b"b"
    client.close()


def test_a_cancelled_read_never_hands_its_reply_to_the_next_command(
    fault_redis: RedisServer,
) -> None:
    slow = FaultProxy(fault_redis.host, fault_redis.port).start()

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(slow.url, socket_timeout=5.0)
        link = AsyncLink(client, keep=True)
        await link.execute("SET", "memo:first", "first")
        await link.execute("SET", "memo:second", "second")
        slow.latency(0.3)
        first = asyncio.ensure_future(link.execute("GET", "memo:first"))
        await asyncio.sleep(0.1)  # sent, its reply not back yet
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert link.idle == []
        slow.latency(0)
        assert await link.execute("GET", "memo:second") == b"second"
        await client.aclose()

    try:
        asyncio.run(main())
    finally:
        slow.stop()


def test_an_async_link_answers_as_its_client(redis_url: str, key: str) -> None:
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=TIMEOUT)
        link = AsyncLink(client, keep=True)
        assert link.pool is client.connection_pool
        assert await link.execute("SET", key, b"v") is True
        assert [await link.execute("GET", key) for _ in range(20)] == [b"v"] * 20
        assert len(link.idle) == 1
        with pytest.raises(redis.ResponseError):
            await link.execute("INCR", key)
        assert len(link.idle) == 1
        assert await link.execute("DEL", key) == 1
        await client.aclose()

    asyncio.run(main())


def test_an_async_write_the_server_does_not_take_times_out(proxy: TcpProxy) -> None:
    """A request larger than the socket buffers, to a server that stopped reading: the send
    waits one socket timeout, then fails as redis-py's own send does."""

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(proxy.url, socket_timeout=TIMEOUT)
        link = AsyncLink(client, keep=True)
        await link.execute("PING")
        proxy.block()
        with pytest.raises(redis.TimeoutError, match="writing"):
            await link.execute("SET", "memo:big", b"x" * 64_000_000)
        assert link.idle == []
        proxy.unblock()
        await client.aclose()

    asyncio.run(main())


class Instrumented(redis.Redis):
    """A client whose execute_command is its own (as tracing instrumentation makes it)."""

    calls = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        type(self).calls += 1
        return super().execute_command(*args, **options)


@pytest.fixture
def cluster_client(redis_cluster: Any) -> Iterator[Any]:
    host, port = redis_cluster.startup_nodes[0]
    client = redis.cluster.RedisCluster(host=host, port=port)
    yield client
    client.close()


def test_clients_whose_commands_need_execute_command_keep_it(
    redis_url: str, key: str, cluster_client: Any
) -> None:
    single = sync_client(redis_url, single_connection_client=True)
    async_single = redis.asyncio.Redis.from_url(redis_url, single_connection_client=True)
    assert direct_pool(async_single) is None  # before its first command, too
    instrumented = Instrumented.from_url(redis_url, socket_timeout=TIMEOUT)
    for client in (single, instrumented, cluster_client):
        assert direct_pool(client) is None
        link = SyncLink(client, keep=True)
        link.execute("SET", key, "v")
        assert link.execute("GET", key) == b"v"
        assert link.idle == []
    assert Instrumented.calls == 2
    single.execute_command("DEL", key)
    single.close()
    instrumented.close()


def test_memo_stores_send_through_their_link(redis_url: str, namespace: str) -> None:
    """A RedisStore's calls check out no connection once warm: hits and misses alike. One
    made with a client of the application's gives its connections back."""
    given = sync_client(redis_url)
    assert not memo.RedisStore(client=given, namespace=namespace).backend.link.keep
    assert not memo.RedisStore(redis_url, client=given, namespace=namespace).backend.link.keep
    store = memo.RedisStore(redis_url, namespace=namespace, secret="link")
    assert store.backend.link.keep
    checkouts = counting_checkouts(store.backend.client.connection_pool)

    @memo.cached(ttl=60, store=store)
    def double(n: int) -> int:
        return 2 * n

    assert double(1) == 2
    warm = checkouts[0]
    assert [double(n) for n in range(1, 30)] == [2 * n for n in range(1, 30)]
    assert checkouts[0] == warm
    assert double.stats.l2_hits == 1 and double.stats.misses == 29
    store.close()
    given.close()


def test_a_script_the_server_forgot_is_sent_whole(fault_redis: RedisServer, namespace: str) -> None:
    """After SCRIPT FLUSH (a restart, a failover to a fresh replica), EVALSHA answers NOSCRIPT
    and the link sends the script itself: the miss is stored, no error counted."""
    store = memo.TieredStore(
        memo.MemoryStore(), memo.RedisStore(fault_redis.url, namespace=namespace, secret="link")
    )

    @memo.cached(ttl=60, store=store)
    def triple(n: int) -> int:
        return 3 * n

    assert triple(1) == 3
    assert fault_redis.command("SCRIPT", "FLUSH") == "OK"
    assert triple(2) == 6
    store.memory.clear()
    assert triple(2) == 6
    assert triple.stats.as_dict()["l2_hits"] == 1
    assert triple.stats.errors == 0
    store.close()


def test_an_applications_reply_callback_does_not_reach_memos_reads(
    redis_url: str, namespace: str
) -> None:
    """memo reads a GET's and a script's reply as Redis sends it, whatever callback the
    application set on the client it gave memo."""
    given = sync_client(redis_url)
    given.set_response_callback("GET", lambda reply, **options: "mangled")
    given.set_response_callback("EVALSHA", lambda reply, **options: "mangled")
    store = memo.RedisStore(client=given, namespace=namespace, secret="link")

    @memo.cached(ttl=60, store=store)
    def square(n: int) -> int:
        return n * n

    assert square(3) == 9
    assert square(3) == 9
    assert square.stats.l2_hits == 1 and square.stats.errors == 0
    store.close()
    given.close()


def test_threads_sharing_a_link_each_get_their_own_replies(redis_url: str, key: str) -> None:
    """Many threads on one link: every reply is the one to its own command (no connection
    is ever used by two at once), and the link keeps at most one connection per thread."""
    client = sync_client(redis_url)
    link = SyncLink(client, keep=True)
    threads, rounds = 8, 200
    wrong: list[tuple[int, int, Any]] = []

    def worker(t: int) -> None:
        mine = f"{key}:{t}"
        for i in range(rounds):
            link.execute("SET", mine, f"{t}:{i}")
            reply = link.execute("GET", mine)
            if reply != f"{t}:{i}".encode():
                wrong.append((t, i, reply))

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert not any(thread.is_alive() for thread in pool)
    assert wrong == []
    assert 1 <= len(link.idle) <= threads
    assert len(set(map(id, link.idle))) == len(link.idle)  # no connection kept twice
    client.execute_command("DEL", *(f"{key}:{t}" for t in range(threads)))
    client.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_never_sends_on_its_parents_kept_connections(
    redis_url: str, namespace: str
) -> None:
    store = memo.RedisStore(redis_url, namespace=namespace, secret="link")

    @memo.cached(ttl=60, store=store)
    def negate(n: int) -> int:
        return -n

    assert negate(1) == -1
    kept = list(store.backend.link.idle)
    assert kept
    pid = os.fork()
    if pid == 0:  # the child: a fresh link, its own connection; exit code 0 when all held
        code = 1
        try:
            fresh = store.backend._link is None
            right = negate(1) == -1 and negate(2) == -2
            own = not set(map(id, store.backend.link.idle)) & set(map(id, kept))
            code = 0 if fresh and right and own else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [negate(n) for n in (1, 2, 3)] == [-1, -2, -3]  # the parent's connection is intact
    store.close()
