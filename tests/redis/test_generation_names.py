"""Every read from Redis finds its function's generation from the Redis key alone; the names
of bound functions' keys are remembered (a bounded map), and an `invalidate_all()` is seen
through it exactly as before: by every key of the function, and by no other function's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import memo
from memo._redis import generations

SECRET = "generation-names-secret"


@pytest.fixture
def store(redis_url: str, namespace: str) -> Iterator[memo.RedisStore]:
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)
    try:
        yield store
    finally:
        store.close()


def test_a_bound_functions_keys_name_its_generation_and_others_name_themselves(
    store: memo.RedisStore,
) -> None:
    @memo.cached(ttl=60, store=store, version=3)
    def priced(item: int) -> int:
        return item

    priced(1)
    backend = store.backend
    name = priced._self_core.keys.generation_name  # type: ignore[attr-defined]
    remote = priced.cache_key(1)
    assert backend.generation_name(remote) == name
    assert backend.generation_name(remote) == name  # the remembered answer agrees
    assert backend._names[remote] == name
    foreign = f"memo:{store.namespace}:shop.other:v1:{{abc}}"
    assert backend.generation_name(foreign) == "shop.other:v1"
    assert foreign not in backend._names  # only bound functions' keys are remembered


def test_the_remembered_names_are_bounded_and_stay_right_after_a_clear(
    store: memo.RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generations, "_NAMES_KEPT", 8)
    calls = 0

    @memo.cached(ttl=60, store=store)
    def counted(item: int) -> int:
        nonlocal calls
        calls += 1
        return item

    for item in range(40):  # five times the bound: the map is cleared and refilled
        assert counted(item) == item
    assert len(store.backend._names) <= 8
    counted.invalidate_all()  # a new generation: every entry in Redis is now stale
    before = calls
    for item in range(40):
        assert counted(item) == item
    assert calls == before + 40  # none of the 40 old entries was served


def test_invalidate_all_of_one_function_leaves_anothers_entries(
    store: memo.RedisStore,
) -> None:
    runs = {"a": 0, "b": 0}

    @memo.cached(ttl=60, store=store)
    def first(item: int) -> int:
        runs["a"] += 1
        return item

    @memo.cached(ttl=60, store=store)
    def second(item: int) -> int:
        runs["b"] += 1
        return -item

    for item in range(5):
        first(item)
        second(item)
    first.invalidate_all()
    for item in range(5):  # interleaved: the remembered name of each key is its own
        assert first(item) == item
        assert second(item) == -item
    assert runs == {"a": 10, "b": 5}
