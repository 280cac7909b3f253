"""memo.register_key: MRO dispatch, overrides, typed keys, refusals and error messages."""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import memo
from memo._keys import canonical
from memo._keys.libraries import REGISTRY
from memo._keys.registry import NATIVE_TYPES
from memo._keys.unencodable import article


@pytest.fixture
def registered() -> Iterator[list[type]]:
    """Classes the test registers; their registrations are dropped afterwards."""
    classes: list[type] = []
    yield classes
    for cls in classes:
        REGISTRY.unregister(cls)


def _register(registered: list[type], cls: type, encoder: Any) -> None:
    registered.append(cls)
    memo.register_key(cls, encoder)


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency


class Euro(Money):
    pass


class Points:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency


def key(value: object) -> bytes:
    return canonical.encode(value)


def test_registered_type_is_keyed_by_its_encoder(registered: list[type]) -> None:
    """Equal encodings give one key; different ones differ."""
    _register(registered, Money, lambda m: (m.cents, m.currency))
    assert key(Money(100, "EUR")) == key(Money(100, "EUR"))
    assert key(Money(100, "EUR")) != key(Money(101, "EUR"))


def test_subclass_follows_the_mro(registered: list[type]) -> None:
    """A subclass uses its base's encoder, yet keeps a key of its own (its class is in it)."""
    _register(registered, Money, lambda m: (m.cents, m.currency))
    assert key(Euro(100, "EUR")) == key(Euro(100, "EUR"))
    assert key(Euro(100, "EUR")) != key(Money(100, "EUR"))


def test_most_specific_registration_wins(registered: list[type]) -> None:
    """A registration for the subclass beats the base's, as in functools.singledispatch."""
    seen: list[str] = []
    _register(registered, Money, lambda m: seen.append("money") or m.cents)
    _register(registered, Euro, lambda m: seen.append("euro") or m.cents)
    key(Euro(1, "EUR"))
    key(Money(1, "EUR"))
    assert seen == ["euro", "money"]


def test_types_with_equal_encodings_differ(registered: list[type]) -> None:
    """Two registered classes whose encoders return the same value never share a key."""
    _register(registered, Money, lambda m: (m.cents, m.currency))
    _register(registered, Points, lambda p: (p.cents, p.currency))
    assert key(Money(5, "X")) != key(Points(5, "X"))
    assert key(Money(5, "X")) != key((5, "X"))


def test_a_later_registration_replaces_the_earlier(registered: list[type]) -> None:
    """Registering again takes effect at once: the per-class cache is forgotten."""
    _register(registered, Money, lambda m: m.cents)
    first = key(Money(1, "EUR")), key(Money(1, "USD"))
    assert first[0] == first[1]
    _register(registered, Money, lambda m: (m.cents, m.currency))
    assert key(Money(1, "EUR")) != key(Money(1, "USD"))


def test_an_abc_registration_reaches_virtual_subclasses(registered: list[type]) -> None:
    """ABCs dispatch as in singledispatch, also for a class registered with the ABC later."""

    class Shape(abc.ABC):  # noqa: B024 (an ABC used only for virtual subclasses)
        pass

    class Square:
        def __init__(self, side: int) -> None:
            self.side = side

    with pytest.raises(canonical.Unencodable):
        key(Square(2))  # resolved (and cached) as unregistered
    _register(registered, Shape, lambda s: s.side)
    Shape.register(Square)
    assert key(Square(2)) != key(Square(3))


def test_decorator_form(registered: list[type]) -> None:
    """Without an encoder, register_key is a decorator that returns the function."""
    registered.append(Points)

    @memo.register_key(Points)
    def points_key(p: Points) -> int:
        return p.cents

    assert points_key(Points(3, "x")) == 3
    assert key(Points(3, "x")) != key(Points(4, "x"))


def test_cached_function_uses_the_registry(registered: list[type]) -> None:
    """A cached call with a registered argument hits on an equal value."""
    _register(registered, Money, lambda m: (m.cents, m.currency))
    calls: list[int] = []

    @memo.cached
    def tax(amount: Money) -> int:
        calls.append(amount.cents)
        return amount.cents // 5

    assert tax(Money(100, "EUR")) == 20
    assert tax(Money(100, "EUR")) == 20
    assert tax(Money(200, "EUR")) == 40
    assert calls == [100, 200]


def test_a_registration_after_first_use_changes_the_l1_key_too(registered: list[type]) -> None:
    """A dataclass called before it is registered, then registered to key by one field: the L1
    token follows the registration, so L1 agrees with cache_key() (two calls share an L1
    entry exactly when they share a Redis key)."""

    @dataclasses.dataclass(frozen=True)
    class Order:
        number: int
        note: str

    calls: list[int] = []

    @memo.cached
    def total(order: Order) -> int:
        calls.append(order.number)
        return order.number * 10

    assert total(Order(1, "a")) == 10
    assert total(Order(1, "b")) == 10  # a different note: another entry before registering
    assert calls == [1, 1]
    _register(registered, Order, lambda order: order.number)  # the note no longer counts
    assert total.cache_key(Order(1, "a")) == total.cache_key(Order(1, "b"))
    calls.clear()
    assert total(Order(1, "c")) == 10
    assert total(Order(1, "d")) == 10  # now the same entry, as cache_key() says
    assert calls == [1]


def test_user_registration_overrides_a_builtin(registered: list[type]) -> None:
    """Registering numpy.ndarray replaces memo's own encoder; unregistering restores it."""
    builtin = key(np.arange(3))
    _register(registered, np.ndarray, lambda a: a.tolist())
    assert key(np.arange(3)) == key(np.array([0, 1, 2]))
    assert key(np.arange(3)) != builtin
    REGISTRY.unregister(np.ndarray)
    assert key(np.arange(3)) == builtin


def test_encoder_error_names_the_encoder(registered: list[type]) -> None:
    """An encoder that raises gives a KeyBuildError naming the encoder and its error."""

    def broken(m: Money) -> object:
        raise ValueError("no rate")

    _register(registered, Money, broken)

    @memo.cached
    def convert(amount: Money) -> int:
        return 0

    with pytest.raises(memo.KeyBuildError) as info:
        convert(Money(1, "EUR"))
    message = str(info.value)
    assert "parameter 'amount' is a Money" in message
    assert "broken" in message and "ValueError: no rate" in message


def test_encoder_result_that_cannot_be_keyed_is_located(registered: list[type]) -> None:
    """A bad part inside an encoder's result is named with the path through <key>."""
    _register(registered, Money, lambda m: (m.cents, threading.Lock()))

    @memo.cached
    def convert(amount: Money) -> int:
        return 0

    with pytest.raises(memo.KeyBuildError, match=r"holds a lock at amount<key>\[1\]"):
        convert(Money(1, "EUR"))


@pytest.mark.parametrize("cls", [int, str, tuple, dict, type(None), type, abc.ABCMeta])
def test_native_types_are_refused(cls: type) -> None:
    """memo keys its own types itself: registering one is a ConfigurationError."""
    with pytest.raises(memo.ConfigurationError, match="register a subclass"):
        memo.register_key(cls, repr)


def test_native_types_are_the_canonical_dispatch() -> None:
    """The refused types are exactly those the canonical encoding dispatches on, and type."""
    assert set(canonical._DISPATCH) | {type} == NATIVE_TYPES


def test_bad_arguments_are_refused() -> None:
    """Not a class, an encoder that is not callable, a class with __memo_key__: refused."""

    class Hooked:
        def __memo_key__(self) -> int:
            return 1

    with pytest.raises(memo.ConfigurationError, match="must be a class"):
        memo.register_key("Money", repr)  # type: ignore[call-overload]
    with pytest.raises(memo.ConfigurationError, match="must be a callable"):
        memo.register_key(Money, 3)  # type: ignore[call-overload]
    with pytest.raises(memo.ConfigurationError, match="defines __memo_key__"):
        memo.register_key(Hooked, repr)


def test_lambda_in_a_dict_is_blamed_where_it_is() -> None:
    """{'a': lambda: 1}: the message blames the function at x['a'], not the dict."""

    @memo.cached
    def f(x: object) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError) as info:
        f({"a": lambda: 1})
    message = str(info.value)
    assert "parameter 'x' holds a function at x['a']" in message
    assert "is a dict" not in message
    assert "ignore=('x',)" in message and "key=" in message


def test_message_names_register_key_for_foreign_types() -> None:
    """For a class memo cannot key, the way out names __memo_key__ and memo.register_key."""

    class Item:
        pass

    @memo.cached
    def f(item: object) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError) as info:
        f(Item())
    message = str(info.value)
    assert "parameter 'item' is an Item," in message
    assert "__memo_key__()" in message and "memo.register_key(Item, encoder)" in message


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("int64", "an"),
        ("ndarray", "an"),
        ("Item", "an"),
        ("object", "an"),
        ("dict", "a"),
        ("function", "a"),
        ("UUID", "a"),
        ("RLock", "an"),
        ("DataFrame", "a"),
        ("Series", "a"),
        ("mmap", "an"),
        ("user", "a"),
    ],
)
def test_article(word: str, expected: str) -> None:
    """Type names take the article they are read with."""
    assert article(word) == expected
