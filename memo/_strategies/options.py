"""What every decorator's `Options` shares: built from keywords, and the checks they reuse.

Each decorator has one frozen dataclass of options (`CachedOptions`, `RefreshAheadOptions`,
`WriteThroughOptions`, `InvalidatesOptions`, `WriteBehindOptions`): its fields are the options
with their defaults, its methods the checks made at decoration. A `TypedDict` of the same
names types the decorator's `**options`; tests/test_options.py holds the two and the docs'
option tables to the same names, types and defaults.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, TypeVar

from memo._errors import ConfigurationError
from memo._keys.builder import check_template
from memo._keys.signature import Normaliser
from memo._policy.adaptive import Adaptive
from memo._stores.protocol import Store

__all__ = ["Options", "defaults", "required", "seconds"]

OptionsT = TypeVar("OptionsT", bound="Options")


@dataclass(frozen=True, kw_only=True)
class Options:
    """A decorator's options; `of()` refuses a name that is not one of its fields."""

    decorator: ClassVar[str] = ""
    hints: ClassVar[dict[str, str]] = {}  # an option of another decorator: what to say

    @classmethod
    def names(cls) -> list[str]:
        """The option names, sorted."""
        return sorted(f.name for f in fields(cls))

    @classmethod
    def of(cls: type[OptionsT], options: Mapping[str, Any]) -> OptionsT:
        """These options from the decorator's keywords; an unknown one is a ConfigurationError."""
        unknown = sorted(set(options) - set(cls.names()))
        for name in unknown:
            if name in cls.hints:
                raise ConfigurationError(cls.hints[name])
        if unknown:
            raise ConfigurationError(
                f"@memo.{cls.decorator} got unknown option(s) {unknown}; "
                f"the options are {cls.names()}."
            )
        return cls(**options)


def defaults(cls: type[Options]) -> dict[str, Any]:
    """Each option's default; MISSING for a required one."""
    return {f.name: f.default for f in fields(cls)}


def required(cls: type[Options]) -> list[str]:
    """The options without a default."""
    return [name for name, value in defaults(cls).items() if value is MISSING]


def seconds(display: str, option: str, value: Any) -> float | None:
    """A positive, finite number of seconds (or None), from a number or a timedelta."""
    if value is None:
        return None
    if isinstance(value, Adaptive):
        raise ConfigurationError(
            f"{display}: {option}= takes seconds; memo.adaptive(...) is for ttl= only."
        )
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if not _is_number(value) or not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(
            f"{display}: {option}={value!r} must be a positive number of seconds or a "
            f"datetime.timedelta (or None for no expiry), e.g. {option}=300."
        )
    return float(value)


def jitter(display: str, value: Any) -> float:
    """A fraction in [0, 1)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise ConfigurationError(
            f"{display}: jitter={value!r} must be a fraction in [0, 1): each TTL is drawn "
            "from [ttl·(1-jitter), ttl]; e.g. jitter=0.1."
        )
    return float(value)


def beta(display: str, value: Any) -> float | None:
    """XFetch's β: a positive number, or None."""
    if value is not None and (not _is_number(value) or not 0 < value < math.inf):
        raise ConfigurationError(
            f"{display}: early_refresh={value!r} is XFetch's β, a positive number; 1.0 is the "
            "usual choice (larger refreshes earlier)."
        )
    return None if value is None else float(value)


def condition(display: str, value: Any) -> Callable[[Any], bool] | None:
    """A predicate on the result, or None."""
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"{display}: condition= must be a callable taking the result and returning a "
            f"bool, not {type(value).__qualname__}."
        )
    return value  # type: ignore[no-any-return]


def ignored(display: str, ignore: Any) -> tuple[str, ...]:
    """Parameter names, given as a tuple (or any iterable) but never as one string."""
    if isinstance(ignore, str):
        raise ConfigurationError(
            f"{display}: ignore= takes a tuple of parameter names; write ignore=({ignore!r},)."
        )
    return tuple(ignore)


def store(display: str, value: Any) -> Store | None:
    """A memo store, or None for the configured default."""
    if value is None or isinstance(value, Store):
        return value
    raise ConfigurationError(
        f"{display}: store={value!r} is not a memo store; pass memo.MemoryStore(), "
        "memo.RedisStore(...) or memo.TieredStore(l1, l2)."
    )


TagRenderer = Callable[[tuple[Any, ...]], tuple[str, ...]]


def tag_renderer(display: str, normaliser: Normaliser, tags: Iterable[str]) -> TagRenderer | None:
    """The call's tags from its normalised arguments; None without tags."""
    if isinstance(tags, str):
        raise ConfigurationError(f"{display}: tags= takes a list of templates: tags=[{tags!r}].")
    templates = tuple(tags)
    for template in templates:
        if not isinstance(template, str):
            raise ConfigurationError(
                f"{display}: tags= holds {template!r}; each tag is a template string "
                "such as 'user:{user_id}'."
            )
        check_template(display, "tags=", template, normaliser.names)
    if not templates:
        return None

    def render(normalised: tuple[Any, ...]) -> tuple[str, ...]:
        arguments = normaliser.arguments(normalised)
        return tuple(t.format_map(arguments) for t in templates)

    return render


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
