"""Typed storage on a real redis-server: every covered result type comes back from Redis,
equal and of its type, sync and async, with no secret; across processes too."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

import memo
from memo._codec.envelope import Codec
from memo._runtime.settings import settings
from tests.support import typed_values as tv

ROOT = Path(__file__).resolve().parents[2]


def _same(got: Any, want: Any) -> None:
    """Equal and of the same type, all the way down the containers."""
    assert type(got) is type(want), (type(got), type(want))
    assert got == want
    if isinstance(want, (list, tuple)):
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    elif isinstance(want, dict):
        for k in want:
            _same(got[k], want[k])
    elif dataclasses.is_dataclass(want):
        for f in dataclasses.fields(want):
            _same(getattr(got, f.name), getattr(want, f.name))


def _tiered() -> memo.TieredStore:
    store = settings.store
    assert isinstance(store, memo.TieredStore)
    return store


@pytest.mark.parametrize("case", tv.CASES)
def test_typed_result_comes_back_from_redis(redis_url: str, namespace: str, case: str) -> None:
    """With no secret, a result of a covered type is stored in Redis and, L1 cleared, comes
    back from Redis equal and of its type; the function runs once."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    function = tv.CASES[case]
    tv.RUNS.clear()
    for i in tv.ARGUMENTS:
        _same(function(i), tv.expected(case, i))
        _tiered().memory.clear()
        _same(function(i), tv.expected(case, i))
    assert tv.RUNS[case] == len(tv.ARGUMENTS)
    assert function.stats.l2_hits == len(tv.ARGUMENTS)
    assert _tiered().redis.corrupt == 0


@pytest.mark.parametrize("case", tv.ASYNC_CASES)
def test_typed_result_comes_back_from_redis_async(
    redis_url: str, namespace: str, case: str
) -> None:
    """The same for async def functions, through redis.asyncio."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    function = tv.ASYNC_CASES[case]
    tv.RUNS.clear()

    async def scenario() -> None:
        for i in tv.ARGUMENTS:
            _same(await function(i), tv.expected(case, i))
            _tiered().memory.clear()
            _same(await function(i), tv.expected(case, i))

    asyncio.run(scenario())
    assert tv.RUNS[case] == len(tv.ARGUMENTS)
    assert function.stats.l2_hits == len(tv.ARGUMENTS)


def test_typed_entry_is_tagged_with_its_type(redis_url: str, namespace: str) -> None:
    """The entry's header names a typed payload (serializer id 4: typed json) and the
    payload is plain JSON data: no class name a reader could be made to build."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    tv.get_dataclass(2)
    data = redis.Redis.from_url(redis_url).get(tv.get_dataclass.cache_key(2))
    assert data is not None
    header = Codec().header(data)
    assert header.serializer_id == 4 and header.serializer_tag != 0
    assert b"User" not in data and b'"name":"ann"' in data


def test_msgpack_store_writes_typed_msgpack(redis_url: str, namespace: str) -> None:
    """Under serializer='msgpack' the typed payload is msgpack (id 5) and reads back."""
    memo.configure(redis_url=redis_url, namespace=namespace, serializer="msgpack")
    tv.RUNS.clear()
    assert tv.get_nested(2) == tv.expected("nested", 2)
    _tiered().memory.clear()
    _same(tv.get_nested(2), tv.expected("nested", 2))
    assert tv.RUNS["nested"] == 1
    data = redis.Redis.from_url(redis_url).get(tv.get_nested.cache_key(2))
    assert data is not None and Codec().header(data).serializer_id == 5


def test_entry_of_another_type_is_a_miss_counted_and_overwritten(
    redis_url: str, namespace: str
) -> None:
    """A hostile entry under a typed function's key, written for another type (a sound
    checksum, another type tag), is a miss, counted, and overwritten by the recomputed value."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    client = redis.Redis.from_url(redis_url)
    tv.get_attrs(2)
    tv.get_struct(2)
    attrs_key, struct_key = tv.get_attrs.cache_key(2), tv.get_struct.cache_key(2)
    struct_codec = _tiered().redis.entries.codec_for(struct_key)
    hostile = struct_codec.encode(
        attrs_key, tv.expected("struct", 2), created=0.0, expires=None, delta=0.0
    )
    client.set(attrs_key, hostile)
    _tiered().memory.clear()
    tv.RUNS.clear()
    _same(tv.get_attrs(2), tv.expected("attrs", 2))
    assert tv.RUNS["attrs"] == 1 and _tiered().redis.corrupt == 1
    assert client.get(attrs_key) != hostile  # overwritten sound
    _tiered().memory.clear()
    _same(tv.get_attrs(2), tv.expected("attrs", 2))
    assert tv.RUNS["attrs"] == 1


def test_untyped_entry_under_a_typed_key_is_a_miss(redis_url: str, namespace: str) -> None:
    """An entry the untyped json serializer wrote (say, by an older deploy without the
    annotation) under a typed function's key is refused unread: a miss, then overwritten."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    client = redis.Redis.from_url(redis_url)
    key = tv.get_namedtuple.cache_key(3)
    client.set(key, Codec().encode(key, [3, "right"], created=0.0, expires=None, delta=0.0))
    tv.RUNS.clear()
    _same(tv.get_namedtuple(3), tv.expected("namedtuple", 3))
    assert tv.RUNS["namedtuple"] == 1 and _tiered().redis.corrupt == 1


def test_one_process_writes_another_reads(redis_url: str, namespace: str) -> None:
    """A child process writes every case (sync and async functions); this process reads each
    from Redis, equal and of its type, without running any of them."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    subprocess.run(
        [sys.executable, "-m", "tests.support.typed_worker", redis_url, namespace],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=50,
    )
    memo.configure(redis_url=redis_url, namespace=namespace)
    tv.RUNS.clear()

    async def read_async() -> None:
        for case, function in tv.ASYNC_CASES.items():
            for i in tv.ARGUMENTS:
                _same(await function(i), tv.expected(case, i))

    for case, function in tv.CASES.items():
        for i in tv.ARGUMENTS:
            _same(function(i), tv.expected(case, i))
    asyncio.run(read_async())
    assert sum(tv.RUNS.values()) == 0, tv.RUNS
    assert _tiered().redis.corrupt == 0
