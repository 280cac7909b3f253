"""Django's own backend tests (`tests/cache/tests.py`, `BaseCacheTests`), ported by hand to
memo's `MemoCache` over a real Redis. Each test names the one it ports; what does not apply
is listed, with the reason, in docs/django.md ("Django's tests")."""

from __future__ import annotations

import pickle
import time
import warnings
import zlib
from typing import Any

import pytest
from django.core.cache import CacheKeyWarning
from django.core.cache.backends.base import BaseCache

from memo.django import MemoCache

KEY_ERRORS_WITH_MEMCACHED_MSG = (
    "Cache key contains characters that will cause errors if used with memcached: %r"
)


def f() -> int:
    """A module-level function, cached by reference (as in Django's tests)."""
    return 42


class C:
    """A module-level class, cached by reference (as in Django's tests)."""

    def m(self) -> int:
        return 24


class Unpicklable:
    """Refuses to be pickled."""

    def __getstate__(self) -> Any:
        raise pickle.PickleError()


def test_simple(cache: Any) -> None:
    """Ports BaseCacheTests.test_simple: set then get."""
    cache.set("key", "value")
    assert cache.get("key") == "value"


def test_default_used_when_none_is_set(cache: Any) -> None:
    """Ports test_default_used_when_none_is_set: a cached None is returned, not the default."""
    cache.set("key_default_none", None)
    assert cache.get("key_default_none", default="default") is None


def test_add(cache: Any) -> None:
    """Ports test_add: add stores only when the key is absent."""
    assert cache.add("addkey1", "value") is True
    assert cache.add("addkey1", "newvalue") is False
    assert cache.get("addkey1") == "value"


def test_prefix(caches: Any) -> None:
    """Ports test_prefix: KEY_PREFIX separates two caches on one Redis."""
    caches["default"].set("somekey", "value")
    assert caches["prefix"].has_key("somekey") is False
    caches["prefix"].set("somekey", "value2")
    assert caches["default"].get("somekey") == "value"
    assert caches["prefix"].get("somekey") == "value2"


def test_non_existent(cache: Any) -> None:
    """Ports test_non_existent: a missing key gives None or the default."""
    assert cache.get("does_not_exist") is None
    assert cache.get("does_not_exist", "bang!") == "bang!"


def test_get_many(cache: Any) -> None:
    """Ports test_get_many: only present keys, from lists and iterators, None values kept."""
    cache.set_many({"a": "a", "b": "b", "c": "c", "d": "d"})
    assert cache.get_many(["a", "c", "d"]) == {"a": "a", "c": "c", "d": "d"}
    assert cache.get_many(["a", "b", "e"]) == {"a": "a", "b": "b"}
    assert cache.get_many(iter(["a", "b", "e"])) == {"a": "a", "b": "b"}
    cache.set_many({"x": None, "y": 1})
    assert cache.get_many(["x", "y"]) == {"x": None, "y": 1}


def test_delete(cache: Any) -> None:
    """Ports test_delete: delete says whether something was removed."""
    cache.set_many({"key1": "spam", "key2": "eggs"})
    assert cache.get("key1") == "spam"
    assert cache.delete("key1") is True
    assert cache.get("key1") is None
    assert cache.get("key2") == "eggs"


def test_delete_nonexistent(cache: Any) -> None:
    """Ports test_delete_nonexistent."""
    assert cache.delete("nonexistent_key") is False


def test_has_key(cache: Any) -> None:
    """Ports test_has_key: forever and None values count as present."""
    cache.set("hello1", "goodbye1")
    assert cache.has_key("hello1") is True
    assert cache.has_key("goodbye1") is False
    cache.set("no_expiry", "here", None)
    assert cache.has_key("no_expiry") is True
    cache.set("null", None)
    assert cache.has_key("null") is True


def test_in(cache: Any) -> None:
    """Ports test_in: the `in` operator."""
    cache.set("hello2", "goodbye2")
    assert "hello2" in cache
    assert "goodbye2" not in cache
    cache.set("null", None)
    assert "null" in cache


def test_incr(cache: Any) -> None:
    """Ports test_incr: increments, ValueError when missing, TypeError on None."""
    cache.set("answer", 41)
    assert cache.incr("answer") == 42
    assert cache.get("answer") == 42
    assert cache.incr("answer", 10) == 52
    assert cache.get("answer") == 52
    assert cache.incr("answer", -10) == 42
    with pytest.raises(ValueError):
        cache.incr("does_not_exist")
    with pytest.raises(ValueError):
        cache.incr("does_not_exist", -1)
    cache.set("null", None)
    with pytest.raises(TypeError):
        cache.incr("null")


def test_decr(cache: Any) -> None:
    """Ports test_decr."""
    cache.set("answer", 43)
    assert cache.decr("answer") == 42
    assert cache.get("answer") == 42
    assert cache.decr("answer", 10) == 32
    assert cache.get("answer") == 32
    assert cache.decr("answer", -10) == 42
    with pytest.raises(ValueError):
        cache.decr("does_not_exist")
    cache.set("null", None)
    with pytest.raises(TypeError):
        cache.decr("null")


def test_close(cache: Any) -> None:
    """Ports test_close: close() exists and leaves the shared store serving."""
    cache.close()
    cache.set("after-close", 1)
    assert cache.get("after-close") == 1


def test_data_types(cache: Any) -> None:
    """Ports test_data_types: many types round-trip, functions and classes by reference."""
    tests = {
        "string": "this is a string",
        "int": 42,
        "bool": True,
        "list": [1, 2, 3, 4],
        "tuple": (1, 2, 3, 4),
        "dict": {"A": 1, "B": 2},
        "function": f,
        "class": C,
    }
    for key, value in tests.items():
        cache.set(key, value)
        assert cache.get(key) == value, key


def test_expiration(cache: Any) -> None:
    """Ports test_expiration (1 s timeouts, 1.5 s wait): expired keys are gone, add works."""
    cache.set("expire1", "very quickly", 1)
    cache.set("expire2", "very quickly", 1)
    cache.set("expire3", "very quickly", 1)
    time.sleep(1.5)
    assert cache.get("expire1") is None
    assert cache.add("expire2", "newvalue") is True
    assert cache.get("expire2") == "newvalue"
    assert cache.has_key("expire3") is False


def test_touch(cache: Any) -> None:
    """Ports test_touch (times halved): touch gives a new timeout, or the default one."""
    cache.set("expire1", "very quickly", timeout=0.5)
    assert cache.touch("expire1", timeout=2) is True
    time.sleep(1)
    assert cache.has_key("expire1") is True
    time.sleep(1.5)
    assert cache.has_key("expire1") is False
    cache.set("expire1", "very quickly", timeout=0.5)
    assert cache.touch("expire1") is True
    time.sleep(1)
    assert cache.has_key("expire1") is True
    assert cache.touch("nonexistent") is False


def test_unicode(cache: Any) -> None:
    """Ports test_unicode: unicode keys and values through set, add and set_many."""
    stuff = {
        "ascii": "ascii_value",
        "unicode_ascii": "Iñtërnâtiônàlizætiøn1",
        "Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
        "ascii2": {"x": 1},
    }
    for key, value in stuff.items():
        cache.set(key, value)
        assert cache.get(key) == value
    for key, value in stuff.items():
        assert cache.delete(key) is True
        assert cache.add(key, value) is True
        assert cache.get(key) == value
    for key in stuff:
        assert cache.delete(key) is True
    cache.set_many(stuff)
    for key, value in stuff.items():
        assert cache.get(key) == value


def test_binary_string(cache: Any) -> None:
    """Ports test_binary_string: compressed bytes through set, add and set_many."""
    value = "value_to_be_compressed"
    compressed = zlib.compress(value.encode())
    cache.set("binary1", compressed)
    assert zlib.decompress(cache.get("binary1")).decode() == value
    assert cache.add("binary1-add", compressed) is True
    assert cache.get("binary1-add") == compressed
    cache.set_many({"binary1-set_many": compressed})
    assert cache.get("binary1-set_many") == compressed


def test_set_many(cache: Any) -> None:
    """Ports test_set_many and test_set_many_returns_empty_list_on_success."""
    assert cache.set_many({"key1": "spam", "key2": "eggs"}) == []
    assert cache.get("key1") == "spam"
    assert cache.get("key2") == "eggs"


def test_set_many_expiration(cache: Any) -> None:
    """Ports test_set_many_expiration (1 s timeout, 1.5 s wait)."""
    cache.set_many({"key1": "spam", "key2": "eggs"}, 1)
    time.sleep(1.5)
    assert cache.get("key1") is None
    assert cache.get("key2") is None


def test_set_many_empty_data(cache: Any) -> None:
    """Ports test_set_many_empty_data."""
    assert cache.set_many({}) == []


def test_delete_many(cache: Any) -> None:
    """Ports test_delete_many and test_delete_many_no_keys."""
    cache.set_many({"key1": "spam", "key2": "eggs", "key3": "ham"})
    cache.delete_many(["key1", "key2"])
    assert cache.get("key1") is None
    assert cache.get("key2") is None
    assert cache.get("key3") == "ham"
    assert cache.delete_many([]) is None


def test_clear(cache: Any) -> None:
    """Ports test_clear: clear() forgets the cache's entries."""
    cache.set_many({"key1": "spam", "key2": "eggs"})
    cache.clear()
    assert cache.get("key1") is None
    assert cache.get("key2") is None


def test_long_timeout(cache: Any) -> None:
    """Ports test_long_timeout: more than 30 days is a relative timeout."""
    month = 60 * 60 * 24 * 30 + 1
    cache.set("key1", "eggs", month)
    assert cache.get("key1") == "eggs"
    assert cache.add("key2", "ham", month) is True
    assert cache.get("key2") == "ham"
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, month)
    assert cache.get("key3") == "sausage"
    assert cache.get("key4") == "lobster bisque"


def test_forever_timeout(cache: Any) -> None:
    """Ports test_forever_timeout (1 s wait): None caches forever, touch(None) too."""
    cache.set("key1", "eggs", None)
    assert cache.get("key1") == "eggs"
    assert cache.add("key2", "ham", None) is True
    assert cache.get("key2") == "ham"
    assert cache.add("key1", "new eggs", None) is False
    assert cache.get("key1") == "eggs"
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, None)
    assert cache.get("key3") == "sausage"
    cache.set("key5", "belgian fries", timeout=0.5)
    assert cache.touch("key5", timeout=None) is True
    time.sleep(1)
    assert cache.get("key5") == "belgian fries"


def test_zero_timeout(cache: Any) -> None:
    """Ports test_zero_timeout: timeout 0 stores nothing, touch(0) expires."""
    cache.set("key1", "eggs", 0)
    assert cache.get("key1") is None
    assert cache.add("key2", "ham", 0) is True
    assert cache.get("key2") is None
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 0)
    assert cache.get("key3") is None
    assert cache.get("key4") is None
    cache.set("key5", "belgian fries", timeout=5)
    assert cache.touch("key5", timeout=0) is True
    assert cache.get("key5") is None


def test_float_timeout(cache: Any) -> None:
    """Ports test_float_timeout."""
    cache.set("key1", "spam", 100.2)
    assert cache.get("key1") == "spam"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("key with spaces and 清", KEY_ERRORS_WITH_MEMCACHED_MSG % "key with spaces and 清"),
        (
            "a" * 250 + "清",
            "Cache key will cause errors if used with memcached: "
            f"{'a' * 250 + '清'!r} (longer than 250)",
        ),
    ],
    ids=["test_invalid_key_characters", "test_invalid_key_length"],
)
def test_invalid_keys_warn(cache: Any, key: str, expected: str) -> None:
    """Ports test_invalid_key_characters and test_invalid_key_length: every operation warns
    with CacheKeyWarning on keys memcached would refuse (and still works)."""
    cache.key_func = lambda key, *args: key
    operations: list[tuple[str, list[Any]]] = [
        ("add", [key, 1]),
        ("get", [key]),
        ("set", [key, 1]),
        ("incr", [key]),
        ("decr", [key]),
        ("touch", [key]),
        ("delete", [key]),
        ("get_many", [[key, "b"]]),
        ("set_many", [{key: 1, "b": 2}]),
        ("delete_many", [[key, "b"]]),
    ]
    for operation, args in operations:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            getattr(cache, operation)(*args)
        messages = [str(w.message) for w in caught if w.category is CacheKeyWarning]
        assert messages and messages[0] == expected, operation


def test_cache_versioning_get_set(caches: Any) -> None:
    """Ports test_cache_versioning_get_set: VERSION and version= select entries."""
    cache, v2 = caches["default"], caches["v2"]
    cache.set("answer1", 42)
    assert cache.get("answer1", version=1) == 42
    assert cache.get("answer1", version=2) is None
    assert v2.get("answer1") is None
    assert v2.get("answer1", version=1) == 42
    cache.set("answer2", 42, version=2)
    assert cache.get("answer2") is None
    assert v2.get("answer2") == 42
    v2.set("answer4", 42, version=1)
    assert cache.get("answer4") == 42
    assert v2.get("answer4") is None


def test_cache_versioning_add(caches: Any) -> None:
    """Ports test_cache_versioning_add."""
    cache, v2 = caches["default"], caches["v2"]
    assert cache.add("answer1", 42, version=2) is True
    assert cache.add("answer1", 37, version=2) is False
    assert cache.add("answer1", 37, version=1) is True
    assert cache.get("answer1", version=1) == 37
    assert cache.get("answer1", version=2) == 42
    assert v2.add("answer2", 42) is True
    assert v2.add("answer2", 37) is False
    assert v2.add("answer2", 37, version=1) is True
    assert cache.get("answer2") == 37


def test_cache_versioning_has_key_and_delete(caches: Any) -> None:
    """Ports test_cache_versioning_has_key and test_cache_versioning_delete."""
    cache, v2 = caches["default"], caches["v2"]
    cache.set("answer1", 42)
    assert cache.has_key("answer1", version=2) is False
    assert v2.has_key("answer1", version=1) is True
    cache.set("answer3", 37, version=1)
    cache.set("answer3", 42, version=2)
    assert v2.delete("answer3") is True
    assert cache.get("answer3", version=1) == 37
    assert cache.get("answer3", version=2) is None


def test_cache_versioning_incr_decr(caches: Any) -> None:
    """Ports test_cache_versioning_incr_decr."""
    cache, v2 = caches["default"], caches["v2"]
    cache.set("answer1", 37, version=1)
    cache.set("answer1", 42, version=2)
    assert cache.incr("answer1") == 38
    assert cache.get("answer1", version=2) == 42
    assert v2.incr("answer1") == 43
    assert v2.decr("answer1", version=1) == 37
    assert cache.get("answer1", version=1) == 37


def test_cache_versioning_get_set_many(caches: Any) -> None:
    """Ports test_cache_versioning_get_set_many."""
    cache, v2 = caches["default"], caches["v2"]
    cache.set_many({"ford1": 37, "arthur1": 42})
    assert cache.get_many(["ford1", "arthur1"], version=1) == {"ford1": 37, "arthur1": 42}
    assert cache.get_many(["ford1", "arthur1"], version=2) == {}
    assert v2.get_many(["ford1", "arthur1"]) == {}
    v2.set_many({"ford4": 37, "arthur4": 42}, version=1)
    assert cache.get_many(["ford4", "arthur4"]) == {"ford4": 37, "arthur4": 42}


def test_incr_version(caches: Any) -> None:
    """Ports test_incr_version: Django's incr_version over memo's get/set/delete."""
    cache, v2 = caches["default"], caches["v2"]
    cache.set("answer", 42, version=2)
    assert cache.incr_version("answer", version=2) == 3
    assert cache.get("answer", version=2) is None
    assert cache.get("answer", version=3) == 42
    v2.set("answer2", 42)
    assert v2.incr_version("answer2") == 3
    assert v2.get("answer2", version=3) == 42
    with pytest.raises(ValueError):
        cache.incr_version("does_not_exist")
    cache.set("null", None)
    assert cache.incr_version("null") == 2


def test_decr_version(cache: Any) -> None:
    """Ports test_decr_version."""
    cache.set("answer", 42, version=2)
    assert cache.decr_version("answer", version=2) == 1
    assert cache.get("answer") == 42
    assert cache.get("answer", version=2) is None
    with pytest.raises(ValueError):
        cache.decr_version("does_not_exist", version=2)


def test_custom_key_func(caches: Any) -> None:
    """Ports test_custom_key_func: caches with other key functions do not see each other."""
    cache = caches["default"]
    cache.set("answer1", 42)
    assert caches["custom_key"].get("answer1") is None
    assert caches["custom_key2"].get("answer1") is None
    caches["custom_key"].set("answer2", 42)
    assert cache.get("answer2") is None
    assert caches["custom_key2"].get("answer2") == 42


def test_add_and_set_fail_on_pickleerror(cache: Any) -> None:
    """Ports test_add_fail_on_pickleerror and test_set_fail_on_pickleerror."""
    with pytest.raises(pickle.PickleError):
        cache.add("unpicklable", Unpicklable())
    with pytest.raises(pickle.PickleError):
        cache.set("unpicklable", Unpicklable())


def test_get_or_set(cache: Any) -> None:
    """Ports test_get_or_set and test_get_or_set_callable."""
    assert cache.get("projector") is None
    assert cache.get_or_set("projector", 42) == 42
    assert cache.get("projector") == 42
    assert cache.get_or_set("null", None) is None
    assert cache.get("null", "default") is None
    assert cache.get_or_set("mykey", lambda: "value") == "value"
    assert cache.get_or_set("mykey", "other") == "value"


def test_get_or_set_version(cache: Any) -> None:
    """Ports test_get_or_set_version."""
    assert cache.get_or_set("brian", 1979, version=2) == 1979
    with pytest.raises(TypeError, match="required positional argument: 'default'"):
        cache.get_or_set("brian")
    assert cache.get("brian", version=1) is None
    assert cache.get_or_set("brian", 42, version=1) == 42
    assert cache.get("brian", version=3) is None


def test_get_or_set_racing(redis_url: str, namespace: str) -> None:
    """Ports test_get_or_set_racing (without mock): when add() loses, the default returns."""

    class Losing(MemoCache):
        def add(self, *args: Any, **kwargs: Any) -> bool:
            return False

    losing = Losing(redis_url, {"OPTIONS": {"NAMESPACE": namespace}})
    assert losing.get_or_set("key", "default") == "default"


@pytest.mark.parametrize(
    "name",
    ["get_many", "set_many", "delete_many", "has_key", "incr", "get", "set", "add", "clear"],
)
def test_async_uses_specialized_implementation(name: str) -> None:
    """Ports the *_async_uses_specialized_implementation tests: every a* twin is memo's own
    async I/O, not BaseCache's sync_to_async fallback."""
    assert getattr(MemoCache, "a" + name) is not getattr(BaseCache, "a" + name)


def test_cache_write_unpicklable_object(caches: Any) -> None:
    """Ports test_cache_write_unpicklable_object: a response with cookies goes through the
    cache middleware and comes back with its content and cookies."""
    from django.http import HttpResponse
    from django.middleware.cache import FetchFromCacheMiddleware, UpdateCacheMiddleware
    from django.test import RequestFactory

    def empty_response(request: Any) -> HttpResponse:
        return HttpResponse()

    fetch_middleware = FetchFromCacheMiddleware(empty_response)
    request = RequestFactory().get("/cache/test")
    request._cache_update_cache = True  # type: ignore[attr-defined]
    assert fetch_middleware.process_request(request) is None
    content = "Testing cookie serialization."

    def get_response(req: Any) -> HttpResponse:
        response = HttpResponse(content)
        response.set_cookie("foo", "bar")
        return response

    response = UpdateCacheMiddleware(get_response)(request)
    cached = fetch_middleware.process_request(request)
    assert cached is not None
    assert cached.content == content.encode()
    assert cached.cookies == response.cookies
    UpdateCacheMiddleware(lambda req: cached)(request)
    cached = fetch_middleware.process_request(request)
    assert cached is not None
    assert cached.content == content.encode()
    assert cached.cookies == response.cookies
