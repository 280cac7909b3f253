"""Wrong uses of memo's public API that mypy must reject.

The trick: every wrong line carries `# type: ignore[<code>]` naming the error mypy reports
for it. `strict = true` turns on `warn_unused_ignores`, so a line mypy accepts (the ignore
is then unused) fails `make typecheck`, and a line rejected for another reason does too
(its real error is not silenced). So each line below is asserted to fail with that error.

Nothing here runs: every check lives in a function that is never called.
"""

from __future__ import annotations

import memo
from memo.testing import FakeClock


def sync_function() -> None:
    """Calls and handles of a sync function check arguments and results."""

    @memo.cached
    def f(a: int, b: str = "x") -> int:
        return a

    @memo.cached(ttl=30)
    def kw(a: int, *, b: str = "x") -> list[int]:
        return [a]

    f("1")  # type: ignore[arg-type]
    f()  # type: ignore[call-arg]
    f(1, c="x")  # type: ignore[call-arg]
    f(1, "x", 2)  # type: ignore[call-arg]
    f(1, b=2)  # type: ignore[arg-type]
    f(1).upper()  # type: ignore[attr-defined]
    f.cache_key("1")  # type: ignore[arg-type]
    f.cache_key()  # type: ignore[call-arg]
    f.cache_key(1) + 1  # type: ignore[operator]
    f.invalidate("1")  # type: ignore[arg-type]
    f.invalidate(b="x")  # type: ignore[call-arg]
    f.invalidate(1).upper()  # type: ignore[attr-defined]
    f.invalidate_all(1)  # type: ignore[call-arg]
    f.cache_info(1)  # type: ignore[call-arg]
    f.cache_clear().bit_length()  # type: ignore[func-returns-value,attr-defined]
    f.refresh(a="1")  # type: ignore[arg-type]
    f.refresh(1).upper()  # type: ignore[attr-defined]
    f.uncached("1")  # type: ignore[arg-type]
    _ = f.stats.nope  # type: ignore[attr-defined]
    _ = f.nope  # type: ignore[attr-defined]
    f.stats = memo.Stats()  # type: ignore[misc]
    kw(1, "x")  # type: ignore[call-arg]
    kw(1, c="x")  # type: ignore[call-arg]
    kw.cache_key(1, "x")  # type: ignore[call-arg]
    kw.invalidate(1, b=b"x")  # type: ignore[arg-type]
    kw(1)[0].upper()  # type: ignore[attr-defined]


async def awaiting_sync_handles() -> None:
    """A sync function's call and handles are not awaitable."""

    @memo.cached
    def f(a: int) -> int:
        return a

    await f(1)  # type: ignore[misc]
    await f.invalidate(1)  # type: ignore[misc]
    await f.refresh(1)  # type: ignore[misc]


async def async_function() -> None:
    """An async function's call and I/O handles must be awaited before use."""

    @memo.cached
    async def af(a: int) -> int:
        return a

    af(1) + 1  # type: ignore[operator]
    number: int = af(1)  # type: ignore[assignment]
    af(1)  # type: ignore[unused-coroutine]
    af.invalidate(1)  # type: ignore[unused-coroutine]
    af.invalidate_all()  # type: ignore[unused-coroutine]
    af.cache_clear()  # type: ignore[unused-coroutine]
    af.refresh(1).bit_length()  # type: ignore[attr-defined]
    removed: bool = af.invalidate(1)  # type: ignore[assignment]
    await af("1")  # type: ignore[arg-type]
    await af()  # type: ignore[call-arg]
    await af.invalidate("1")  # type: ignore[arg-type]
    await af.cache_key(1)  # type: ignore[misc]
    (await af(1)).upper()  # type: ignore[attr-defined]
    (await af.invalidate(1)).upper()  # type: ignore[attr-defined]
    del number, removed


async def methods() -> None:
    """Read from an instance a method takes no `self`; read from the class it needs one."""

    class Repo:
        @memo.cached(ignore=("self",))
        def get(self, user_id: int) -> str:
            return ""

        @memo.cached(ignore=("self",))
        async def aget(self, user_id: int) -> str:
            return ""

    repo = Repo()
    repo.get(repo, 1)  # type: ignore[call-arg, arg-type]
    repo.get.cache_key(repo, 1)  # type: ignore[call-arg, arg-type]
    repo.get.invalidate(repo, 1)  # type: ignore[call-arg, arg-type]
    repo.get("1")  # type: ignore[arg-type]
    repo.get(1) + 1  # type: ignore[operator]
    Repo.get(1)  # type: ignore[call-arg, arg-type]
    Repo.get.cache_key(1)  # type: ignore[call-arg, arg-type]
    Repo.get.invalidate(user_id=1)  # type: ignore[call-arg]
    await repo.aget(repo, 1)  # type: ignore[call-arg, arg-type]
    await repo.aget.invalidate(repo, 1)  # type: ignore[call-arg, arg-type]
    repo.aget.invalidate(1)  # type: ignore[unused-coroutine]
    (await repo.aget(1)) + 1  # type: ignore[operator]


def decorator_options() -> None:
    """Unknown options, options of the wrong type and positional options are refused."""
    memo.cached(tll=5)  # type: ignore[call-overload]
    memo.cached(jitter="0.1")  # type: ignore[call-overload]
    memo.cached(version=1.5)  # type: ignore[call-overload]
    memo.cached(lock="yes")  # type: ignore[call-overload]
    memo.cached(store={})  # type: ignore[call-overload]
    memo.cached(300)  # type: ignore[call-overload]
    memo.cached(condition=lambda result, extra: True)  # type: ignore[arg-type, misc]


def other_decorators_options() -> None:
    """The other decorators refuse unknown options and options of the wrong type too."""

    @memo.cached
    def reader(user_id: int) -> int:
        return user_id

    memo.refresh_ahead(tll=5)  # type: ignore[call-overload]
    memo.refresh_ahead(ttl=None)  # type: ignore[call-overload]
    memo.refresh_ahead(refresh_at="0.8")  # type: ignore[call-overload]
    memo.refresh_ahead(60)  # type: ignore[call-overload]
    memo.write_through(reader, kee={"user_id": "uid"})  # type: ignore[call-arg]
    memo.write_through(reader, key=3)  # type: ignore[arg-type]
    memo.invalidates(reader, keys=None)  # type: ignore[call-arg]
    memo.write_behind(reader, batch_size=10)  # type: ignore[call-arg]
    memo.write_behind(reader, flush=print, batch_size="10")  # type: ignore[arg-type]
    memo.write_behind(reader, flush=print, dead_letter=3)  # type: ignore[arg-type]
    memo.write_behind(reader, flush=print, intervall=1.0)  # type: ignore[call-arg]


def writers_keep_their_signature() -> None:
    """A writer's decorators keep its parameters: a wrong call is a type error."""

    @memo.cached
    def reader(user_id: int) -> int:
        return user_id

    @memo.write_through(reader)
    def rename(user_id: int, name: str) -> int:
        return user_id

    @memo.invalidates(reader)
    def delete(user_id: int) -> None:
        pass

    rename("1", "ann")  # type: ignore[arg-type]
    rename(1)  # type: ignore[call-arg]
    delete(1, 2)  # type: ignore[call-arg]
    wrong: str = rename(1, "ann")  # type: ignore[assignment]
    assert wrong


def handle_annotations() -> None:
    """A handle matches only the annotation with its own parameters, result and colour."""

    @memo.cached
    def f(a: int) -> int:
        return a

    @memo.cached
    async def af(a: int) -> int:
        return a

    def plain(a: int) -> int:
        return a

    wrong_params: memo.Memoized[[str], int] = f  # type: ignore[assignment]
    wrong_result: memo.Memoized[[int], str] = f  # type: ignore[assignment]
    async_as_sync: memo.Memoized[[int], int] = af  # type: ignore[assignment]
    sync_as_async: memo.AsyncMemoized[[int], int] = f  # type: ignore[assignment]
    undecorated: memo.Memoized[[int], int] = plain  # type: ignore[assignment]
    del wrong_params, wrong_result, async_as_sync, sync_as_async, undecorated


def module_functions() -> None:
    """Module-level helpers check their arguments."""
    memo.stats()[0]  # type: ignore[index]
    _ = memo.stats()["app.f"].nope  # type: ignore[attr-defined]
    memo.configure(namespace=1)  # type: ignore[arg-type]
    memo.configure("app")  # type: ignore[call-arg, arg-type]
    memo.configure(l1_maxsize="big")  # type: ignore[arg-type]
    memo.MemoryStore(maxsize="x")  # type: ignore[arg-type]
    memo.invalidate_tag(1)  # type: ignore[arg-type]
    memo.invalidate_tag("user:1").upper()  # type: ignore[attr-defined]
    memo.ainvalidate_tag("user:1")  # type: ignore[unused-coroutine]
    with memo.disabled:  # type: ignore[attr-defined]
        pass
    FakeClock().advance("1")  # type: ignore[arg-type]
    FakeClock(start="now")  # type: ignore[arg-type]
    with FakeClock() as clock:
        clock.advance()  # type: ignore[call-arg]


async def rejected_options_and_forgotten_await() -> None:
    """A string TTL, and an async handle's result tested without await."""

    @memo.cached
    async def af(a: int) -> int:
        return a

    memo.cached(ttl="5")  # type: ignore[call-overload]
    memo.cached(none_ttl="5")  # type: ignore[call-overload]
    if af.invalidate(1):  # type: ignore[truthy-bool]
        pass
