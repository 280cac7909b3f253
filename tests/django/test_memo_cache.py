"""MemoCache beyond Django's own tests: cache_page and fragment caching through a request,
the async API, clear() of its own namespace only, L1 copies, and configuration errors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from django.test import Client, override_settings

from memo import ConfigurationError
from memo.django import MemoCache
from tests.django import app


def test_cache_page_serves_the_cached_response(caches: Any) -> None:
    """A cache_page view renders once; the next request is served from the cache."""
    client = Client()
    before = app.RENDERS["page"]
    first = client.get("/page").content
    assert client.get("/page").content == first
    assert app.RENDERS["page"] == before + 1


def test_template_fragment_is_cached_per_vary_on(caches: Any) -> None:
    """`{% cache 60 greeting who %}` keeps the first text per `who`."""
    client = Client()
    assert client.get("/fragment", {"text": "one", "who": "ann"}).content == b"[one]"
    assert client.get("/fragment", {"text": "two", "who": "ann"}).content == b"[one]"
    assert client.get("/fragment", {"text": "two", "who": "bob"}).content == b"[two]"


def test_async_api(cache: Any) -> None:
    """The a* methods use memo's async Redis client and agree with the sync ones."""

    async def scenario() -> list[Any]:
        await cache.aset("k", 1)
        added = await cache.aadd("k", 2)
        incremented = await cache.aincr("k", 5)
        decremented = await cache.adecr("k")
        await cache.aset_many({"a": 1, "b": None})
        many = await cache.aget_many(["a", "b", "c"])
        touched = await cache.atouch("a", 100)
        await cache.adelete_many(["a"])
        has_a = await cache.ahas_key("a")
        await cache.aclear()
        return [added, incremented, decremented, many, touched, has_a, await cache.aget("k")]

    assert asyncio.run(scenario()) == [False, 6, 5, {"a": 1, "b": None}, True, False, None]
    assert cache.get("k") is None


def test_clear_leaves_other_namespaces_and_keys_alone(redis_url: str, namespace: str) -> None:
    """clear() moves this namespace's generation: another namespace's entries and foreign
    Redis keys stay (no FLUSHDB, no KEYS: the test user is not allowed them anyway)."""
    ours = MemoCache(redis_url, {"OPTIONS": {"NAMESPACE": namespace}})
    other = MemoCache(redis_url, {"OPTIONS": {"NAMESPACE": namespace + "x"}})
    other.set("kept", "yes")
    client = redis.Redis.from_url(redis_url)
    client.set(f"memo:{namespace}:foreign", b"1")
    ours.set("gone", "no")
    ours.clear()
    assert ours.get("gone") is None
    assert other.get("kept") == "yes"
    assert client.get(f"memo:{namespace}:foreign") == b"1"
    client.close()


def test_values_are_copies(cache: Any) -> None:
    """Mutating a value after set() or after get() never changes what the cache holds."""
    value = {"items": [1]}
    cache.set("v", value)
    value["items"].append(2)
    read = cache.get("v")
    read["items"].append(3)
    assert cache.get("v") == {"items": [1]}


def test_an_entry_signed_with_another_secret_is_a_miss(redis_url: str, namespace: str) -> None:
    """Two caches on one namespace with different secrets: neither unpickles the other's
    entries (they fail the HMAC check and read as misses)."""
    ours = MemoCache(redis_url, {"OPTIONS": {"NAMESPACE": namespace, "SECRET": "a"}})
    theirs = MemoCache(redis_url, {"OPTIONS": {"NAMESPACE": namespace, "SECRET": "b"}})
    theirs.set("k", "from b")
    assert ours.get("k", "miss") == "miss"


@pytest.mark.parametrize(
    ("location", "options", "message"),
    [
        ("redis://127.0.0.1:1/0", {"MAX_ENTRIES": 10}, "unknown OPTIONS \\['MAX_ENTRIES'\\]"),
        ("redis://a:1/0;redis://b:1/0", {}, "must be one Redis URL"),
    ],
)
def test_configuration_errors(location: str, options: dict[str, Any], message: str) -> None:
    """Unknown options and several servers are refused, naming the way out."""
    with pytest.raises(ConfigurationError, match=message):
        MemoCache(location, {"OPTIONS": options})


def test_the_secret_comes_from_secret_key_and_its_fallbacks(redis_url: str, namespace: str) -> None:
    """Without OPTIONS['SECRET'], entries written under the old SECRET_KEY stay readable
    after a rotation that lists it in SECRET_KEY_FALLBACKS."""
    params = {"OPTIONS": {"NAMESPACE": namespace}}
    with override_settings(SECRET_KEY="old-key"):
        MemoCache(redis_url, params).set("k", "v")
    with override_settings(SECRET_KEY="new-key", SECRET_KEY_FALLBACKS=["old-key"]):
        assert MemoCache(redis_url, params).get("k") == "v"
    with override_settings(SECRET_KEY="other-key"):
        assert MemoCache(redis_url, params).get("k") is None


def test_fails_open_when_redis_goes_away(proxy: Any, namespace: str) -> None:
    """Redis refusing connections never fails a Django request; once memo sees the outage
    (within a few calls), reads and writes go on in this process's L1, clear() included."""
    cache = MemoCache(proxy.url, {"OPTIONS": {"NAMESPACE": namespace}})
    cache.set("a", 1)
    assert cache.get("a") == 1
    proxy.drop(reset=True)
    proxy.refuse()
    deadline = time.monotonic() + 5
    # The events connection's loss flushes L1 once, whenever its thread sees it: wait for
    # that first, or it may take "a" away between the two reads below.
    while cache.store.redis.events.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    # The flag drops before the flush runs (the events thread sets it, then tells the
    # stores): wait until the value from before the outage has left L1 too, or the flush can
    # land between add("b") and incr("b") below (it did once, under CI load).
    while cache.get("a") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    cache.set("a", 2)
    while cache.get("a") != 2 and time.monotonic() < deadline:  # a miss meanwhile is fine
        time.sleep(0.05)
        cache.set("a", 2)
    assert cache.get("a") == 2
    assert cache.add("b", 3) is True
    assert cache.incr("b") == 4
    assert cache.get_many(["a", "b"]) == {"a": 2, "b": 4}
    cache.clear()
    assert cache.get("a") is None
