"""MemoryStore: bounded, TTL-capped, thread-safe, with tags."""

from __future__ import annotations

import threading

import memo
from memo._keys.key import CacheKey, LazyCacheKey
from memo.testing import FakeClock


def key(local: object) -> CacheKey:
    return LazyCacheKey(local, lambda _local, _values: f"remote:{local}", ())


def test_set_get_delete() -> None:
    """A stored value comes back until deleted; delete says whether it removed one."""
    store = memo.MemoryStore()
    store.set(key("a"), 1, None)
    entry = store.get(key("a"))
    assert entry is not None
    assert entry.value == 1
    assert store.delete(key("a")) is True
    assert store.delete(key("a")) is False
    assert store.get(key("a")) is None


def test_maxsize_bounds_entries() -> None:
    """The store never holds more than maxsize entries."""
    store = memo.MemoryStore(maxsize=100)
    for i in range(1000):
        store.set(key(i), i, None)
        assert len(store) <= 100
    assert len(store) == 100


def test_eviction_prefers_unused_entries() -> None:
    """Entries read since they were stored outlive those never read (second chance).

    Which of the unread ones stay is the admission filter's call (tests/stores/
    test_eviction_policy.py): only the read ones are certain, and the newest write.
    """
    store = memo.MemoryStore(maxsize=10)
    for i in range(10):
        store.set(key(i), i, None)
    for i in range(5):
        assert store.get(key(i)) is not None
    for i in range(10, 15):
        store.set(key(i), i, None)
    kept = {i for i in range(15) if store.get(key(i)) is not None}
    assert {0, 1, 2, 3, 4, 14} <= kept
    assert len(kept) == 10


def test_store_ttl_caps_entry_ttl(clock: FakeClock) -> None:
    """The store's ttl bounds how long any entry lives, whatever the entry asked."""
    store = memo.MemoryStore(ttl=5)
    store.set(key("a"), 1, None)
    store.set(key("b"), 2, 100)
    store.set(key("c"), 3, 1)
    clock.advance(2)
    assert store.get(key("c")) is None
    assert store.get(key("a")) is not None
    clock.advance(4)
    assert store.get(key("a")) is None
    assert store.get(key("b")) is None


def test_expired_entries_are_swept(clock: FakeClock) -> None:
    """Expired entries leave the store as it fills, not only when read."""
    store = memo.MemoryStore(maxsize=50)
    for i in range(50):
        store.set(key(("old", i)), i, 1)
    clock.advance(2)
    for i in range(60):
        store.set(key(("new", i)), i, None)
    assert len(store) == 50
    assert not [local for local in store.data if local[0] == "old"]
    assert store.get(key(("new", 59))) is not None


def test_delete_of_expired_reports_false(clock: FakeClock) -> None:
    """Removing an entry that already expired is not reported as a removal."""
    store = memo.MemoryStore()
    store.set(key("a"), 1, 1)
    clock.advance(2)
    assert store.delete(key("a")) is False


def test_tags_follow_overwrites_and_evictions() -> None:
    """A tag removes only the entries currently stored with it."""
    store = memo.MemoryStore(maxsize=3)
    store.set(key(1), 1, None, tags=("t",))
    store.set(key(1), 1, None, tags=("u",))
    assert store.delete_tag("t") == 0
    store.set(key(2), 2, None, tags=("u",))
    assert store.delete_tag("u") == 2
    for i in range(10):
        store.set(key(i), i, None, tags=("v",))
    assert store.delete_tag("v") == 3
    assert len(store) == 0


def test_clear() -> None:
    """clear() empties the store."""
    store = memo.MemoryStore()
    store.set(key(1), 1, None, tags=("t",))
    store.clear()
    assert len(store) == 0
    assert store.delete_tag("t") == 0


def test_concurrent_writers_and_readers_keep_bounds() -> None:
    """Threads writing, reading and deleting concurrently leave a consistent, bounded store."""
    store = memo.MemoryStore(maxsize=64)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(3000):
                k = key((seed * 7 + i) % 200)
                if i % 3 == 0:
                    store.set(k, i, None, tags=(f"t{i % 5}",))
                elif i % 3 == 1:
                    store.get(k)
                else:
                    store.delete(k)
                if i % 500 == 0:
                    store.delete_tag(f"t{seed % 5}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(store) <= 64


def test_async_twins() -> None:
    """The awaitable twins behave like the sync methods."""
    import asyncio

    store = memo.MemoryStore()

    async def main() -> None:
        await store.aset(key("a"), 1, None, tags=("t",))
        entry = await store.aget(key("a"))
        assert entry is not None
        assert entry.value == 1
        assert await store.adelete_tag("t") == 1
        await store.aset(key("b"), 2, None)
        assert await store.adelete(key("b")) is True

    asyncio.run(main())


def test_new_entry_survives_a_store_full_of_read_entries() -> None:
    """Storing into a full store whose entries were all read evicts an old one, not the new."""
    store = memo.MemoryStore(maxsize=3)
    for i in (1, 2, 3):
        store.set(key(i), i, None)
    for i in (1, 2, 3):
        store.get(key(i))
    store.set(key(4), 4, None)
    assert store.get(key(4)) is not None
    assert sum(store.get(key(i)) is None for i in (1, 2, 3)) == 1  # equals: any one may go
    assert len(store) == 3


def test_delete_tag_fences_a_compute_in_flight() -> None:
    """A lease claimed with a tag ends at delete_tag(tag): the compute's write is refused;
    a lease under another tag, or a later claim, still writes."""
    store = memo.MemoryStore()
    assert store.claim(key("a"), "t1", tags=("user:1",)) is True
    assert store.claim(key("b"), "t2", tags=("user:2",)) is True
    store.delete_tag("user:1")
    assert store.set(key("a"), "old", None, tags=("user:1",), token="t1") is False
    assert store.get(key("a")) is None
    assert store.set(key("b"), "kept", None, tags=("user:2",), token="t2") is True
    assert store.claim(key("a"), "t3", tags=("user:1",)) is True
    assert store.set(key("a"), "new", None, tags=("user:1",), token="t3") is True
    entry = store.get(key("a"))
    assert entry is not None and entry.value == "new"
    assert store._lease_tags == {}  # every lease ended: nothing left behind


def test_in_process_only_is_the_store_s_word_not_its_type() -> None:
    """A function over a store that says `in_process_only` (MemoryStore and its subclasses,
    unless one says otherwise) gets lazy Redis keys and one lookup per miss; any other store
    is taken to have a shared tier. Hits and misses are the same either way."""

    class Subclass(memo.MemoryStore):
        pass

    class WithSharedTier(memo.MemoryStore):
        in_process_only = False

    cases = ((memo.MemoryStore(), True), (Subclass(), True), (WithSharedTier(), False))
    for store, in_process in cases:

        @memo.cached(store=store)
        def double(x: int) -> int:
            return 2 * x

        assert [double(1), double(1), double(2)] == [2, 2, 4]
        assert (double.stats.l1_hits, double.stats.misses) == (1, 2)
        core = double._self_core  # type: ignore[attr-defined]
        assert core.l1_only is in_process
        key = core.key_for((3,))
        assert isinstance(key, LazyCacheKey) is in_process
        assert key.remote == double.cache_key(3)
