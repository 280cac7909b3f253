"""Each decorator's options are written once: the Options dataclass, which its TypedDict and
its docs table must match (names, types, defaults), and which the decorator reads."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._strategies.cached import CachedKeywords, CachedOptions
from memo._strategies.invalidates import InvalidatesKeywords, InvalidatesOptions
from memo._strategies.options import Options, defaults, required
from memo._strategies.refresh_ahead import RefreshAheadKeywords, RefreshAheadOptions
from memo._strategies.write_behind import WriteBehindKeywords, WriteBehindOptions
from memo._strategies.write_through import WriteThroughKeywords, WriteThroughOptions
from memo._writes.delivery import Options as Delivery

DOCS = Path(__file__).resolve().parents[2] / "docs"

# (Options, TypedDict of **options, the decorator, the docs page holding its table)
STRATEGIES: list[tuple[type[Options], type[Any], Callable[..., Any], str]] = [
    (CachedOptions, CachedKeywords, memo.cached, "cached.md"),
    (RefreshAheadOptions, RefreshAheadKeywords, memo.refresh_ahead, "refresh.md"),
    (WriteThroughOptions, WriteThroughKeywords, memo.write_through, "write-through.md"),
    (InvalidatesOptions, InvalidatesKeywords, memo.invalidates, "write-through.md"),
    (WriteBehindOptions, WriteBehindKeywords, memo.write_behind, "write-behind.md"),
]
IDS = [options.decorator for options, *_ in STRATEGIES]
REQUIRED = "required"
_NAME = re.compile(r"^\[?`(\w+)`\]?(?:\([^)]*\))?$")


def field_types(options: type[Options]) -> dict[str, Any]:
    """The options' names and evaluated types (ClassVars left out)."""
    hints = typing.get_type_hints(options)
    return {field.name: hints[field.name] for field in dataclasses.fields(options)}


def table(page: str, decorator: str) -> dict[str, str]:
    """The rows of the table under `<!-- options: decorator -->`: option name to default."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- options: {decorator} -->") + 1
    while not lines[start].strip():
        start += 1
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:  # past the header and the |---| line
        if not line.startswith("|"):
            break
        name, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
        match = _NAME.match(name)
        if match:  # a row such as "every other option of @memo.cached" names no option
            rows[match.group(1)] = default
    return rows


def documented(default: str) -> Any:
    """The value a docs table gives as a default: `None`, `10_000`, `"block"` or required."""
    return dataclasses.MISSING if default == REQUIRED else ast.literal_eval(default.strip("`"))


def positional(decorator: Callable[..., Any]) -> set[str]:
    """The decorator's required positional parameters (the readers), listed in tables too."""
    named = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD
    parameters = inspect.signature(decorator).parameters.values()
    return {p.name for p in parameters if p.kind not in named and p.default is p.empty}


@pytest.mark.parametrize(("options", "keywords", "decorator", "page"), STRATEGIES, ids=IDS)
def test_typeddict_matches_the_dataclass(
    options: type[Options], keywords: type[Any], decorator: Callable[..., Any], page: str
) -> None:
    """The TypedDict that types **options has the dataclass's optional fields, same types."""
    types = field_types(options)
    optional = {name: kind for name, kind in types.items() if name not in required(options)}
    assert typing.get_type_hints(keywords) == optional
    assert keywords.__required_keys__ == frozenset()


@pytest.mark.parametrize(("options", "keywords", "decorator", "page"), STRATEGIES, ids=IDS)
def test_signature_takes_required_options_by_name_and_the_rest_as_keywords(
    options: type[Options], keywords: type[Any], decorator: Callable[..., Any], page: str
) -> None:
    """Only options without a default are named in the signature; the rest go by **options."""
    parameters = inspect.signature(decorator).parameters.values()
    named = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert named == required(options)
    assert [p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD] == ["options"]


@pytest.mark.parametrize(("options", "keywords", "decorator", "page"), STRATEGIES, ids=IDS)
def test_docs_table_matches_the_dataclass(
    options: type[Options], keywords: type[Any], decorator: Callable[..., Any], page: str
) -> None:
    """The page's option table lists each option with the dataclass's default."""
    rows = table(page, options.decorator)
    expected = defaults(options)
    if options is RefreshAheadOptions:  # the table lists what differs from @memo.cached
        base = defaults(CachedOptions)
        expected = {k: v for k, v in expected.items() if k not in base or base[k] != v}
    readers = dict.fromkeys(positional(decorator), REQUIRED)
    assert set(rows) == set(expected) | set(readers)
    assert {name: documented(rows[name]) for name in expected} == expected
    assert {name: rows[name] for name in readers} == readers


def test_refresh_ahead_table_refers_to_the_other_options() -> None:
    """refresh.md's table says the rows it leaves out are @memo.cached's."""
    text = (DOCS / "refresh.md").read_text(encoding="utf-8")
    assert "| every other option of [`@memo.cached`](cached.md#options-at-a-glance) |" in text
    assert issubclass(RefreshAheadOptions, CachedOptions)


def test_every_strategy_has_one_docs_table() -> None:
    """Each decorator's table is marked exactly once in the docs."""
    marks = [
        mark
        for page in DOCS.glob("*.md")
        for mark in re.findall(r"<!-- options: (\w+) -->", page.read_text(encoding="utf-8"))
    ]
    assert sorted(marks) == sorted(IDS)


@pytest.mark.parametrize(("options", "keywords", "decorator", "page"), STRATEGIES, ids=IDS)
def test_options_are_frozen(
    options: type[Options], keywords: type[Any], decorator: Callable[..., Any], page: str
) -> None:
    """Options cannot change once made."""
    made = options.of({"flush": print} if required(options) else {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.key = "x"  # type: ignore[attr-defined]


def reader() -> Any:
    """A @memo.cached reader for the writers' decorators."""
    return memo.cached(lambda user_id: 0)


@pytest.mark.parametrize(
    "decorate",
    [
        lambda: memo.cached(tll=1),  # type: ignore[call-overload]
        lambda: memo.refresh_ahead(tll=1),  # type: ignore[call-overload]
        lambda: memo.write_through(reader(), tll=1),  # type: ignore[call-arg]
        lambda: memo.invalidates(reader(), tll=1),  # type: ignore[call-arg]
        lambda: memo.write_behind(reader(), flush=print, tll=1),  # type: ignore[call-arg]
    ],
    ids=IDS,
)
def test_unknown_option_names_the_decorator_and_its_options(
    decorate: Callable[[], Any],
) -> None:
    """An unknown keyword is a ConfigurationError naming the decorator and listing its options."""
    with pytest.raises(
        memo.ConfigurationError, match=r"@memo\.\w+ got unknown option\(s\) \['tll'\]"
    ):
        decorate()


def test_refresh_at_on_cached_points_to_refresh_ahead() -> None:
    """refresh_at= is refresh_ahead's; @memo.cached says so instead of 'unknown option'."""
    with pytest.raises(memo.ConfigurationError, match=r"belongs to @memo\.refresh_ahead"):
        memo.cached(refresh_at=0.5)  # type: ignore[call-overload]


def test_decorators_read_their_defaults_from_the_dataclass() -> None:
    """A bare decorator's plan holds the dataclass's defaults."""
    plain = memo.cached(lambda x: x)._self_core.plan
    ahead = memo.refresh_ahead(lambda x: x)._self_core.plan
    assert (plain.ttl, plain.refresh_at, plain.lock_timeout) == (None, None, 10.0)
    assert (ahead.ttl, ahead.refresh_at) == (
        RefreshAheadOptions.ttl,
        RefreshAheadOptions.refresh_at,
    )
    assert plain.lock_timeout == CachedOptions.lock_timeout


def test_write_behind_hands_the_flusher_its_share_of_the_options() -> None:
    """Every field of the flusher's Options comes from WriteBehindOptions, seconds as floats."""
    made = WriteBehindOptions.of({"flush": print, "interval": 2, "block_timeout": 3})
    delivery = made.delivery()
    assert {f.name for f in dataclasses.fields(Delivery)} <= set(defaults(WriteBehindOptions))
    assert (delivery.interval, delivery.block_timeout, delivery.batch_size) == (2.0, 3.0, 100)
    assert isinstance(delivery.interval, float)


def test_write_behind_lists_every_problem_at_once() -> None:
    """Several wrong write-behind options are named in one ConfigurationError."""
    with pytest.raises(memo.ConfigurationError) as info:
        WriteBehindOptions.of({"flush": 1, "batch_size": 0, "on_full": "wait"})
    message = str(info.value)
    assert all(name in message for name in ("flush=1", "batch_size=0", "on_full='wait'"))
