"""Cached methods, classmethods and staticmethods, with handles that bind like the method."""

from __future__ import annotations

import asyncio
import dataclasses

import memo


@dataclasses.dataclass(frozen=True)
class Repo:
    """A repository whose identity is its name."""

    name: str
    calls: list[object] = dataclasses.field(default_factory=list, compare=False, hash=False)

    def __memo_key__(self) -> str:
        return self.name

    @memo.cached
    def get(self, item: int) -> str:
        self.calls.append(item)
        return f"{self.name}:{item}"

    @memo.cached
    async def aget(self, item: int) -> str:
        self.calls.append(("a", item))
        return f"{self.name}:{item}"

    @memo.cached
    @classmethod
    def build(cls, label: str) -> str:
        BUILT.append(label)
        return f"{cls.__name__}:{label}"

    @memo.cached
    @staticmethod
    def pure(x: int) -> int:
        BUILT.append(x)
        return x * 2


BUILT: list[object] = []


class Service:
    """A service whose instances are interchangeable for caching."""

    def __init__(self) -> None:
        self.calls = 0

    @memo.cached(ignore=("self",))
    def config(self, section: str) -> str:
        self.calls += 1
        return section.upper()


def test_method_keyed_by_memo_key() -> None:
    """Instances with the same __memo_key__ share entries; others do not."""
    a1, a2, b = Repo("a"), Repo("a"), Repo("b")
    assert a1.get(1) == "a:1"
    assert a2.get(1) == "a:1"
    assert b.get(1) == "b:1"
    assert a1.calls == [1]
    assert a2.calls == []
    assert b.calls == [1]


def test_method_handles_bind_to_instance() -> None:
    """obj.method.cache_key/invalidate/refresh take the method's own arguments."""
    repo = Repo("h")
    repo.get(5)
    assert repo.get.cache_key(5) == Repo("h").get.cache_key(item=5)
    assert repo.get.cache_key(5) != Repo("other").get.cache_key(5)
    assert repo.get.invalidate(5) is True
    assert repo.get.invalidate(5) is False
    assert repo.get.refresh(5) == "h:5"
    assert repo.calls == [5, 5]
    assert repo.get.uncached(7) == "h:7"


def test_method_called_through_class() -> None:
    """Repo.get(repo, x) is the same entry as repo.get(x)."""
    repo = Repo("c")
    repo.get(1)
    assert Repo.get(repo, 1) == "c:1"
    assert repo.calls == [1]
    assert Repo.get.cache_key(repo, 1) == repo.get.cache_key(1)


def test_ignore_self() -> None:
    """ignore=("self",) shares entries between all instances."""
    first, second = Service(), Service()
    assert first.config("db") == "DB"
    assert second.config("db") == "DB"
    assert (first.calls, second.calls) == (1, 0)
    assert second.config.invalidate("db") is True


def test_async_method() -> None:
    """Async methods cache and their handles are awaitable."""
    repo = Repo("x")

    async def main() -> None:
        assert await repo.aget(1) == "x:1"
        assert await Repo("x").aget(1) == "x:1"
        assert await repo.aget.invalidate(1) is True
        assert await repo.aget.refresh(1) == "x:1"

    asyncio.run(main())
    assert repo.calls == [("a", 1), ("a", 1)]


def test_classmethod_keyed_by_class() -> None:
    """A cached classmethod keys on the class it is called through."""

    class Sub(Repo):
        pass

    BUILT.clear()
    assert Repo.build("v") == "Repo:v"
    assert Repo("any").build("v") == "Repo:v"
    assert Sub.build("v") == "Sub:v"
    assert BUILT == ["v", "v"]
    assert Repo.build.cache_key("v") != Sub.build.cache_key("v")
    assert Repo.build.invalidate("v") is True


def test_staticmethod() -> None:
    """A cached staticmethod caches by its arguments alone."""
    BUILT.clear()
    assert Repo.pure(2) == 4
    assert Repo("z").pure(2) == 4
    assert BUILT == [2]
    assert Repo.pure.cache_key(2) == Repo("q").pure.cache_key(x=2)


def test_classmethod_over_cached() -> None:
    """@classmethod stacked above @memo.cached also keys on the class."""
    calls: list[str] = []

    class Model:
        @classmethod
        @memo.cached
        def table(cls, suffix: str) -> str:
            calls.append(suffix)
            return cls.__name__ + suffix

    class Child(Model):
        pass

    assert Model.table("_t") == "Model_t"
    assert Model.table("_t") == "Model_t"
    assert Child.table("_t") == "Child_t"
    assert calls == ["_t", "_t"]
