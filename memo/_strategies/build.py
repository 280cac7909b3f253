"""`@memo.cached`: validates every option at decoration, then builds the wrapper."""

from __future__ import annotations

import datetime
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

from memo._errors import ConfigurationError
from memo._keys.builder import KeyBuilder, check_template
from memo._keys.signature import Normaliser
from memo._policy.adaptive import Adaptive
from memo._policy.flows import Plan
from memo._runtime.core import Core
from memo._runtime.wrapper import wrap
from memo._stores.protocol import Store

__all__ = ["cached"]

TTL = float | int | datetime.timedelta | None


_DEFAULTS: dict[str, Any] = {
    "ttl": None,
    "jitter": 0.0,
    "key": None,
    "ignore": (),
    "version": 1,
    "tags": (),
    "cache_none": True,
    "none_ttl": None,
    "condition": None,
    "store": None,
    "lock": True,
    "lock_timeout": 10.0,
    "l1_copy": False,
    "early_refresh": None,
    "stale_ttl": None,
    "refresh_at": None,
}


def cached(function: Any = None, /, **options: Any) -> Any:
    """Memoize a sync or `async def` function (typed overloads: `cached.py`)."""
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"@memo.cached got unknown option(s) {unknown}; the options are {sorted(_DEFAULTS)}."
        )
    settings = {**_DEFAULTS, **options}
    if function is not None and not callable(function) and not _is_descriptor(function):
        raise ConfigurationError(
            f"@memo.cached({function!r}): options are keyword-only, e.g. "
            "@memo.cached(ttl=300); a bare @memo.cached takes the function itself."
        )
    if function is None:
        return lambda f: _decorate(f, **settings)
    return _decorate(function, **settings)


def _decorate(wrapped: Any, **options: Any) -> Any:
    function = _underlying(wrapped)
    display = f"{getattr(function, '__module__', '?')}.{function.__qualname__}()"
    normaliser = Normaliser(function)
    keys = KeyBuilder(
        function,
        normaliser,
        ignore=_names(display, options["ignore"]),
        key=options["key"],
        version=options["version"],
    )
    plan = _plan(display, keys, normaliser, options)
    store = _check_store(display, options["store"])
    core = Core(function, keys, plan, store=store, is_async=_is_async(function))
    return wrap(wrapped, core)


def _is_descriptor(wrapped: Any) -> bool:
    return isinstance(wrapped, (classmethod, staticmethod))


def _names(display: str, ignore: Any) -> tuple[str, ...]:
    if isinstance(ignore, str):
        raise ConfigurationError(
            f"{display}: ignore= takes a tuple of parameter names; write ignore=({ignore!r},)."
        )
    return tuple(ignore)


def _underlying(wrapped: Any) -> Callable[..., Any]:
    if _is_descriptor(wrapped):
        function: Callable[..., Any] = wrapped.__func__
        return function
    if not callable(wrapped):
        raise ConfigurationError(
            f"@memo.cached decorates functions and methods, not {type(wrapped).__qualname__} "
            f"objects ({wrapped!r}); put it directly above a def."
        )
    return wrapped  # type: ignore[no-any-return]


def _is_async(function: Callable[..., Any]) -> bool:
    if inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function):
        kind = "async generator" if inspect.isasyncgenfunction(function) else "generator"
        raise ConfigurationError(
            f"{function.__qualname__}() is a {kind} function: its result is consumed once, so "
            "caching it would hand later callers an exhausted iterator. Cache a function "
            "that returns a list instead."
        )
    return inspect.iscoroutinefunction(function)


def _plan(display: str, keys: KeyBuilder, normaliser: Normaliser, o: dict[str, Any]) -> Plan:
    adaptive = o["ttl"] if isinstance(o["ttl"], Adaptive) else None
    ttl = None if adaptive is not None else seconds(display, "ttl", o["ttl"])
    none_ttl = seconds(display, "none_ttl", o["none_ttl"])
    jitter = o["jitter"]
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
        raise ConfigurationError(
            f"{display}: jitter={jitter!r} must be a fraction in [0, 1): each TTL is drawn "
            "from [ttl·(1-jitter), ttl]; e.g. jitter=0.1."
        )
    has_ttl = ttl is not None or adaptive is not None
    if jitter and not has_ttl and none_ttl is None:
        raise ConfigurationError(f"{display}: jitter= needs a ttl= to spread; set ttl=…")
    if o["condition"] is not None and not callable(o["condition"]):
        raise ConfigurationError(
            f"{display}: condition= must be a callable taking the result and returning a "
            f"bool, not {type(o['condition']).__qualname__}."
        )
    lock_timeout = seconds(display, "lock_timeout", o["lock_timeout"])
    return Plan(
        name=display,
        ttl=ttl,
        jitter=float(jitter),
        cache_none=bool(o["cache_none"]) or none_ttl is not None,
        none_ttl=none_ttl,
        condition=o["condition"],
        lock=bool(o["lock"]),
        lock_timeout=lock_timeout if lock_timeout is not None else 10.0,
        l1_copy=bool(o["l1_copy"]),
        tags=_tag_renderer(display, normaliser, o["tags"]),
        adaptive=adaptive,
        **_refresh_options(display, o, has_ttl),
    )


def _refresh_options(display: str, o: dict[str, Any], has_ttl: bool) -> dict[str, Any]:
    """refresh_at, stale_ttl and early_refresh, checked; each needs a ttl to refresh within."""
    refresh_at, beta = o["refresh_at"], o["early_refresh"]
    stale_ttl = seconds(display, "stale_ttl", o["stale_ttl"])
    if refresh_at is not None and (
        isinstance(refresh_at, bool)
        or not isinstance(refresh_at, (int, float))
        or not 0 < refresh_at < 1
    ):
        raise ConfigurationError(
            f"{display}: refresh_at={refresh_at!r} must be a fraction of the TTL in (0, 1), "
            "e.g. refresh_at=0.8 refreshes after 80% of the TTL."
        )
    if beta is not None and (
        isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 < beta < math.inf
    ):
        raise ConfigurationError(
            f"{display}: early_refresh={beta!r} is XFetch's β, a positive number; 1.0 is the "
            "usual choice (larger refreshes earlier)."
        )
    for name, value in (
        ("refresh_at", refresh_at),
        ("stale_ttl", stale_ttl),
        ("early_refresh", beta),
    ):
        if value is not None and not has_ttl:
            raise ConfigurationError(
                f"{display}: {name}= needs a ttl= (it works within the entry's lifetime)."
            )
    return {
        "refresh_at": None if refresh_at is None else float(refresh_at),
        "stale_ttl": stale_ttl,
        "early_beta": None if beta is None else float(beta),
    }


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
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (value > 0 and math.isfinite(value))
    ):
        raise ConfigurationError(
            f"{display}: {option}={value!r} must be a positive number of seconds or a "
            f"datetime.timedelta (or None for no expiry), e.g. {option}=300."
        )
    return float(value)


def _tag_renderer(
    display: str, normaliser: Normaliser, tags: Iterable[str]
) -> Callable[[tuple[Any, ...]], tuple[str, ...]] | None:
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


def _check_store(display: str, store: Any) -> Store | None:
    if store is None or isinstance(store, Store):
        return store
    raise ConfigurationError(
        f"{display}: store={store!r} is not a memo store; pass memo.MemoryStore(), "
        "memo.RedisStore(...) or memo.TieredStore(l1, l2)."
    )
