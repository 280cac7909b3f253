"""The source of the hit path (`hit_path.py` compiles it): templates, and what fills them
for one function.

A function's path is one of two: the generic path, declared `(*args, **kwargs)`, reading a
call's values by its shape; or, for a plain function, the path declaring the function's own
parameters (`declared.py`), which CPython binds.
"""

from __future__ import annotations

import textwrap
from typing import Any

from memo._runtime.core import Core
from memo._runtime.declared import Declared, collides, declared
from memo._runtime.key_layout import (
    first_owner,
    key_count,
    owner_role,
    pos_arity,
    trailing_start,
)

__all__ = ["declared_parameters", "path_source"]


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
# A plain function's path declares the function's own parameters (declared.py): CPython
# binds the call, keywords and defaults included, and the key is made from the parameters; a
# default whose token is made once is told by identity. Arguments for a miss are made there.
_DECLARED_PATH = """
{colour}def __call__({params}):
    if active[0]:
        return {wait}miss({args}, {kwargs})
    try:
{tokens}
    except Exception:  # no key (or a __memo_key__ that raised): the slow path explains
        return {wait}miss({args}, {kwargs})
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
    trailing: int | None = None,
    first: str = "",
) -> str:
    """Source that sets `key` to the L1 key of `values` (count of them, -1: unknown): the
    first count of `source`, then the ready tokens `suffix` names (defaults left out: a
    tuple added, or, ending in a comma, names of single tokens).

    A float (not zero, not NaN) is tokenised inline, as _keys/local.py would: a call less;
    every other kind pays one comparison for it. With inline_tuples (the call that passes
    every parameter positionally, the commonest), so is a tuple or a frozenset of raw values
    (its own token): its elements are checked in this frame, at two comparisons more for
    the other kinds; only there, as each inlined block is compiled at decoration.

    trailing: the first position whose value is left out of the key while equal to its
    default (_keys/trailing.py), if any: a key that ends at or past it is stripped when its
    last token is its default's (one comparison).

    first: the first value's owner role, if any (`first_owner`)."""
    pad = " " * indent
    if count < 0 or count > _UNROLL_UP_TO:
        made = "core.prefix + tokens(values)"
        return f"{pad}key = {made if trailing is None else f'strip({made})'}"
    lines = [f"{pad}token = core.token"]
    for i in range(count):
        owner = first if i == 0 else ""
        lines += _token_of(f"v{i}", f"{source}[{i}]", pad, inline_tuples=inline_tuples, owner=owner)
    key = "(token, " + "".join(f"v{i}, " for i in range(count)) + ")"
    if suffix.endswith(","):
        key = key[:-1] + suffix + ")"
    elif suffix:
        key += " + " + suffix
    lines.append(f"{pad}key = {key}")
    if trailing is not None and not suffix and count - 1 >= trailing:
        lines.append(f"{pad}if v{count - 1} == strip_token_{count - 1}:")
        lines.append(f"{pad}    key = strip(key)")
    return "\n".join(lines)


def _token_of(
    name: str, value: str, pad: str, *, inline_tuples: bool, owner: str = ""
) -> list[str]:
    """Source lines that set name to the L1 token of value (see `_tokens`). owner, for a
    method's first value (`first_owner`): "cls", a class is looked up first, by a
    subscript; "self", a class with `__memo_key__` has it called here, as its token function
    would (a call less), before the checks every other kind takes."""
    lines = [f"{pad}{name} = {value}", f"{pad}kind = type({name})"]
    if owner == "cls":
        lines += [f"{pad}if kind is type_:", f"{pad}    {name} = class_tokens[{name}]"]
    if owner == "self":  # no class in hook_names is a raw kind: it is asked first
        lines += [
            f"{pad}hooked = hook_names.get(kind)",
            f"{pad}if hooked is not None:",
            f"{pad}    {name} = {name}.__memo_key__()",
            f"{pad}    {name} = (HOOK, hooked, {name} if type({name}) in raw"
            f" else local_token({name}))",
        ]
    lines.append(f"{pad}{'if' if not owner else 'elif'} kind not in raw:")
    inner = pad + "    "
    if not inline_tuples:  # one line: the blocks are compiled at decoration, many each
        lines.append(
            f"{inner}{name} = (FLOAT, {name}) if kind is float_ and {name} and {name} == {name}"
            f" else (token_of.get(kind) or local_token)({name})"
        )
        return lines
    return [
        *lines,
        f"{inner}if kind is float_ and {name} and {name} == {name}:",
        f"{inner}    {name} = (FLOAT, {name})",
        f"{inner}elif kind is tuple_ or kind is frozenset_:",
        f"{inner}    for element in {name}:",
        f"{inner}        if type(element) not in raw:",
        f"{inner}            {name} = token_of[kind]({name})",
        f"{inner}            break",
        f"{inner}elif kind is list_:",
        f"{inner}    for element in {name}:",
        f"{inner}        if type(element) not in raw:",
        f"{inner}            {name} = token_of[kind]({name})",
        f"{inner}            break",
        f"{inner}    else:  # a list of plain values: its token, as _keys/local.py makes it",
        f"{inner}        {name} = (LIST, tuple_({name}))",
        f"{inner}else:",
        f"{inner}    {name} = (token_of.get(kind) or local_token)({name})",
    ]


def _omitted(core: Core, tail_keys: dict[int, tuple[Any, ...]], wait: str) -> str:
    """Source of the branches for positional calls that leave out defaults: where their
    tokens are made once (`tail_keys`), the given arguments' tokens then those (`tail_key_N`;
    past eight given values, a loop over them), with `values` made for a refresh or a miss
    only (`_COMPLETE`); other defaults (a list) are added to args and tokenised at each
    call."""
    count = key_count(core)
    trailing = trailing_start(core)
    first = first_owner(core)
    shapes = core.keys.shapes
    tails = shapes.tails if shapes is not None else {}
    unrolled = {given: tail for given, tail in tail_keys.items() if given <= _UNROLL_UP_TO}
    # Each default's token a cell of its own, so the key is one tuple, not two added, while
    # the cells are few: every cell costs every call a copy.
    single = sum(map(len, unrolled.values())) <= _UNROLL_UP_TO
    conditions_and_bodies: list[tuple[str, str, str]] = []  # (test, values, key source)
    for given in sorted(unrolled):
        suffix = f"tail_key_{given}" if unrolled[given] else ""
        if single:
            suffix = " ".join(f"{suffix}_{j}," for j in range(len(unrolled[given])))
        tokens = _tokens(
            given, indent=16, source="args", suffix=suffix, trailing=trailing, first=first
        )
        conditions_and_bodies.append((f"given == {given}", "None", tokens))
    if len(unrolled) < len(tail_keys):  # more given values than unrolled: a loop over them
        loop = "                key = core.prefix + tokens(args) + ready"
        if trailing is not None:
            loop = "                key = strip(core.prefix + tokens(args) + ready)"
        conditions_and_bodies.append(("(ready := tail_keys.get(given)) is not None", "None", loop))
    # A concatenation then the tokens, for the other tails (a call passing every parameter
    # positionally, whose tail is empty, has its own block).
    if tails.keys() - tail_keys.keys() - {pos_arity(core)}:
        concatenated = _tokens(count, indent=16, trailing=trailing, first=first)
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


def path_source(
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
    made = None if params or bound else declared_parameters(core)
    if made is not None:
        return _declared_source(core, made, copy=copy, looked=looked)
    keep = core.keys.keep
    trailing, first = trailing_start(core), first_owner(core)
    wait = "await " if core.is_async else ""
    omitted = _omitted(core, tail_keys, wait)
    complete = _COMPLETE if "values = None" in omitted else ""
    lookup = _lookup(core, complete, copy=copy)
    return _HIT_PATH.format(
        colour="async " if core.is_async else "",
        params=params,
        tail=_ASYNC_MISS if core.is_async else _SYNC_MISS,
        wait=wait,
        bind=_BIND if bound else "",
        tokens_12=_tokens(key_count(core), inline_tuples=True, trailing=trailing, first=first),
        tokens_16=_tokens(key_count(core), indent=16, trailing=trailing, first=first),
        omitted=omitted,
        complete=complete,
        select="args" if keep is None else "(" + "".join(f"args[{i}], " for i in keep) + ")",
        lookup=lookup if looked else "",
    )


def _lookup(core: Core, complete: str, *, copy: bool) -> str:
    """The L1 lookup's source; complete makes a refresh's arguments where a hit lacks them."""
    return _L1_LOOKUP.format(
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


def declared_parameters(core: Core) -> Declared | None:
    """core's declared parameters (declared.py), unless one is named like a name of the
    path's own."""
    made = declared(core)
    if made is None or collides(made, lambda stand_in: _declared_source(core, stand_in)):
        return None
    return made


def _declared_source(core: Core, made: Declared, *, copy: bool = True, looked: bool = True) -> str:
    """The source of the path that declares made's parameters."""
    lines = _declared_key(made, trailing_start(core))
    complete = f"    args = {made.args}\n    kwargs = {made.kwargs}\n    values = {made.values}\n"
    wait = "await " if core.is_async else ""
    return _DECLARED_PATH.format(
        colour="async " if core.is_async else "",
        params=made.params,
        wait=wait,
        args=made.args,
        kwargs=made.kwargs,
        tokens="\n".join(lines),
        lookup=_lookup(core, complete, copy=copy) if looked else "",
        complete=complete,
        tail=_ASYNC_MISS if core.is_async else _SYNC_MISS,
    )


def _declared_key(made: Declared, trailing: int | None) -> list[str]:
    """Lines that set `key` from the declared parameters: the values before the trailing
    defaults always; then, from the last parameter back, the first one not given its very
    default object decides where the key ends (one branch per end, unrolled: at most eight),
    and an explicit value equal to its default is stripped by `strip`."""
    pad = " " * 8
    count = len(made.kept)
    fixed = count if trailing is None else trailing
    lines = [f"{pad}token = core.token"]
    for j in range(fixed):
        lines += _declared_token(made, j, pad, inline_tuples=True)
    if trailing is None:
        return [*lines, f"{pad}key = {_key_of(count)}"]
    for last in range(count - 1, trailing - 1, -1):
        i, name = made.kept[last]
        lines.append(f"{pad}{'if' if last == count - 1 else 'elif'} {name} is not default_{i}:")
        for j in range(trailing, last):
            lines += _declared_token(made, j, pad + "    ", inline_tuples=False)
        lines += _token_of(f"v{last}", name, pad + "    ", inline_tuples=False)
        lines += [
            f"{pad}    key = {_key_of(last + 1)}",
            f"{pad}    if v{last} == strip_token_{last}:",
            f"{pad}        key = strip(key)",
        ]
    return [*lines, f"{pad}else:", f"{pad}    key = {_key_of(trailing)}"]


def _declared_token(made: Declared, j: int, pad: str, *, inline_tuples: bool) -> list[str]:
    """Lines that set v<j> to the token of the j-th key value; a default made once is told
    by identity (a listed one, a short list of raw values: its items too)."""
    i, name = made.kept[j]
    if i in made.constant:
        guard = f"{name} is default_{i}"
    elif i in made.listed:
        length = made.listed[i]
        items = "".join(f" and {name}[{k}] is default_item_{i}_{k}" for k in range(length))
        guard = f"{name} is default_{i} and len({name}) == {length}{items}"
    else:
        owner = owner_role(made.names[0]) if i == 0 and made.names else ""  # first_owner
        return _token_of(f"v{j}", name, pad, inline_tuples=inline_tuples, owner=owner)
    return [
        f"{pad}if {guard}:",
        f"{pad}    v{j} = default_token_{i}",
        f"{pad}else:",
        *_token_of(f"v{j}", name, pad + "    ", inline_tuples=inline_tuples),
    ]


def _key_of(count: int) -> str:
    return "(token, " + "".join(f"v{j}, " for j in range(count)) + ")"
