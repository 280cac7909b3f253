"""key= templates and callables: as collision-free as the default key, checked early."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import memo


@dataclasses.dataclass(frozen=True)
class Point:
    """Slotted by hand: its instances carry only `name` (no __dict__)."""

    __slots__ = ("name",)
    name: str


def test_template_fields_enter_the_key_unambiguously() -> None:
    """key="{a}:{b}": f("x:y", "z") and f("x", "y:z") are two entries, not one."""
    calls: list[tuple[str, str]] = []

    @memo.cached(key="{a}:{b}")
    def f(a: str, b: str) -> tuple[str, str]:
        calls.append((a, b))
        return a, b

    assert f("x:y", "z") == ("x:y", "z")
    assert f("x", "y:z") == ("x", "y:z")
    assert f.cache_key("x:y", "z") != f.cache_key("x", "y:z")
    assert len(calls) == 2


def test_template_keeps_types_apart() -> None:
    """key="{a}": f(1) and f("1") are two entries, as they are under the default key."""

    @memo.cached(key="{a}")
    def f(a: object) -> str:
        return type(a).__name__

    assert (f(1), f("1"), f(1.0), f(True)) == ("int", "str", "float", "bool")


@given(
    st.tuples(st.text(max_size=6), st.text(max_size=6)),
    st.tuples(st.text(max_size=6), st.text(max_size=6)),
)
def test_template_keys_are_injective(one: tuple[str, str], other: tuple[str, str]) -> None:
    """Two calls whose template fields differ never share a key."""

    @memo.cached(key="{a}-{b}")
    def f(a: str, b: str, c: int = 0) -> None:
        return None

    same = f.cache_key(*one) == f.cache_key(*other)
    assert same == (one == other)


def test_template_ignores_parameters_it_does_not_name() -> None:
    """Parameters absent from the template do not enter the key."""

    @memo.cached(key="{a}")
    def f(a: int, b: int) -> int:
        return a + b

    assert f.cache_key(1, 2) == f.cache_key(1, 3)


def test_template_reading_a_missing_attribute_is_a_key_build_error() -> None:
    """A field the argument cannot resolve raises KeyBuildError naming the function and key=."""

    @memo.cached(key="{order.id}")
    def total(order: object) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError, match=r"total\(\).*key= template.*\{order\.id\}"):
        total(object())


def test_template_on_a_slotted_annotation_is_checked_at_decoration() -> None:
    """{p.nmae} on a parameter annotated with a slotted class lacking it fails at decoration."""

    with pytest.raises(memo.ConfigurationError, match=r"has no attribute 'nmae'"):

        @memo.cached(key="{p.nmae}")
        def f(p: Point) -> str:
            return p.name

    @memo.cached(key="{p.name}")
    def g(p: Point) -> str:
        return p.name

    assert g(Point("a")) == "a"


def test_key_callable_that_cannot_take_the_arguments_fails_at_decoration() -> None:
    """key= with a signature that does not fit the function is a ConfigurationError at once."""
    with pytest.raises(memo.ConfigurationError, match=r"key= .* cannot take the function's"):

        @memo.cached(key=lambda a: a)
        def f(a: int, b: int) -> int:
            return a + b


def test_key_callable_raising_is_a_key_build_error() -> None:
    """A key= callable that raises at call time becomes KeyBuildError naming the function."""

    @memo.cached(key=lambda a: a["id"])
    def f(a: dict[str, int]) -> int:
        return 1

    assert f({"id": 1}) == 1
    with pytest.raises(memo.KeyBuildError, match=r"f\(\).*key= callable.*KeyError"):
        f({})
