"""Cached methods, classmethods and staticmethods, with handles that bind like the method."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import threading

import pytest

import memo
from memo._keys import local


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
    # The last class's binding is kept (a class outlives its methods): alternating classes,
    # instances and threads each get their own class's binding.
    for _ in range(3):
        assert (Child.table("_t"), Model.table("_t"), Child().table("_t")) == (
            "Child_t", "Model_t", "Child_t",
        )  # fmt: skip
    assert Model.table is Model.table and Model.table.__self__ is Model
    assert Child.table.__self__ is Child and Model().table.__self__ is Model
    assert Model.table.invalidate("_t") is True and Child.table("_t") == "Child_t"
    assert calls == ["_t", "_t"]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda c=c: results.extend(c.table("_t") for _ in range(200)))
        for c in (Model, Child) * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(set(results)) == ["Child_t", "Model_t"] and len(results) == 800
    assert results.count("Model_t") == results.count("Child_t") == 400


def test_a_classmethod_keys_any_class_and_any_value_in_cls() -> None:
    """The class check the path makes first for `cls` gives the token any path gives: a
    class with a metaclass, and classes of one qualified name, share entries as their
    Redis keys do; a value that is not a class, passed where cls goes, is keyed as a value."""
    calls: list[object] = []

    def made() -> type:
        class Twin:
            pass

        return Twin

    @memo.cached
    def labelled(cls: object, x: int) -> str:
        calls.append((cls, x))
        return f"{getattr(cls, '__name__', cls)}:{x}"

    class Owner:
        label = classmethod(labelled)

    class Abstract(metaclass=abc.ABCMeta):  # its class's type is not type
        label = classmethod(labelled)

        @abc.abstractmethod
        def body(self) -> None: ...

    first, second = made(), made()
    assert Owner.label(1) == Owner.label(1) == "Owner:1"
    assert Abstract.label(1) == Abstract.label(1) == "Abstract:1"
    assert labelled(first, 1) == labelled(second, 1) == "Twin:1"
    assert labelled(1, 1) == labelled(1, x=1) == "1:1" and labelled(True, 1) == "True:1"
    assert [c for c, _ in calls] == [Owner, Abstract, first, 1, True]
    assert labelled.cache_key(first, 1) == labelled.cache_key(second, 1)
    assert Owner.label.invalidate(1) is True and Owner.label(1) == "Owner:1"
    assert len(calls) == 6


def test_a_method_keys_self_by_its_memo_key_whatever_it_returns() -> None:
    """self's `__memo_key__`, called by the hit path itself, gives the token any path gives:
    a result that is a float, a tuple holding one, or another keyed object; a subclass keys
    under its own name; a hook that raises reaches the caller, and nothing runs."""
    calls: list[object] = []

    class Keyed:
        def __init__(self, key: object) -> None:
            self.key = key

        def __memo_key__(self) -> object:
            if isinstance(self.key, Exception):
                raise self.key
            return self.key

        @memo.cached
        def read(self, x: int) -> object:
            calls.append((self.key, x))
            return (self.key, x)

    class Sub(Keyed):
        pass

    for key in (1.5, (1, 2.5), Keyed("inner"), -0.0, 0.0, "k"):
        assert Keyed(key).read(1) == Keyed(key).read(x=1) == (key, 1)
        assert Keyed.read.uncached(Keyed(key), 1) == (key, 1)
        assert Keyed(key).read.invalidate(1) is True and Keyed(key).read.invalidate(1) is False
    assert Sub(1.5).read(1) == (1.5, 1) and Sub(1.5).read(1) == (1.5, 1)
    assert Keyed(1.5).read.cache_key(1) != Sub(1.5).read.cache_key(1)
    # Each key ran once cached and once uncached; Sub once more.
    assert [key for key, _ in calls].count(1.5) == 3 and len(calls) == 13
    with pytest.raises(LookupError, match="no key"):  # the hook's own error, as before
        Keyed(LookupError("no key")).read(1)
    assert len(calls) == 13
    Keyed("again").read(2)
    local.forget()  # classes decided again (a key registration does this): still a hit
    assert Keyed("again").read(2) == ("again", 2) and len(calls) == 14


class Documented:
    """Methods whose introspection a bound cached method must answer as a bound method."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __memo_key__(self) -> int:
        return self.n

    @memo.cached
    def twice(self, x: int) -> int:
        """Twice x, plus n."""
        return 2 * x + self.n

    @memo.cached
    async def atwice(self, x: int) -> int:
        """Twice x, awaited."""
        return 2 * x

    @classmethod
    @memo.cached
    def named(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @memo.cached
    def items(self, x: int) -> list[int]:
        return [self.n, x]


def test_a_bound_method_answers_like_a_bound_method() -> None:
    """`obj.method` of a cached method binds in C (a partial), but introspects as the bound
    method it stands for: what frameworks read (inspect, asyncio, pickle, equality)."""
    import copy
    import inspect
    import pickle

    one = Documented(1)
    bound, abound = one.twice, one.atwice
    assert inspect.ismethod(bound) and inspect.ismethod(abound)
    assert not inspect.iscoroutinefunction(bound)
    assert inspect.iscoroutinefunction(abound) and asyncio.iscoroutinefunction(abound)
    assert str(inspect.signature(bound)) == "(x: 'int') -> 'int'"  # annotations are strings here
    assert (bound.__name__, bound.__qualname__) == ("twice", "Documented.twice")
    assert (bound.__module__, bound.__doc__) == (__name__, "Twice x, plus n.")
    assert bound.__annotations__ == {"x": "int", "return": "int"}
    assert bound.__self__ is one and bound.__func__ is Documented.twice.__wrapped__
    assert bound.__wrapped__ == bound.uncached and bound.uncached(3) == 7
    assert bound == one.twice and hash(bound) == hash(one.twice) and bound != Documented(1).twice
    assert copy.copy(bound) is bound and "Documented.twice" in repr(bound)
    restored = pickle.loads(pickle.dumps(Documented(5).twice))
    assert restored(1) == 7 and restored.__self__.n == 5
    named = Documented(1).named
    assert inspect.ismethod(named) and named.__self__ is Documented and named(2) == "Documented:2"


def test_a_bound_method_keeps_its_handles_and_its_key() -> None:
    """Handles of a bound method carry its instance; the key is the class-level call's."""
    one = Documented(2)
    hits = one.twice.stats.l1_hits
    assert one.twice(3) == 8 and one.twice(3) == 8
    assert one.twice.cache_key(3) == Documented.twice.cache_key(one, 3)
    assert one.twice.stats.l1_hits == hits + 1 and one.twice.cache_info().currsize >= 1
    assert one.twice.invalidate(3) is True and one.twice.invalidate(3) is False
    assert Documented(2).twice.refresh(3) == 8
    assert one.named(4) == Documented.named(4) == "Documented:4"
    assert asyncio.run(one.atwice(5)) == 10 and asyncio.run(one.atwice.invalidate(5)) is True


def test_a_held_bound_method_follows_the_current_store() -> None:
    """A bound method kept in a variable calls the function's hit path, whose code a later
    configure() replaces in place: the new behaviour (here: L1 hands out copies) is used."""
    holder = Documented(1)
    held = holder.items
    assert held(2) is held(2)  # L1 holds the object itself
    memo.configure(l1_copy=True)
    try:
        first = held(2)
        assert first == [1, 2] and held(2) == first and held(2) is not first
    finally:
        memo.configure()


class Base:
    """A base class whose cached method a subclass overrides."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, int]] = []

    def __memo_key__(self) -> str:
        return self.name

    @memo.cached
    def read(self, item: int, scale: int = 2) -> int:
        self.calls.append(("base", item))
        return item * scale


class Child(Base):
    """Overrides the cached method and calls the base's through super()."""

    @memo.cached
    def read(self, item: int, scale: int = 2) -> int:
        self.calls.append(("child", item))
        return super().read(item, scale) + 1


class Slotted:
    """Instances without a __dict__: the bound method holds the instance, not the reverse."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __memo_key__(self) -> str:
        return self.key

    @memo.cached
    def twice(self, x: int) -> int:
        return x * 2


def test_an_override_calling_super_keeps_an_entry_each() -> None:
    """An override and the base method it calls through super() are two functions with a
    key each (their qualified names differ); a defaults-omitted call finds the full call's
    entry in both, and invalidating the override leaves the base's entry."""
    child = Child("c")
    assert child.read(3) == 7 and child.read(3, 2) == 7 and child.read(item=3) == 7
    assert child.calls == [("child", 3), ("base", 3)]
    assert Base.read(child, 3) == 6 and super(Child, child).read(3, 2) == 6
    assert child.calls == [("child", 3), ("base", 3)]
    assert child.read.cache_key(3) != super(Child, child).read.cache_key(3)
    assert child.read.invalidate(3) is True
    assert child.read(3) == 7 and child.calls[2:] == [("child", 3)]


def test_a_method_of_a_slotted_class() -> None:
    """A class with __slots__ (no instance dict) binds and keys its cached method."""
    first, again, other = Slotted("a"), Slotted("a"), Slotted("b")
    assert first.twice(4) == 8 and again.twice(4) == 8 and other.twice(4) == 8
    assert Slotted.twice.stats.misses == 2 and Slotted.twice.stats.hits == 1
    assert first.twice.cache_key(4) == again.twice.cache_key(4) != other.twice.cache_key(4)
