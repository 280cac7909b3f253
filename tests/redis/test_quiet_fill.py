"""A miss's result publishes an event only when another process could need it.

A fill (a miss's write) where Redis held no entry evicts nothing anywhere, so it publishes
nothing unless a caller in another process waits for it: such a caller marks the lease (a
`+` after the holder's token) and the holder's write then publishes, which wakes it. An
overwrite, a refresh and an invalidation always publish. The scripts that check a lease's
token (write, extend, release) accept the marked lease as the holder's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import memo
from memo._redis.ops import EXTEND, RELEASE, WRITE, Command, ScriptCall

SECRET = "quiet-fill-secret"
QUIET = 0.3  # seconds a subscriber listens for an event that must not come


@pytest.fixture
def events(redis_url: str, namespace: str) -> Iterator[Any]:
    """A raw subscriber to the namespace's events channel."""
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"memo:{namespace}:events")
    try:
        yield pubsub
    finally:
        pubsub.close()
        client.close()


def messages(pubsub: Any, seconds: float = QUIET) -> list[str]:
    """Every event published within seconds (bounded: one poll per 50 ms)."""
    found: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is not None and message["type"] == "message":
            found.append(message["data"].decode())
    return found


def about(found: list[str], remote: str) -> list[str]:
    """The events naming remote."""
    return [m for m in found if m.endswith(remote)]


def cached_in(store: Any, calls: list[int], slow: threading.Event | None = None) -> Any:
    """`value(k)` cached in store, under one name whatever the store."""

    def value(k: int) -> str:
        calls.append(k)
        if slow is not None:
            slow.wait(5)
        return f"v{k}"

    value.__qualname__ = "value"
    return memo.cached(ttl=60, store=store)(value)


def test_a_fresh_fill_is_quiet_and_an_overwrite_is_not(
    redis_url: str, namespace: str, events: Any
) -> None:
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    calls: list[int] = []
    value = cached_in(store, calls)
    remote = value.cache_key(1)
    assert value(1) == "v1"
    assert about(messages(events), remote) == []  # nothing to evict anywhere
    assert value.refresh(1) == "v1"  # replaces the entry: copies elsewhere must go
    assert len(about(messages(events), remote)) == 1
    assert value.invalidate(1) is True
    assert len(about(messages(events), remote)) == 1
    assert calls == [1, 1]
    store.close()


def test_a_waiter_elsewhere_marks_the_lease_and_the_fill_wakes_it(
    redis_url: str, namespace: str, events: Any
) -> None:
    holder_store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    waiter_store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    release = threading.Event()
    holder_calls: list[int] = []
    waiter_calls: list[int] = []
    holder = cached_in(holder_store, holder_calls, slow=release)
    waiter = cached_in(waiter_store, waiter_calls)
    remote = holder.cache_key(7)
    raw = redis.Redis.from_url(redis_url)
    results: dict[str, str] = {}
    first = threading.Thread(target=lambda: results.update(holder=holder(7)), daemon=True)
    first.start()
    deadline = time.monotonic() + 5
    while raw.get(remote + ":lease") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    token = raw.get(remote + ":lease")
    assert isinstance(token, bytes) and not token.endswith(b"+")  # held, nobody waits yet
    second = threading.Thread(target=lambda: results.update(waiter=waiter(7)), daemon=True)
    second.start()
    while raw.get(remote + ":lease") == token and time.monotonic() < deadline:
        time.sleep(0.01)
    assert raw.get(remote + ":lease") == token + b"+"  # the waiter's claim marked it
    release.set()
    first.join(5)
    second.join(5)
    assert results == {"holder": "v7", "waiter": "v7"}
    assert (holder_calls, waiter_calls) == ([7], [])  # the waiter never computed
    assert waiter.stats.waits == 1
    assert len(about(messages(events), remote)) == 1  # the fill told the waiter
    assert raw.exists(remote + ":lease") == 0
    raw.close()
    holder_store.close()
    waiter_store.close()


def run(client: Any, script: Any, keys: tuple[str, ...], args: tuple[Any, ...]) -> Any:
    return client.eval(script.source, len(keys), *keys, *args)


def test_the_holder_of_a_marked_lease_still_extends_releases_and_writes(
    redis_url: str, namespace: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    entry = f"memo:{namespace}:marked:v1:{{k}}"
    lease = entry + ":lease"
    channel = f"memo:{namespace}:events"
    client.set(lease, "tok+", px=5000)
    assert run(client, EXTEND, (lease,), ("tok", 9000)) == 1
    assert client.pttl(lease) > 5000
    assert run(client, EXTEND, (lease,), ("other", 9000)) == 0
    assert run(client, RELEASE, (lease,), ("tok", channel, "k|w|x")) == 1
    assert client.exists(lease) == 0
    client.set(lease, "tok+", px=5000)
    written = run(client, WRITE, (entry, lease), (b"data", 1000, "tok", "fill", channel, "m"))
    assert written == 1
    assert client.get(entry) == b"data"
    assert client.exists(lease) == 0
    client.set(lease, "tok2+", px=5000)  # a newer holder's lease: the old token is refused
    refused = run(client, WRITE, (entry, lease), (b"old", 1000, "tok", "fill", channel, "m"))
    assert refused == 0
    assert client.get(entry) == b"data"
    client.close()


# -- lock=False: a plain SET ... GET, the script only when Redis refuses it ---------------------


def unlocked_in(store: Any, calls: list[int]) -> Any:
    """`value(k)` cached in store without single-flight."""

    def value(k: int) -> str:
        calls.append(k)
        return f"v{k}"

    value.__qualname__ = "value"
    return memo.cached(ttl=60, store=store, lock=False)(value)


def test_an_unlocked_fill_is_quiet_until_it_replaces_what_was_there(
    redis_url: str, namespace: str, events: Any
) -> None:
    """A fresh fill publishes nothing; one that replaces a foreign value at memo's key (read
    as a miss) publishes once, and stores an entry that the next call hits."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    client = redis.Redis.from_url(redis_url)
    calls: list[int] = []
    value = unlocked_in(store, calls)
    remote = value.cache_key(1)
    assert value(1) == "v1"
    assert about(messages(events), remote) == []
    client.set(remote, b"not an entry of memo's", px=60_000)
    assert value(1) == "v1"  # the foreign bytes are a miss, replaced
    assert len(about(messages(events), remote)) == 1
    assert value(1) == "v1"
    assert calls == [1, 1]
    assert store.backend.plain_fills
    client.close()
    store.close()


def test_an_unlocked_fill_replaces_a_foreign_type_and_ends_no_lease(
    redis_url: str, namespace: str
) -> None:
    """SET ... GET refuses a key of another type (WRONGTYPE): the script replaces it, and the
    next fill is plain again. A lease another caller holds on the key outlives the fill."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    client = redis.Redis.from_url(redis_url)
    calls: list[int] = []
    value = unlocked_in(store, calls)
    foreign, leased = value.cache_key(1), value.cache_key(2)
    client.hset(foreign, "field", "a hash at memo's key")
    client.set(leased + ":lease", "a-holder", px=60_000)
    assert [value(1), value(2), value(1), value(2)] == ["v1", "v2", "v1", "v2"]
    assert calls == [1, 2]
    assert client.type(foreign) == b"string"
    assert client.get(leased + ":lease") == b"a-holder"
    assert store.backend.plain_fills
    client.close()
    store.close()


def test_an_async_unlocked_fill_replaces_a_foreign_type(redis_url: str, namespace: str) -> None:
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    client = redis.Redis.from_url(redis_url)
    calls: list[int] = []

    @memo.cached(ttl=60, store=store, lock=False)
    async def value(k: int) -> str:
        calls.append(k)
        return f"v{k}"

    client.rpush(value.cache_key(1), "a list at memo's key")

    async def main() -> list[str]:
        return [await value(1), await value(1)]

    assert asyncio.run(main()) == ["v1", "v1"]
    assert calls == [1]
    assert client.type(value.cache_key(1)) == b"string"
    client.close()
    store.close()


def test_a_server_without_set_get_gets_the_script_from_then_on(
    redis_url: str, namespace: str
) -> None:
    """Redis before 6.2 answers SET ... GET with a syntax error: that fill and every later
    one go through WRITE (the operation, driven by hand with the old server's reply)."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    backend = store.backend
    fill = backend._set("memo:k", b"data", 1000, (), token="", mode="unlocked")
    first = next(fill)
    assert isinstance(first, Command) and first.answered
    assert first.args == ("SET", "memo:k", b"data", "PX", 1000, "GET")
    second = fill.send(redis.exceptions.ResponseError("ERR syntax error"))
    assert isinstance(second, ScriptCall) and second.script is WRITE
    assert second.args[3] == "fill"  # WRITE's name for it
    with pytest.raises(StopIteration) as done:
        fill.send(1)
    assert done.value.value is True
    assert backend.plain_fills is False
    again = next(backend._set("memo:k", b"data", 0, (), token="", mode="unlocked"))
    assert isinstance(again, ScriptCall) and again.script is WRITE
    store.close()


def test_any_other_error_reply_fails_the_fill_as_the_script_would(
    redis_url: str, namespace: str
) -> None:
    """An out-of-memory (or read-only, or permission) reply is an error of that write, like
    the script's would be: raised into the executor, and the next fill is plain again."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    backend = store.backend
    fill = backend._set("memo:k", b"data", 1000, (), token="", mode="unlocked")
    next(fill)
    oom = redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    with pytest.raises(redis.exceptions.ResponseError, match="OOM"):
        fill.send(oom)
    assert backend.plain_fills is True
    again = next(backend._set("memo:k", b"data", 1000, (), token="", mode="unlocked"))
    assert isinstance(again, Command) and again.answered
    store.close()
