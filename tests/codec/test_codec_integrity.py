"""Every entry, signed or not, is checked end to end: any flipped bit is a miss, never a value."""

from __future__ import annotations

import pytest
import redis

import memo
from memo._codec.envelope import Codec, Rejected
from memo._codec.returns import ReturnType
from tests.support import typed_values as tv

KEY = "memo:t:app.f:v1:{0123456789abcdef0123456789abcdef}"
VALUE = {"id": 1, "name": "ann", "tags": ["a", "b"], "score": 2.5}
CODECS = {
    "pickle-signed": Codec(secret="s3cret"),
    "json-signed": Codec("json", secret="s3cret"),
    "msgpack-signed": Codec("msgpack", secret="s3cret"),
    "json-unsigned": Codec(),
    "msgpack-unsigned": Codec("msgpack"),
}
TYPED_VALUE = tv.expected("nested", 2)  # a dataclass of attrs, NamedTuple, msgspec Struct
TYPED = ReturnType(tv.get_nested.uncached, "tests.support.typed_values.get_nested()")
for _name in ("json-signed", "msgpack-signed", "json-unsigned", "msgpack-unsigned"):
    CODECS[f"typed-{_name}"] = TYPED.codec(CODECS[_name])


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_flipped_byte_is_rejected(name: str, mask: int) -> None:
    """Flipping one bit anywhere in an entry (header, payload or check) is Rejected, typed
    entries (header naming the type, payload of plain data) included."""
    codec = CODECS[name]
    value = TYPED_VALUE if name.startswith("typed-") else VALUE
    assert codec.serializer.name.startswith("typed") == name.startswith("typed-")
    data = codec.encode(KEY, value, created=1.0e9, expires=2.0e9, delta=0.01, soft=1.5e9)
    assert codec.decode(KEY, data).value == value
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= mask
        with pytest.raises(Rejected):
            codec.decode(KEY, bytes(flipped))


def test_unsigned_corruption_is_a_miss_counted_and_overwritten(
    redis_url: str, namespace: str
) -> None:
    """A flipped bit in an unsigned entry in Redis: a miss (counted as corrupt), recomputed,
    and the entry rewritten sound; the caller never sees the corrupt value."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    runs: list[int] = []

    @memo.cached(ttl=60, store=store)
    def get(i: int) -> dict[str, int]:
        runs.append(i)
        return {"id": i}

    assert get(1) == {"id": 1}
    key = get.cache_key(1)
    client = redis.Redis.from_url(redis_url)
    data = bytearray(client.get(key) or b"")
    at = bytes(data).index(b'"id"') + 1
    data[at] ^= 0x04  # "id" becomes "md": another valid JSON document, a wrong value
    client.set(key, bytes(data))
    assert get(1) == {"id": 1}
    assert runs == [1, 1]
    assert store.corrupt == 1
    assert get(1) == {"id": 1} and runs == [1, 1]  # rewritten sound: a hit again
    store.close()


def test_typed_corruption_is_a_miss_counted_and_overwritten(redis_url: str, namespace: str) -> None:
    """A bit flipped inside a typed entry's payload (still valid JSON of another value) is a
    miss, counted, recomputed and rewritten; the caller never sees the corrupt value."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    tv.RUNS.clear()
    function = memo.cached(ttl=60, store=store)(tv.get_attrs.uncached)
    assert function(2) == tv.Point(2, 2.5)
    key = function.cache_key(2)
    client = redis.Redis.from_url(redis_url)
    data = bytearray(client.get(key) or b"")
    at = bytes(data).index(b'"x":2') + 4
    data[at] ^= 0x01  # 2 becomes 3: a valid payload of another value
    client.set(key, bytes(data))
    assert function(2) == tv.Point(2, 2.5)
    assert tv.RUNS["attrs"] == 2 and store.corrupt == 1
    assert function(2) == tv.Point(2, 2.5) and tv.RUNS["attrs"] == 2  # rewritten sound
