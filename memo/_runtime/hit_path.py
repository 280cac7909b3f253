"""The hit path: the `__call__` of a decorated function, generated per function.

It costs one Python call, a type check per argument (and a call for each argument that is
not an int, str, bytes, None or date: its L1 token), a tuple, a dict lookup and a deadline
comparison; a miss calls the function from the same frame.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from memo._clock import CLOCK
from memo._keys.builder import FAST_TYPES
from memo._keys.local import FLOAT_TAG, TOKEN_OF, local_token, local_tokens
from memo._runtime.core import Core
from memo._runtime.disabled import ACTIVE
from memo._runtime.pending import COMPUTE, Pending

__all__ = ["closed_path", "hit_path", "names"]


# The hit path is generated per function, as attrs and dataclasses generate __init__: the
# token of each key value is unrolled for the function's arity (a Python loop costs more than
# the rest of the lookup), and the same template yields the sync and the async colour, for
# the function and for its bound methods. Values of int, str, bytes, None and date are their
# own token (`type(v) in raw`); any other value is tokenised by its exact type (_keys/local.py).
# Calls that pass every parameter positionally use args as they are (with ignore=, the kept
# ones); any other shape is read by the reader made for it (_keys/shapes.py).
_HIT_PATH = """
{colour}def __call__({params}*args, **kwargs):{bind}
    if active[0]:
        return {wait}miss(args, kwargs)
    if kwargs or len(args) != pos_arity:
        if readers is None:
            return {wait}miss(args, kwargs)
        given = -1 if kwargs else len(args)
{omitted}        else:
            shape = (len(args), *kwargs) if args else tuple(kwargs)  # see Shapes
            values = (readers.get(shape) or learn(shape))(args, kwargs)
            if values is None:
                return {wait}miss(args, kwargs)
            try:
{tokens_16}
            except Exception:
                return {wait}miss(args, kwargs)
    else:
        values = {select}
        try:
{tokens_12}
        except Exception:  # no key (or a __memo_key__ that raised): the slow path explains
            return {wait}miss(args, kwargs)
{lookup}{complete}{tail}"""
# The L1 lookup, left out while the store has no L1 to look into (an L2-only store, or a
# tiered one bypassing its L1): the miss path's store lookup is then the only one.
_L1_LOOKUP = """    entry = core.l1.get(key)
    now = clock.monotonic()
    if entry is not None and entry.expires > now:
        entry.used = True{observe}{refresh}
        stats.l1_hits += 1
        return {value}
"""
# A sync miss calls the function from the hit path's own frame, so that a recursive cached
# function costs the interpreter three recursion units per level (its frame, the call of this
# object, this frame), not eight: the driver stops when the policy needs the function
# (COMPUTE) and is resumed with its result. An async miss needs no such care: its leader
# runs in a task of its own (flight.py), which starts a fresh stack.
_SYNC_MISS = """    run = start(args, kwargs, key, values)
    if type(run) is not pending:
        return run
    step = run.step
    while step is compute:
        began = perf_counter()
        try:
            value = function(*args, **kwargs)
        except BaseException as exc:
            step = resume(run, None, exc)
        else:
            step = resume(run, (value, perf_counter() - began))
    return step
"""
_ASYNC_MISS = "    return await miss(args, kwargs, key, values)\n"
# A call that left out defaults has its values made when a refresh or a miss needs them.
_COMPLETE = "    if values is None:\n        values = args + tails[len(args)]\n"
_LEN = len
_UNROLL_UP_TO = 8
# A bound method's arguments as the function takes them (_BoundMixin._memo_args, inlined).
_BIND = """
    binding = self._self_binding
    if binding == "classmethod":
        args = (self._self_owner, *args)
    elif binding != "staticmethod" and self._self_instance is not None:
        args = (self._self_instance, *args)"""


def _tokens(
    count: int,
    *,
    indent: int = 12,
    source: str = "values",
    suffix: str = "",
    inline_tuples: bool = False,
) -> str:
    """Source that sets `key` to the L1 key of `values` (count of them, -1: unknown): the
    first count of `source`, then the ready tokens `suffix` names (defaults left out: a
    tuple added, or, ending in a comma, names of single tokens).

    A float (not zero, not NaN) is tokenised inline, as _keys/local.py would: a call less;
    every other kind pays one comparison for it. With inline_tuples (the call that passes
    every parameter positionally, the commonest), so is a tuple or a frozenset of raw values
    (its own token): its elements are checked in this frame, at two comparisons more for
    the other kinds; only there, as each inlined block is compiled at decoration."""
    pad = " " * indent
    if count < 0 or count > _UNROLL_UP_TO:
        return f"{pad}key = core.prefix + tokens(values)"
    lines = [f"{pad}token = core.token"]
    for i in range(count):
        lines += [
            f"{pad}v{i} = {source}[{i}]",
            f"{pad}kind = type(v{i})",
            f"{pad}if kind not in raw:",
        ]
        if not inline_tuples:  # one line: the blocks are compiled at decoration, many each
            lines.append(
                f"{pad}    v{i} = (FLOAT, v{i}) if kind is float_ and v{i} and v{i} == v{i} else"
                f" (token_of.get(kind) or local_token)(v{i})"
            )
            continue
        lines += [
            f"{pad}    if kind is float_ and v{i} and v{i} == v{i}:",
            f"{pad}        v{i} = (FLOAT, v{i})",
            f"{pad}    elif kind is tuple_ or kind is frozenset_:",
            f"{pad}        for element in v{i}:",
            f"{pad}            if type(element) not in raw:",
            f"{pad}                v{i} = token_of[kind](v{i})",
            f"{pad}                break",
            f"{pad}    else:",
            f"{pad}        v{i} = (token_of.get(kind) or local_token)(v{i})",
        ]
    key = "(token, " + "".join(f"v{i}, " for i in range(count)) + ")"
    if suffix.endswith(","):
        key = key[:-1] + suffix + ")"
    elif suffix:
        key += " + " + suffix
    lines.append(f"{pad}key = {key}")
    return "\n".join(lines)


def _omitted(core: Core, tail_keys: dict[int, tuple[Any, ...]], wait: str) -> str:
    """Source of the branches for positional calls that leave out defaults: where their
    tokens are made once (`tail_keys`), the given arguments' tokens then those (`tail_key_N`;
    past eight given values, a loop over them), with `values` made for a refresh or a miss
    only (`_COMPLETE`); other defaults (a list) are added to args and tokenised at each
    call."""
    count = _key_count(core)
    shapes = core.keys.shapes
    tails = shapes.tails if shapes is not None else {}
    unrolled = {given: tail for given, tail in tail_keys.items() if given <= _UNROLL_UP_TO}
    # Each default's token a cell of its own, so the key is one tuple, not two added, while
    # the cells are few: every cell costs every call a copy.
    single = sum(map(len, unrolled.values())) <= _UNROLL_UP_TO
    conditions_and_bodies: list[tuple[str, str, str]] = []  # (test, values, key source)
    for given in sorted(unrolled):
        suffix = f"tail_key_{given}"
        if single:
            suffix = " ".join(f"{suffix}_{j}," for j in range(len(unrolled[given])))
        tokens = _tokens(given, indent=16, source="args", suffix=suffix)
        conditions_and_bodies.append((f"given == {given}", "None", tokens))
    if len(unrolled) < len(tail_keys):  # more given values than unrolled: a loop over them
        loop = "                key = core.prefix + tokens(args) + ready"
        conditions_and_bodies.append(("(ready := tail_keys.get(given)) is not None", "None", loop))
    # A concatenation then the tokens, for the other tails (a call passing every parameter
    # positionally, whose tail is empty, has its own block).
    if tails.keys() - tail_keys.keys() - {_pos_arity(core)}:
        concatenated = _tokens(count, indent=16)
        test = "(tail := tails.get(given)) is not None"
        conditions_and_bodies.append((test, "args + tail", concatenated))
    branches = [
        f"        {'elif' if n else 'if'} {test}:\n"
        f"            values = {values}\n"
        "            try:\n"
        f"{body}\n"
        "            except Exception:\n"
        f"                return {wait}miss(args, kwargs)\n"
        for n, (test, values, body) in enumerate(conditions_and_bodies)
    ]
    return (
        "".join(branches) or "        if False:  # every call of another shape\n            pass\n"
    )


def tail_keys(core: Core) -> dict[int, tuple[Any, ...]]:
    """The tokens of each defaults tail whose values cannot change between calls."""
    shapes = core.keys.shapes
    if shapes is None:
        return {}
    return {
        given: tuple(map(local_token, tail))
        for given, tail in shapes.tails.items()
        if tail and all(map(_constant, tail))
    }


def _constant(value: Any) -> bool:
    """Whether value's token is the same at every call (an immutable value of a builtin)."""
    kind = type(value)
    if kind in _CONSTANTS:
        return True
    return kind in (tuple, frozenset) and all(map(_constant, value))


_CONSTANTS = frozenset({int, str, bytes, type(None), bool, float, complex})


def _key_count(core: Core) -> int:
    """How many values make the key of every call (-1 when it varies or key= makes it)."""
    keys = core.keys
    if keys.shapes is None:
        return -1
    return len(keys.keep) if keys.keep is not None else keys.normaliser.arity


def hit_path(
    core: Core, *, bound: bool, variant: tuple[bool, bool] | None = None
) -> Callable[..., Any]:
    """The `__call__` of core's decorated object (bound: of its wrapt-bound methods) for
    variant (l1_copy, L1 looked into; default: the present one); its names are the globals
    it runs in."""
    if inspect.isbuiltin(core.function):
        return _builtin_path(core)
    namespace = names(core)
    tail_keys = namespace["tail_keys"]
    source = _source(core, bound=bound, params="self, ", tail_keys=tail_keys, variant=variant)
    exec(compile(source, f"<memo hit path of {core.plan.name}>", "exec"), namespace)
    path: Callable[..., Any] = namespace["__call__"]
    return path


def closed_path(core: Core, cells: dict[str, Any], home: dict[str, Any]) -> types.FunctionType:
    """core's hit path without `self`, as a function of the module globals `home` (which
    tools read to resolve annotations, as they would the original's) that closes over
    `cells` (names(core)). Every variant closes over every name that some variant reads,
    so any variant's code can replace this function's (`__code__` must keep its free
    variables); the generated code reads no global."""
    if inspect.isbuiltin(core.function):
        guarded = _miss(core)

        def builtin_path(*args: Any, **kwargs: Any) -> Any:
            return guarded(args, kwargs)

        return builtin_path  # type: ignore[return-value]
    used = _used(core, cells)
    everything = ", ".join(used)
    source = _source(core, bound=False, params="", tail_keys=cells["tail_keys"])
    source = source.replace(
        "\n    if active[0]:",
        f"\n    if False:  # never runs: names every cell\n        ({everything},)"
        "\n    if active[0]:",
        1,
    )
    body = textwrap.indent(source, "    ")
    maker = f"def make({everything}):\n{body}\n    return __call__\n"
    scope: dict[str, Any] = {}
    exec(compile(maker, f"<memo hit path of {core.plan.name}>", "exec"), scope)
    inner = scope["make"](**{name: cells[name] for name in used})
    return types.FunctionType(inner.__code__, home, inner.__name__, None, inner.__closure__)


def _used(core: Core, cells: dict[str, Any]) -> list[str]:
    """The names any variant of core's path reads (each cell costs every call a copy): those
    of the variant that copies from L1 and looks into it, whose source holds every other
    variant's names, found by a scan rather than a compile (decorating stays one compile)."""
    source = _source(core, params="", tail_keys=cells["tail_keys"], variant=(True, True))
    return sorted(set(_IDENTIFIER.findall(source)) & cells.keys())


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _source(
    core: Core,
    *,
    params: str,
    tail_keys: dict[int, Any],
    bound: bool = False,
    variant: tuple[bool, bool] | None = None,
) -> str:
    """The hit path's source for variant (l1_copy, whether L1 is looked into; default:
    core's present one)."""
    copy, looked = variant if variant is not None else (core.plan.l1_copy, core.l1_looked)
    keep = core.keys.keep
    wait = "await " if core.is_async else ""
    omitted = _omitted(core, tail_keys, wait)
    complete = _COMPLETE if "values = None" in omitted else ""
    lookup = _L1_LOOKUP.format(
        value="plan.unpack(entry.value)" if copy else "entry.value",
        observe="\n        plan.adaptive.observe(key)" if core.plan.adaptive else "",
        refresh=(
            "\n        if plan.due(entry, now):\n"
            + textwrap.indent(complete, "        ")
            + "            core.refresh_later(args, kwargs, key, values, entry=entry, now=now)"
            if core.plan.refreshes
            else ""
        ),
    )
    return _HIT_PATH.format(
        colour="async " if core.is_async else "",
        params=params,
        tail=_ASYNC_MISS if core.is_async else _SYNC_MISS,
        wait=wait,
        bind=_BIND if bound else "",
        tokens_12=_tokens(_key_count(core), inline_tuples=True),
        tokens_16=_tokens(_key_count(core), indent=16),
        omitted=omitted,
        complete=complete,
        select="args" if keep is None else "(" + "".join(f"args[{i}], " for i in keep) + ")",
        lookup=lookup if looked else "",
    )


def names(core: Core) -> dict[str, Any]:
    """The globals of core's hit path: what it reads, bound once."""
    shapes = core.keys.shapes
    made_once = tail_keys(core)
    namespace = {
        "core": core,
        "plan": core.plan,
        "stats": core.plan.stats,
        "miss": core.acall if core.is_async else core.call,
        "len": _LEN,  # a cached builtins.len must not call itself from here
        "start": core.start,
        "resume": core.resume,
        "pending": Pending,
        "compute": COMPUTE,
        "function": core.function,
        "perf_counter": time.perf_counter,
        "raw": FAST_TYPES,
        "local_token": local_token,
        "token_of": TOKEN_OF,
        "float_": float,
        "FLOAT": FLOAT_TAG,
        "tuple_": tuple,
        "frozenset_": frozenset,
        "tokens": local_tokens,
        "clock": CLOCK,
        "active": ACTIVE,
        "pos_arity": _pos_arity(core),
        "readers": shapes.readers if shapes is not None else None,
        "learn": shapes.learn if shapes is not None else None,
        "tails": shapes.tails if shapes is not None else {},
        "tail_keys": made_once,
        # Builtins too: a closed path runs in its module's globals, which may shadow them.
        "type": type,
        "Exception": Exception,
        "BaseException": BaseException,
    }
    for given, tail in made_once.items():
        namespace[f"tail_key_{given}"] = tail
        namespace.update({f"tail_key_{given}_{j}": token for j, token in enumerate(tail)})
    return namespace


def _pos_arity(core: Core) -> int:
    """How many arguments a call passing every parameter positionally passes, or -1 when no
    call can (keyword-only parameters, *args): such a call skips the shape readers, its
    values are args itself, or (with ignore=) the kept ones, picked inline."""
    normaliser = core.keys.normaliser
    positional_only = (
        core.keys.shapes is not None and normaliser.positional == normaliser.arity >= 0
    )
    return normaliser.arity if positional_only else -1


def _builtin_path(core: Core) -> Callable[..., Any]:
    """A cached builtin's `__call__`: every call through the guard of `_miss`. The generated
    hit path would build its key with code (the canonical encoder) that may call that very
    builtin (`builtins.len = memo.cached(len)`), and so call itself without end."""
    guarded = _miss(core)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        return guarded(args, kwargs)

    return __call__


def _miss(core: Core) -> Callable[..., Any]:
    """core.call; for a builtin (`builtins.len = memo.cached(len)`), one that memo's own use
    of that builtin while it serves a miss reaches as a plain call, not as another miss."""
    if not inspect.isbuiltin(core.function):
        return core.call
    serving = threading.local()
    function, call = core.function, core.call

    def guarded(*args: Any) -> Any:
        if getattr(serving, "active", False):
            positional, kwargs = args[0], args[1]
            return function(*positional, **kwargs)
        serving.active = True
        try:
            return call(*args)
        finally:
            serving.active = False

    return guarded
