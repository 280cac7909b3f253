"""The hit path that declares the function's own parameters (memo/_runtime/declared.py):
every call shape binds as the plain function would, shares the key of its bound values, and
the functions it cannot serve keep the generic path with the same results."""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memo
from memo._runtime.hit_source import declared_parameters


def core_of(function: Any) -> Any:
    return function._self_core


def test_every_shape_of_a_call_shares_one_entry() -> None:
    """Positional-only, positional-or-keyword and keyword-only parameters, defaults left
    out or given: one computation per bound call, whatever its spelling."""
    computed: list[tuple[Any, ...]] = []

    @memo.cached
    def f(a: int, /, b: str = "x", *, c: float = 1.0, d: bool = False) -> tuple[Any, ...]:
        computed.append((a, b, c, d))
        return (a, b, c, d)

    assert declared_parameters(core_of(f)) is not None
    for call in (
        lambda: f(1),
        lambda: f(1, "x"),
        lambda: f(1, b="x"),
        lambda: f(1, c=1.0),
        lambda: f(1, d=False, c=1.0, b="x"),
        lambda: f(1, "x", c=1.0, d=False),
    ):
        assert call() == (1, "x", 1.0, False)
    assert computed == [(1, "x", 1.0, False)]
    assert f(1, d=True) == (1, "x", 1.0, True) and f(1, c=2.0) == (1, "x", 2.0, False)
    assert len(computed) == 3
    assert f.cache_key(1) == f.cache_key(1, "x", c=1.0, d=False)


def test_a_call_that_does_not_bind_raises_the_plain_functions_type_error() -> None:
    """CPython binds the declared parameters: its TypeError, naming the function."""

    @memo.cached
    def g(a: int, /, b: int = 2, *, c: int = 3) -> int:
        return a + b + c

    with pytest.raises(TypeError, match=r"g\(\) missing 1 required positional argument"):
        g()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"g\(\) got some positional-only arguments"):
        g(a=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"g\(\) takes from 1 to 2 positional arguments"):
        g(1, 2, 3)  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"g\(\) got an unexpected keyword argument 'z'"):
        g(1, z=4)  # type: ignore[call-arg]
    assert g(1) == 6 and g.stats.misses == 1


def test_defaults_told_by_identity_keep_every_key_guarantee() -> None:
    """A default whose token is made once (float, bool, tuple) is told by identity; a value
    given explicitly gets its own token, equal to the default's exactly when the encoding
    is: 1.0 == 1.0 share, -0.0 and 0.0 differ, True and 1 differ, NaN finds its entry."""
    seen: list[Any] = []

    @memo.cached
    def h(x: float = 1.0, z: float = -0.0, flag: Any = True, n: float = math.nan) -> int:
        seen.append((x, z, flag, n))
        return len(seen)

    assert declared_parameters(core_of(h)) is not None
    first = h()
    assert h(float("1.0")) == first and h(1.0, -0.0, True) == first
    assert h(n=float("nan")) == first  # every NaN encodes alike
    assert h(z=0.0) != first  # the zero's sign is kept
    assert h(flag=1) != first  # True is not 1
    assert h(x=1) != first  # 1 is not 1.0
    assert len(seen) == 4


def test_a_mutable_default_is_keyed_as_it_is_at_each_call() -> None:
    """A list default is tokenised at every call: mutated, it makes a new key."""
    default: list[int] = [1]
    seen: list[list[int]] = []

    def body(a: int, b: list[int] = default) -> int:
        seen.append(list(b))
        return sum(b) + a

    cached = memo.cached(body)
    assert cached(1) == 2 and cached(1, [1]) == 2 and len(seen) == 1
    default.append(5)
    assert cached(1) == 7 and seen == [[1], [1, 5]]


def test_a_listed_default_left_out_is_told_by_its_items_identity() -> None:
    """A short list default of raw values has its token made once; a call that leaves it
    out uses it only while the list holds the very same items: any change, to an equal
    value of another kind included, makes the key of what the list now holds."""
    default: list[Any] = [1, "a"]
    seen: list[list[Any]] = []

    def body(a: int, b: list[Any] = default) -> list[Any]:
        seen.append(list(b))
        return [a, *b]

    cached = memo.cached(body)
    assert "b is default_1 and len(b) == 2" in _source(cached)
    assert cached(1) == [1, 1, "a"] and cached(1, [1, "a"]) == [1, 1, "a"]
    assert cached.cache_key(1) == cached.cache_key(1, [1, "a"])
    big = 10**6
    for changed in ([True, "a"], [1.0, "a"], ["1", "a"], [1, "a", None], [1], [], [big, "a"]):
        default[:] = changed
        assert cached(1) == [1, *changed], changed
        assert cached.cache_key(1) == cached.cache_key(1, list(changed))
        assert cached(1) == [1, *changed]  # and then a hit of its own
    default[:] = [int(str(big)), "a"]  # equal to the last, another object: the same entry
    assert cached(1) == [1, big, "a"]
    default[:] = [1, "a"]
    assert cached(1) == [1, 1, "a"]
    assert len(seen) == 8
    assert cached.stats.misses == 8


def test_only_short_lists_of_raw_values_are_listed() -> None:
    def made(default: Any) -> bool:
        def body(a: int, b: Any = default) -> int:
            return a

        return "default_item_1" in _source(memo.cached(body)) or "len(b) == 0" in _source(
            memo.cached(body)
        )

    assert made([]) and made([1, "x", b"y", None]) and not made([1, 2, 3, 4, 5])
    assert not made([1.0]) and not made([[1]]) and not made((1, [2])) and not made([True])


def _source(cached: Any) -> str:
    from memo._runtime.hit_source import _declared_source

    core = core_of(cached)
    made = declared_parameters(core)
    assert made is not None
    return _declared_source(core, made)


def test_parameters_named_like_the_paths_own_names_keep_the_generic_path() -> None:
    """A parameter called key, values, token, core, kind or type, or like one of the path's
    cells, would shadow the path's names: such a function keeps the generic path, with the
    same answers."""

    @memo.cached
    def clash(key: int, values: int = 2, token: int = 3, core: int = 4, type: int = 5) -> int:
        return key * 10_000 + values * 1_000 + token * 100 + core * 10 + type

    assert declared_parameters(core_of(clash)) is None
    assert clash(1) == 12345 and clash(key=1, type=5) == 12345 and clash.stats.misses == 1
    assert clash(1, type=6) == 12346 and clash.stats.misses == 2

    @memo.cached
    def cells(default_1: int, default_token_2: float = 1.0, strip_token_2: float = 2.5) -> float:
        return default_1 + default_token_2 + strip_token_2

    assert declared_parameters(core_of(cells)) is None
    assert cells(1) == 4.5 and cells(1, strip_token_2=2.5) == 4.5 and cells.stats.misses == 1
    assert cells(1, 2.0) == 5.5 and cells.stats.misses == 2

    @memo.cached
    def fine(a: int, element_count: int = 1) -> int:
        return a + element_count

    assert declared_parameters(core_of(fine)) is not None


def test_a_method_parameter_named_like_the_owner_lookups_names_keeps_the_generic_path() -> None:
    """The lines that look a first `self` or `cls` up first use names of their own
    (hooked, hook_names, HOOK, class_tokens, type_): a parameter so named keeps the generic
    path, and every call reaches the function with its own argument."""

    class Keyed:
        def __memo_key__(self) -> str:
            return "k"

        @memo.cached
        def read(self, hooked: int, hook_names: int = 0, HOOK: int = 0) -> tuple[int, ...]:
            return (hooked, hook_names, HOOK)

        @classmethod
        @memo.cached
        def build(cls, class_tokens: int, type_: int = 0) -> tuple[int, int]:
            return (class_tokens, type_)

    for method in (Keyed.read, Keyed.build):
        assert declared_parameters(core_of(method)) is None
    assert Keyed().read(1) == (1, 0, 0) and Keyed().read(2, 3, 4) == (2, 3, 4)
    assert Keyed().read(1) == (1, 0, 0) and Keyed().read.stats.hits == 1
    assert Keyed.build(5) == (5, 0) and Keyed.build(6, type_=7) == (6, 7)
    assert Keyed.build(5) == (5, 0) and Keyed.build.stats.hits == 1


def test_functions_the_declared_path_cannot_serve_keep_the_generic_path() -> None:
    """Variadics, a key= callable, a wrapper that names another signature: generic path,
    same results."""

    @memo.cached
    def variadic(*args: int, **kwargs: int) -> int:
        return sum(args) + sum(kwargs.values())

    @memo.cached(key=lambda a, b=0: a)
    def keyed(a: int, b: int = 0) -> int:
        return a

    def inner(a: int, b: int = 1) -> int:
        return a + b

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        return inner(*args, **kwargs)

    wrapped = memo.cached(wrapper)
    for function in (variadic, keyed, wrapped):
        assert declared_parameters(core_of(function)) is None
    assert variadic(1, 2, x=3) == 6 and variadic(1, 2, x=3) == 6 and variadic.stats.misses == 1
    assert keyed(1, b=5) == 1 and keyed(1) == 1 and keyed.stats.misses == 1
    assert wrapped(1) == 2 and wrapped(a=1, b=1) == 2 and wrapped.stats.misses == 1


def test_methods_and_ignore_bind_through_the_declared_path() -> None:
    """self through __memo_key__, or ignored; keywords and defaults on a method."""

    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name
            self.calls = 0

        def __memo_key__(self) -> str:
            return self.name

        @memo.cached
        def get(self, item: int, *, scale: int = 1) -> str:
            self.calls += 1
            return f"{self.name}:{item * scale}"

        @memo.cached(ignore=("self",))
        def shared(self, item: int = 3) -> int:
            self.calls += 1
            return item

    one, two = Repo("one"), Repo("two")
    assert one.get(2) == "one:2" and one.get(item=2, scale=1) == "one:2" and one.calls == 1
    assert two.get(2) == "two:2" and two.calls == 1
    assert one.shared() == 3 and two.shared(item=3) == 3 and one.calls + two.calls == 3
    assert one.get.invalidate(2) is True and one.get(2) == "one:2" and one.calls == 3
    with pytest.raises(TypeError, match=r"get\(\) missing 1 required positional argument"):
        one.get()  # type: ignore[call-arg]


def test_keyword_only_arguments_reach_the_function_by_keyword_on_a_miss() -> None:
    """The miss calls the function with its keyword-only parameters by name, and
    memo.disabled() calls straight through in the same form."""
    received: list[tuple[Any, ...]] = []

    @memo.cached
    def k(a: int, *, b: int, c: int = 7) -> int:
        received.append((a, b, c))
        return a + b + c

    assert k(1, b=2) == 10 and k(c=7, b=2, a=1) == 10 and received == [(1, 2, 7)]
    with memo.disabled():
        assert k(1, b=2) == 10
    assert received == [(1, 2, 7), (1, 2, 7)]


def test_async_declared_path_binds_keywords_and_raises_at_the_call() -> None:
    """An async function's declared path: keywords in any order share the entry; a call
    that does not bind raises when made, as the plain coroutine function does."""
    computed: list[int] = []

    @memo.cached
    async def fetch(a: int, b: str = "x", c: float = 1.0, d: bool = False) -> str:
        computed.append(a)
        return f"{a}{b}{c}{d}"

    async def main() -> None:
        assert await fetch(a=1, b="y", d=True) == "1y1.0True"
        assert await fetch(d=True, b="y", a=1) == "1y1.0True"
        assert await fetch(1, "y", 1.0, True) == "1y1.0True"
        assert await fetch(2) == "2x1.0False" and await fetch(2, c=1.0) == "2x1.0False"

    asyncio.run(main())
    assert computed == [1, 2]
    with pytest.raises(TypeError, match=r"fetch\(\) got an unexpected keyword argument"):
        fetch(1, e=2)  # type: ignore[call-arg]


def test_an_unkeyable_argument_still_explains_itself() -> None:
    """A value with no key reaches the slow path, which names function and parameter."""

    @memo.cached
    def uses(a: int, conn: object = None) -> int:
        return a

    with pytest.raises(memo.KeyBuildError, match="conn"):
        uses(1, conn=object())


def test_ignored_parameters_and_trailing_defaults_on_both_paths() -> None:
    """With ignore=, the trailing defaults are counted among the kept values: one entry for
    every spelling of the same kept values, on the declared and on the generic path."""

    def body(a: int, conn: object = None, b: float = 2.5, c: bool = True) -> tuple[Any, ...]:
        return (a, b, c)

    def forward(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return body(*args, **kwargs)

    forward.__signature__ = inspect.signature(body)  # type: ignore[attr-defined]
    for function in (memo.cached(ignore=("conn",))(body), memo.cached(ignore=("conn",))(forward)):
        conn = object()
        assert function(1) == function(1, conn) == function(1, conn, float("2.5")) == (1, 2.5, True)
        assert function(1, c=True) == function(a=1, conn=conn, b=2.5, c=True) == (1, 2.5, True)
        assert function.stats.misses == 1
        assert function(1, c=1) == (1, 2.5, 1) and function(1, b=-0.0) == (1, -0.0, True)
        assert function.stats.misses == 3
        assert function.invalidate(1, None, 2.5) is True and function(1) == (1, 2.5, True)
        assert function.stats.misses == 4


_DEFAULTS = st.sampled_from(
    [1, 0, 2.5, -0.0, True, None, "x", b"z", (1, 2.5), [1], [], ["x", None, 2], [1.0], [True]]
)
_ARGUMENTS = st.sampled_from(  # with equal values that are other objects than the defaults
    [
        *(1, 1.0, True, 0, -0.0, 0.0, 2.5, float("2.5"), float("-0.0"), "x", b"z", (1, 2.5)),
        *([1], None, [], [1.0], [True], ["x", None, 2]),
    ]
)


def _random_signature(data: st.DataObject) -> tuple[list[str], dict[str, Any], str]:
    """Parameter kinds ("pos", "any", "kw", in order), defaults by name, and the parameter
    list's source (defaults read from `D`)."""
    kinds = sorted(
        data.draw(st.lists(st.sampled_from(["pos", "any", "kw"]), min_size=1, max_size=6)),
        key=["pos", "any", "kw"].index,
    )
    names = [f"p{i}" for i in range(len(kinds))]
    defaults: dict[str, Any] = {}
    required_seen = False  # a positional parameter without a default ends the defaults
    for kind, name in reversed(list(zip(kinds, names, strict=True))):
        if (kind == "kw" or not required_seen) and data.draw(st.booleans()):
            defaults[name] = data.draw(_DEFAULTS)
        elif kind != "kw":
            required_seen = True
    parts = [f"{n}=D[{n!r}]" if n in defaults else n for n in names]
    if "kw" in kinds:
        parts.insert(kinds.index("kw"), "*")
    if "pos" in kinds:
        parts.insert(kinds.count("pos"), "/")
    return kinds, defaults, ", ".join(parts)


def _random_call(
    data: st.DataObject, kinds: list[str], defaults: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """A call: each argument left out (where it has a default), or passed positionally
    (while every earlier one was) or by name (where the parameter allows)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for i, kind in enumerate(kinds):
        name = f"p{i}"
        if name in defaults and data.draw(st.booleans()):
            continue
        value = data.draw(_ARGUMENTS)
        in_order = len(args) == i and not kwargs
        if kind == "pos" or (kind == "any" and in_order and data.draw(st.booleans())):
            args.append(value)  # out of order for "pos": the plain function raises too
        else:
            kwargs[name] = value
    return args, kwargs


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_signatures_and_calls_agree_with_the_plain_function(data: st.DataObject) -> None:
    """A signature drawn at random (positional-only, positional-or-keyword and keyword-only
    parameters, constant and mutable defaults) and calls spelled at random: each result or
    TypeError is the plain function's, and it runs once per distinct `cache_key()`."""
    kinds, defaults, parameters = _random_signature(data)
    names = [f"p{i}" for i in range(len(kinds))]
    namespace: dict[str, Any] = {"D": defaults}
    exec(f"def plain({parameters}):\n    return ({''.join(n + ', ' for n in names)})\n", namespace)
    plain = namespace["plain"]
    cached = memo.cached(plain)
    keys = set()
    for _ in range(data.draw(st.integers(1, 8))):
        args, kwargs = _random_call(data, kinds, defaults)
        try:
            expected = plain(*args, **kwargs)
        except TypeError:
            with pytest.raises(TypeError):
                cached(*args, **kwargs)
            continue
        assert cached(*args, **kwargs) == expected
        keys.add(cached.cache_key(*args, **kwargs))
        bound = inspect.signature(plain).bind(*args, **kwargs)
        bound.apply_defaults()  # every value given, floats as other objects: the same entry
        again = [float(repr(v)) if type(v) is float else v for v in bound.args]
        assert cached(*again, **bound.kwargs) == expected
    assert cached.stats.misses == len(keys)


def test_every_parameter_ignored_shares_one_entry() -> None:
    """ignore= naming every parameter: one entry for all calls, which invalidate() removes
    (the declared path once keyed them all: an empty ignore-list read as "none")."""
    runs: list[int] = []

    @memo.cached(ignore=("x", "y"))
    def everything(x: int, y: float = 2.5) -> int:
        runs.append(x)
        return len(runs)

    assert declared_parameters(core_of(everything)) is not None
    assert everything(1) == everything(2) == everything(3, y=0.5) == 1
    assert everything.invalidate(7) is True and everything(1) == 2 and runs == [1, 1]


def test_a_callable_whose_name_is_not_a_string_still_decorates() -> None:
    """The free path takes the original's name only where it is a string."""

    class Odd:
        def __init__(self) -> None:
            self.__name__ = 42
            self.__qualname__ = None

        def __call__(self, x: int) -> int:
            return x * 2

    odd = memo.cached(Odd())
    assert odd(2) == 4 and odd(2) == 4 and odd.stats.misses == 1
