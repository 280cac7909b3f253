"""Correct uses of memo's public API, checked by `mypy --strict` (`make typecheck`).

Every check lives in a function, so importing this module decorates nothing and registers
nothing in `memo.stats()`; `tests/api/test_typing.py` calls each one to show the real handles
behave as typed. `assert_type` fails the type check when the inferred type is not exactly
the one written (and returns its argument unchanged at runtime).

Static and class methods (see `static_and_class_methods`): put `@memo.cached` above
`@staticmethod` / `@classmethod`. mypy strips those two decorators before applying the
others, so both orders give the same types, and the handle's `__get__` cannot tell a static
or class method from an instance method: it drops the first parameter whenever the handle is
read from an instance and keeps it when read from the class. That is right for a static
method read from the class and for a class method read from an instance; the other two
reads are mistyped (kept in `limitations.py`).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hypothesis import strategies as st

import memo
from memo._key_calls import CallForm
from memo.testing import FakeClock, call, check_keys

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

T = TypeVar("T")


def sync_function() -> None:
    """Bare `@memo.cached` on a sync function keeps its parameters and return type."""

    @memo.cached
    def f(a: int, b: str = "x") -> int:
        return a + len(b)

    assert_type(f(1), int)
    assert_type(f(1, "y"), int)
    assert_type(f(a=1, b="y"), int)
    assert_type(f.cache_key(1), str)
    assert_type(f.cache_key(a=1, b="y"), str)
    assert_type(f.invalidate(1), bool)
    assert_type(f.invalidate(1, b="y"), bool)
    assert_type(f.invalidate_all(), None)
    assert_type(f.cache_info(), memo.CacheInfo)
    assert_type(f.cache_info().hits, int)
    assert_type(f.cache_info().maxsize, int | None)
    assert_type(f.cache_clear(), None)
    assert_type(f.refresh(1), int)
    assert_type(f.uncached(1, "y"), int)
    assert_type(f.stats, memo.Stats)
    assert_type(f.stats.hits, int)
    assert_type(f.stats.hit_rate, float)
    assert_type(f.stats.snapshot(), memo.Stats)
    assert_type(f.stats.as_dict(), dict[str, Any])
    assert_type(f.stats.reset(), None)
    plain: Callable[[int], int] = f  # a handle is still a callable...
    original: Callable[[int, str], int] = f.uncached  # ...and so is the original
    assert_type(plain(1) + original(1, "y"), int)


def sync_function_with_options() -> None:
    """`@memo.cached(...)` keeps keyword-only, defaulted and generic-alias parameters."""

    @memo.cached(ttl=300, jitter=0.1, tags=["user:{user_id}"], version=2)
    def g(user_id: int, *, fields: list[str] | None = None, limit: int = 10) -> list[int]:
        return [user_id] * limit

    @memo.cached(
        ttl=datetime.timedelta(minutes=5),
        key="user:{user_id}",
        ignore=("trace",),
        cache_none=False,
        none_ttl=5,
        condition=lambda result: result is not None,
        store=memo.MemoryStore(maxsize=100, ttl=60.0),
        lock=False,
        lock_timeout=2.5,
        l1_copy=True,
    )
    def h(user_id: int, trace: object = None) -> dict[str, int] | None:
        return None

    @memo.cached()
    def empty_options() -> tuple[int, ...]:
        return ()

    @memo.cached(key=lambda user_id: f"u{user_id}")
    def key_function(user_id: int) -> str:
        return ""

    assert_type(g(1), list[int])
    assert_type(g(1, fields=["a"], limit=2), list[int])
    assert_type(g(user_id=1, fields=None), list[int])
    assert_type(g.cache_key(1, limit=3), str)
    assert_type(g.invalidate(1, fields=["a"]), bool)
    assert_type(g.refresh(1), list[int])
    assert_type(h(1), dict[str, int] | None)
    assert_type(h(1, trace="t"), dict[str, int] | None)
    assert_type(h.refresh(1), dict[str, int] | None)
    assert_type(empty_options(), tuple[int, ...])
    assert_type(key_function(1), str)


def refresh_ahead_and_writers_with_options() -> None:
    """`@memo.refresh_ahead` and the writers' decorators take their options as keywords."""

    @memo.refresh_ahead(ttl=60, refresh_at=0.5, early_refresh=1.0, stale_ttl=30, lock=False)
    def get_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @memo.refresh_ahead
    def bare(user_id: int) -> int:
        return user_id

    @memo.write_through(get_user, key={"user_id": "uid"})
    def rename(uid: int, name: str) -> dict[str, int]:
        return {"id": uid}

    @memo.invalidates(get_user, bare, key=lambda uid: uid)
    def delete(uid: int) -> None:
        pass

    def save(batch: list[memo.Write]) -> None:
        pass

    @memo.write_behind(
        get_user, flush=save, batch_size=10, interval=0.5, max_attempts=3, on_full="raise"
    )
    def update(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    assert_type(get_user(1), dict[str, int])
    assert_type(bare.refresh(1), int)
    # The writers keep their parameters and return types (they were Callable[[Any], Any]).
    assert_type(rename(1, "ann"), dict[str, int])
    assert_type(delete(1), None)
    assert_type(update(1), dict[str, int])
    assert memo.flush(5)

    @memo.write_through(get_user)
    async def arename(user_id: int, name: str) -> dict[str, int]:
        return {"id": user_id}

    renaming: Coroutine[Any, Any, dict[str, int]] = arename(1, "ann")
    renaming.close()


async def async_function() -> None:
    """On `async def`, calls and I/O handles are awaitable; `cache_key` and `stats` are not."""

    @memo.cached
    async def af(a: int, b: str = "x") -> int | None:
        return a

    @memo.cached(ttl=5, tags=["item:{item_id}"])
    async def ag(item_id: int, *, full: bool = False) -> list[str]:
        return []

    pending = assert_type(af(1), Coroutine[Any, Any, int | None])
    assert_type(await pending, int | None)
    assert_type(await af(a=1, b="y"), int | None)
    assert_type(af.cache_key(1), str)
    removing = assert_type(af.invalidate(1), Coroutine[Any, Any, bool])
    assert_type(await removing, bool)
    assert_type(await af.invalidate(1, "y"), bool)
    assert_type(await af.invalidate_all(), None)
    assert_type(af.cache_info(), memo.CacheInfo)
    assert_type(await af.cache_clear(), None)
    assert_type(await af.refresh(1), int | None)
    assert_type(af.stats, memo.Stats)
    original: Callable[[int, str], Coroutine[Any, Any, int | None]] = af.uncached
    assert_type(await original(1, "y"), int | None)
    assert_type(await af.uncached(1), int | None)
    assert_type(await ag(1), list[str])
    assert_type(await ag(1, full=True), list[str])
    assert_type(ag.cache_key(item_id=1, full=True), str)
    assert_type(await ag.invalidate(1, full=True), bool)
    assert_type(await ag.refresh(1), list[str])
    assert_type(await memo.ainvalidate_tag("item:1"), int)


async def methods() -> None:
    """Read from an instance, a method's handles drop `self`; read from the class, they keep it."""

    class Repo:
        @memo.cached(ignore=("self",))
        def get(self, user_id: int, *, fresh: bool = False) -> str:
            return ""

        @memo.cached(ttl=60, ignore=("self",))
        async def aget(self, user_id: int) -> bytes:
            return b""

    repo = Repo()
    bound: memo.Memoized[[int], str] = repo.get
    assert_type(bound(1), str)
    assert_type(repo.get(1), str)
    assert_type(repo.get(1, fresh=True), str)
    assert_type(repo.get.cache_key(1), str)
    assert_type(repo.get.invalidate(1), bool)
    assert_type(repo.get.refresh(user_id=1), str)
    assert_type(repo.get.uncached(1), str)
    assert_type(repo.get.stats, memo.Stats)
    assert_type(Repo.get(repo, 1), str)
    assert_type(Repo.get.cache_key(repo, 1), str)
    assert_type(Repo.get.invalidate(repo, 1, fresh=True), bool)
    assert_type(Repo.get.uncached(repo, 1), str)
    assert_type(Repo.get.stats, memo.Stats)

    assert_type(await repo.aget(1), bytes)
    assert_type(repo.aget.cache_key(1), str)
    assert_type(await repo.aget.invalidate(1), bool)
    assert_type(await repo.aget.refresh(1), bytes)
    assert_type(await Repo.aget(repo, 1), bytes)
    assert_type(await Repo.aget.invalidate(repo, 1), bool)


def methods_of_generic_classes() -> None:
    """A method returning the class's type parameter returns it solved for the instance."""

    class Box(list[T]):
        @memo.cached(ignore=("self",))
        def first(self, default: T) -> T:
            return self[0] if self else default

    class Words(Box[str]):
        pass

    assert_type(Box[int]().first(0), int)
    assert_type(Box[int]().first.cache_key(0), str)
    assert_type(Words().first("x"), str)
    assert_type(Box[bytes].first(Box[bytes](), b""), bytes)


def static_and_class_methods() -> None:
    """Typed reads: a static method from the class, a class method from an instance."""

    class Units:
        @memo.cached
        @staticmethod
        def parse(text: str) -> float:
            return float(text)

        @memo.cached(ttl=60)
        @classmethod
        def load(cls, name: str) -> Units:
            return cls()

    assert_type(Units.parse("1"), float)
    assert_type(Units.parse.cache_key("1"), str)
    assert_type(Units.parse.invalidate(text="1"), bool)
    assert_type(Units().load("m"), Units)
    assert_type(Units().load.cache_key("m"), str)
    assert_type(Units().load.invalidate("m"), bool)


def handle_annotations() -> None:
    """`memo.Memoized[[...], R]` and `memo.AsyncMemoized[[...], R]` work as annotations."""

    @memo.cached
    def f(a: int, b: str) -> int:
        return a

    @memo.cached
    async def af(a: int) -> str:
        return ""

    handle: memo.Memoized[[int, str], int] = f
    assert_type(handle(1, "x"), int)
    assert_type(handle.cache_key(1, "x"), str)
    ahandle: memo.AsyncMemoized[[int], str] = af
    removing: Coroutine[Any, Any, bool] = ahandle.invalidate(1)
    removing.close()
    registry: list[memo.Memoized[..., object]] = [f]
    assert_type(registry[0].invalidate_all(), None)

    def take(handle: memo.Memoized[[int, str], int]) -> str:
        return handle.cache_key(1, "x")

    assert_type(take(f), str)


async def module_functions() -> None:
    """Module-level helpers: stats, configure, stores, tags, `disabled()`, `FakeClock`."""
    assert_type(memo.stats(), dict[str, memo.Stats])
    for name, counters in memo.stats().items():
        assert_type(name, str)
        assert_type(counters.misses, int)
    assert_type(memo.configure(), None)
    assert_type(memo.configure(namespace="app", l1_maxsize=100, l1_ttl=30.0, l1_copy=True), None)
    store = memo.MemoryStore(maxsize=1_000, ttl=None)
    assert_type(memo.configure(store=store), None)
    assert_type(len(store), int)
    assert_type(store.clear(), None)
    assert_type(memo.invalidate_tag("user:1"), int)

    with memo.disabled() as off:
        assert_type(off, memo.disabled)

    @memo.disabled()
    def uncached_test(a: int) -> str:
        return ""

    @memo.disabled()
    async def uncached_async_test(a: int) -> str:
        return ""

    assert_type(uncached_test(1), str)
    assert_type(await uncached_async_test(1), str)

    with FakeClock() as clock:
        assert_type(clock, FakeClock)
        assert_type(clock.advance(301), None)
        assert_type(clock.monotonic(), float)
        assert_type(clock.time(), float)
    assert_type(FakeClock(start=0.0).install(), None)


def errors() -> None:
    """memo's errors are catchable as memo.MemoError and as the built-in they extend."""
    error: Exception = memo.KeyBuildError()
    assert_type(memo.KeyBuildError(), memo.KeyBuildError)
    type_error: TypeError = memo.KeyBuildError()
    value_error: ValueError = memo.ConfigurationError()
    base: memo.MemoError = memo.SerializationError()
    assert_type([error, type_error, value_error, base], list[Exception])


def key_registry_and_key_tests() -> None:
    """memo.register_key keeps the encoder's type; check_keys and pin_keys take a handle."""

    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    def money_key(money: Money) -> int:
        return money.cents

    assert_type(memo.register_key(Money, money_key), Callable[[Money], object])

    @memo.register_key(Money)
    def money_key_again(money: Money) -> tuple[int, str]:
        return (money.cents, "EUR")

    assert_type(money_key_again, Callable[[Money], object])

    @memo.cached
    def price(money: Money, seats: int = 1) -> int:
        return money.cents * seats

    moneys = st.builds(Money, st.integers())
    check_keys(price, max_examples=5, across_processes=False, money=moneys)
    assert_type(call(Money(1), seats=2), CallForm)
