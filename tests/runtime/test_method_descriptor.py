"""A cached method in its class: the C accelerator's descriptor and the pure-Python binding
answer alike (each test runs on both), and the accelerator is built where `make test` runs."""

from __future__ import annotations

import abc
import asyncio
import copy
import functools
import gc
import inspect
import os
import pickle
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import memo
from memo._runtime import methods
from tests.support.python import ROOT, run_python


@pytest.fixture(params=["accelerated", "pure"])
def binding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Methods decorated in the test bind through the C descriptor, or in Python."""
    if request.param == "pure":
        monkeypatch.setattr(methods, "METHOD_DESCRIPTOR", None)
    yield request.param


class Keyed:
    """Instances keyed by a name, counting their computations."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[object] = []

    def __memo_key__(self) -> str:
        return self.name


def _make_class() -> type[Any]:
    class Repo(Keyed):
        @memo.cached(ttl=60)
        def get(self, item: int, scale: int = 1) -> str:
            """Fetch an item."""
            self.calls.append(item)
            return f"{self.name}:{item * scale}"

        @memo.cached(ttl=60, ignore=("self",))
        def shared(self, item: int) -> int:
            self.calls.append(("shared", item))
            return item + 1

    return Repo


def test_the_accelerator_is_built() -> None:
    """`make test` installs memo with its C descriptor (hatch_build.py compiles it): a
    machine without a C compiler would silently test only the pure-Python binding."""
    assert methods.METHOD_DESCRIPTOR is not None, "install a C compiler (apt install gcc)"
    repo = _make_class()
    assert type(repo.__dict__["get"]) is methods.METHOD_DESCRIPTOR


def test_memo_pure_python_turns_it_off() -> None:
    code = "from memo._runtime import methods; print(methods.METHOD_DESCRIPTOR)"
    assert run_python(code, MEMO_PURE_PYTHON="1") == "None"


@pytest.mark.timeout(240)
def test_the_method_suites_pass_in_pure_python() -> None:
    """Where no C compiler built the accelerator, methods bind in Python: the suites of
    methods and of lru_cache's ported tests run again in a process that does so."""
    suites = ["tests/strategies/test_methods.py", "tests/peers/test_functools_lru.py"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "MEMO_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


def test_calls_hit_and_key_like_the_bound_method(binding: str) -> None:
    repo_class = _make_class()
    a, twin, other = repo_class("a"), repo_class("a"), repo_class("b")
    assert a.get(2) == "a:2"
    assert twin.get(2) == "a:2"  # same __memo_key__: same entry
    assert other.get(2) == "b:2"
    assert a.get(item=2) == "a:2"  # keyword, default left out
    assert a.get(2, scale=1) == "a:2"
    assert a.calls == [2] and twin.calls == [] and other.calls == [2]
    assert a.get(2, 3) == "a:6"
    info = repo_class.get.cache_info()
    assert (info.hits, info.misses) == (3, 3)


def test_handles_bind_to_the_instance(binding: str) -> None:
    repo_class = _make_class()
    a = repo_class("a")
    a.get(1)
    assert a.get.cache_key(1) == repo_class.get.cache_key(a, 1) == repo_class("a").get.cache_key(1)
    assert a.get.cache_key(1) != repo_class("b").get.cache_key(1)
    assert a.get.invalidate(1) is True
    a.get(1)
    assert a.calls == [1, 1]
    assert repo_class.get.invalidate(a, 1) is True
    assert a.get.__self__ is a
    assert a.get.uncached(4) == "a:4"
    assert a.get == a.get and a.get.__func__.__name__ == "get"


def test_ignored_self(binding: str) -> None:
    repo_class = _make_class()
    first, second = repo_class("a"), repo_class("b")
    assert first.shared(1) == second.shared(1) == 2
    assert first.calls == [("shared", 1)] and second.calls == []
    assert second.shared.invalidate(1) is True
    assert first.shared.cache_key(1) == repo_class.shared.cache_key(second, 1)


def test_wrong_calls_name_the_function(binding: str) -> None:
    repo = _make_class()("a")
    with pytest.raises(TypeError, match="get"):
        repo.get()
    with pytest.raises(TypeError, match="get"):
        repo.get(1, 2, 3)
    with pytest.raises(TypeError, match="get"):
        repo.get(1, nope=2)


def test_the_class_attribute_answers_as_the_decorated_function(binding: str) -> None:
    repo_class = _make_class()
    raw = repo_class.__dict__["get"]
    assert raw.__name__ == "get" and raw.__qualname__.endswith("Repo.get")
    assert raw.__doc__ == "Fetch an item."
    assert raw.__wrapped__.__name__ == "get"
    assert str(inspect.signature(repo_class.get)) == inspect.signature(raw.__wrapped__).__str__()
    assert list(inspect.signature(repo_class("a").get).parameters) == ["item", "scale"]
    assert repr(raw).startswith("<Memoized at ")  # the decorated object's (wrapt's) repr
    raw.note = "set through"
    assert raw.note == "set through"
    assert raw(repo_class("c"), 3) == "c:3"  # called unbound, as a function in a class is


def test_instance_attribute_shadows_it(binding: str) -> None:
    """A method descriptor is not a data descriptor: the instance's own attribute wins."""
    repo = _make_class()("a")
    repo.get = lambda item: "own"
    assert repo.get(1) == "own"


def test_super_and_overrides(binding: str) -> None:
    base = _make_class()

    class Child(base):  # type: ignore[misc, valid-type]
        def get(self, item: int, scale: int = 1) -> str:
            return "child+" + super().get(item, scale)

    child = Child("c")
    assert child.get(1) == "child+c:1"
    assert child.get(1) == "child+c:1"
    assert child.calls == [1]


def test_classmethod_staticmethod_and_property_over_it(binding: str) -> None:
    built: list[object] = []

    class Shop:
        @classmethod
        @memo.cached(ttl=60)
        def make(cls, label: str) -> str:
            built.append(label)
            return f"{cls.__name__}:{label}"

        @staticmethod
        @memo.cached(ttl=60)
        def double(x: int) -> int:
            built.append(x)
            return x * 2

        @property
        @memo.cached(ttl=60, ignore=("self",))
        def config(self) -> str:
            built.append("config")
            return "cfg"

    assert Shop.make("x") == Shop().make("x") == "Shop:x"
    assert Shop.make.invalidate("x") is True
    assert Shop.double(3) == Shop().double(3) == 6
    assert Shop().config == Shop().config == "cfg"
    assert built == ["x", 3, "config"]


def test_a_classmethod_binds_each_class_in_turn(binding: str) -> None:
    """The last class bound is kept (C and Python alike): alternating classes never get
    another's method, and a handle reached through a class binds to that class."""
    made: list[str] = []

    class Base:
        @classmethod
        @memo.cached(ttl=60)
        def make(cls, label: str) -> str:
            made.append(f"{cls.__name__}:{label}")
            return f"{cls.__name__}:{label}"

    class Sub(Base):
        pass

    for _ in range(2):
        assert Base.make("x") == "Base:x"
        assert Sub.make("x") == "Sub:x"
        assert Sub().make("x") == "Sub:x"
    assert made == ["Base:x", "Sub:x"]
    assert Base.make.__self__ is Base and Sub.make.__self__ is Sub
    assert Sub.make.invalidate("x") is True
    assert Base.make("x") == "Base:x" and made == ["Base:x", "Sub:x"]
    assert Sub.make("x") == "Sub:x" and made == ["Base:x", "Sub:x", "Sub:x"]


def test_threads_alternating_classes_each_get_their_own(binding: str) -> None:
    """The kept last class is swapped while other threads read it: each read of `K.f`
    still binds K (checked by `__self__` and by the value computed)."""

    class Base:
        @classmethod
        @memo.cached(ttl=60)
        def name(cls, n: int) -> str:
            return f"{cls.__name__}:{n}"

    class Sub(Base):
        pass

    wrong: list[object] = []

    def run(first: type[Base]) -> None:
        other = Sub if first is Base else Base
        for i in range(2_000):
            owner = first if i % 2 else other
            bound = owner.name
            if bound.__self__ is not owner or bound(i % 7) != f"{owner.__name__}:{i % 7}":
                wrong.append((owner, bound.__self__))

    threads = [threading.Thread(target=run, args=(k,)) for k in (Base, Sub) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert wrong == []


def test_async_method(binding: str) -> None:
    class Store(Keyed):
        @memo.cached(ttl=60)
        async def load(self, item: int) -> str:
            self.calls.append(item)
            return f"{self.name}:{item}"

    store = Store("s")

    async def main() -> list[str]:
        return [await store.load(1), await store.load(1), await store.load(item=1)]

    assert asyncio.run(main()) == ["s:1"] * 3
    assert store.calls == [1]
    assert inspect.iscoroutinefunction(Store.__dict__["load"])
    assert inspect.iscoroutinefunction(store.load)
    assert asyncio.run(store.load.invalidate(1)) is True


def test_abstract_and_wrapped_by_functools(binding: str) -> None:
    class Base(abc.ABC):
        @memo.cached(ttl=60)
        @abc.abstractmethod
        def value(self, item: int) -> int: ...

    with pytest.raises(TypeError, match="abstract"):
        Base()  # type: ignore[abstract]

    def logged(function: Any) -> Any:
        @functools.wraps(function)
        def call(*args: Any) -> Any:
            return function(*args)

        return call

    class Logged(Keyed):
        @logged
        @memo.cached(ttl=60)
        def get(self, item: int) -> int:
            self.calls.append(item)
            return item

    instance = Logged("l")
    assert instance.get(1) == instance.get(1) == 1
    assert instance.calls == [1]
    assert Logged.get.__wrapped__.__name__ == "get"


def test_pickle_and_copy_of_bound_methods(binding: str) -> None:
    repo = PICKLED("p")
    assert pickle.loads(pickle.dumps(repo.get))(2) == "p:2"
    assert copy.copy(repo).get(2) == "p:2"
    assert copy.deepcopy(repo).get.__self__.name == "p"


def test_the_descriptor_is_seen_by_the_garbage_collector() -> None:
    """A cycle through the descriptor (its decorated object holding it back) is collected."""
    descriptor = methods.METHOD_DESCRIPTOR
    assert descriptor is not None

    class Holder:
        back: Any = None

    holder = Holder()
    made = descriptor(len, len, len, holder)
    holder.back = made  # set through: on the holder
    assert made.back is made
    dead = weakref.ref(made)
    del made, holder
    gc.collect()
    assert dead() is None


def test_the_descriptor_refuses_what_it_cannot_call() -> None:
    descriptor = methods.METHOD_DESCRIPTOR
    assert descriptor is not None
    with pytest.raises(TypeError, match="MethodDescriptor"):
        descriptor(1, 2, 3, 4)
    with pytest.raises(TypeError):
        descriptor(len)


PICKLED = _make_class()
PICKLED.__qualname__ = PICKLED.__name__ = "PICKLED"  # importable by its name, for pickle
