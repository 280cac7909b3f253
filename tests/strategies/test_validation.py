"""Bad options and arguments fail with messages naming the function, parameter and fix."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import memo


def plain(user_id: int, name: str = "x") -> int:
    return user_id


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"ttl": -1}, "ttl=-1 must be a positive number"),
        ({"ttl": 0}, "ttl=0"),
        ({"ttl": "300"}, "ttl='300'"),
        ({"ttl": float("inf")}, "ttl=inf"),
        ({"ttl": True}, "ttl=True"),
        ({"none_ttl": -5}, "none_ttl=-5"),
        ({"jitter": 1.5, "ttl": 10}, "jitter=1.5 must be a fraction"),
        ({"jitter": 0.1}, "jitter= needs a ttl="),
        ({"ignore": "name"}, "write ignore=('name',)"),
        ({"ignore": ("nope",)}, "ignore= names ['nope'] which are not parameters"),
        ({"key": "{missing}"}, "'missing' is not a parameter"),
        ({"key": "{}"}, "a positional field"),
        ({"key": "{user_id"}, "key= template"),
        ({"key": 42}, "key= must be a callable"),
        ({"tags": "user:{user_id}"}, "tags= takes a list"),
        ({"tags": ["user:{uid}"]}, "'uid' is not a parameter"),
        ({"tags": [3]}, "each tag is a template string"),
        ({"version": "a b"}, "version='a b'"),
        ({"version": True}, "version=True"),
        ({"condition": "yes"}, "condition= must be a callable"),
        ({"store": {}}, "is not a memo store"),
        ({"tll": 3}, "unknown option(s) ['tll']"),
        ({"lock_timeout": 0}, "lock_timeout=0"),
    ],
)
def test_bad_option_is_a_configuration_error(options: dict[str, Any], fragment: str) -> None:
    """Each invalid option raises ConfigurationError at decoration, naming the function."""
    with pytest.raises(memo.ConfigurationError) as info:
        memo.cached(**options)(plain)
    message = str(info.value)
    assert fragment in message
    assert "plain" in message or "unknown option" in message
    assert isinstance(info.value, ValueError)


def test_positional_option_is_explained() -> None:
    """@memo.cached(300) says options are keyword-only."""
    with pytest.raises(memo.ConfigurationError, match="keyword-only"):
        memo.cached(300)  # type: ignore[call-overload]


def test_generators_are_refused() -> None:
    """Generator functions cannot be cached: their result is consumed once."""

    def gen() -> Any:
        yield 1

    async def agen() -> Any:
        yield 1

    with pytest.raises(memo.ConfigurationError, match="generator"):
        memo.cached(gen)
    with pytest.raises(memo.ConfigurationError, match="async generator"):
        memo.cached(agen)


def test_unencodable_argument_names_function_parameter_type_and_fixes() -> None:
    """An argument without a canonical encoding is a KeyBuildError that says what to do."""

    @memo.cached
    def query(conn: object, sql: str) -> int:
        return 1

    lock = threading.Lock()
    with pytest.raises(memo.KeyBuildError) as info:
        query(lock, "select 1")
    message = str(info.value)
    assert "query()" in message
    assert "'conn'" in message
    assert "lock" in message
    assert "ignore=('conn',)" in message
    assert "__memo_key__" in message
    assert "key=" in message
    assert isinstance(info.value, TypeError)


def test_unencodable_nested_value_gives_its_path() -> None:
    """The message points inside containers to the offending value."""

    @memo.cached
    def f(options: dict[str, Any]) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError, match=r"options\['callback'\]"):
        f({"callback": object()})


def test_key_build_error_from_handles_too() -> None:
    """cache_key and invalidate raise the same KeyBuildError as a call."""

    @memo.cached
    def f(x: object) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError):
        f.cache_key(object())
    with pytest.raises(memo.KeyBuildError):
        f.invalidate(object())


def test_method_without_identity_is_refused() -> None:
    """self without __memo_key__ and not ignored is an error, never an address."""

    class Repo:
        @memo.cached
        def get(self, x: int) -> int:
            return x

    with pytest.raises(memo.KeyBuildError) as info:
        Repo().get(1)
    assert "'self'" in str(info.value)
    assert "ignore=('self',)" in str(info.value)


def test_bad_configure_namespace() -> None:
    """A namespace that cannot be a key segment is refused."""
    with pytest.raises(memo.ConfigurationError, match="namespace"):
        memo.configure(namespace="my shop")


def test_bad_memory_store_sizes() -> None:
    """MemoryStore refuses a non-positive maxsize or ttl."""
    with pytest.raises(memo.ConfigurationError, match="maxsize"):
        memo.MemoryStore(maxsize=0)
    with pytest.raises(memo.ConfigurationError, match="ttl"):
        memo.MemoryStore(ttl=-1)


def test_non_callable_is_refused() -> None:
    """Decorating something that is not callable explains what to decorate."""
    with pytest.raises(memo.ConfigurationError):
        memo.cached(ttl=1)(42)


def test_invalidate_tag_needs_a_string() -> None:
    """invalidate_tag('') is refused with an example."""
    with pytest.raises(memo.ConfigurationError, match="user:42"):
        memo.invalidate_tag("")


def test_error_hierarchy() -> None:
    """Every memo error is a MemoError and the builtin it resembles."""
    assert issubclass(memo.KeyBuildError, memo.MemoError)
    assert issubclass(memo.KeyBuildError, TypeError)
    assert issubclass(memo.ConfigurationError, ValueError)
    assert issubclass(memo.SerializationError, memo.MemoError)


def test_long_version_is_refused() -> None:
    """A version longer than 32 characters would crowd the key: refused at decoration."""
    with pytest.raises(memo.ConfigurationError, match="at most 32"):
        memo.cached(version="v" * 33)(plain)


def test_builtin_offender_gets_no_memo_key_advice() -> None:
    """For a builtin type inside a container, the advice is to convert it, not to add a hook."""

    @memo.cached
    def f(items: list[object]) -> int:
        return 1

    with pytest.raises(memo.KeyBuildError) as info:
        f([print])
    assert "convert it to a supported value" in str(info.value)
