"""The parameter list a plain function's hit path declares: the function's own.

A path declared `(*args, **kwargs)` makes CPython build a dict for every keyword call and
leaves the path to read it back by shape, and to add omitted defaults itself; a path declared
`(a, b='x', c=1.0, d=False)` has CPython bind any call in C, keywords and defaults included,
and raise the plain function's TypeError for a call that does not bind. Measured on 3.11,
a whole L1 hit of `f(a=1, b='y', d=True)`: 968 ns through `(*args, **kwargs)` and a shape
reader, 500 ns through the declared parameters.

Declared only where that is the whole truth of the call: a Python function (not a partial,
builtin or callable object) with no `*args`/`**kwargs`, no `key=`, keyed by its own code's
parameters (not a `__wrapped__` or `__signature__` of another), and with no parameter named
like a name the path itself uses. Every other function keeps the generic path.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memo._keys.local import RAW, local_token
from memo._keys.trailing import constant
from memo._runtime.core import Core

__all__ = ["IDENTIFIER", "Declared", "collides", "declared"]

_KINDS = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)
_MOST = 32  # parameters unrolled; a longer signature keeps the generic path


@dataclass(frozen=True)
class Declared:
    """What the declared path is made of (source text, and the names it closes over)."""

    names: tuple[str, ...]  # every parameter's, in order
    params: str  # the parameter list, defaults read from cells: "a, b=default_1, *, c=..."
    args: str  # the positional arguments that call the function: "(a, b, )"
    kwargs: str  # its keyword-only arguments: "{'c': c, }", or "{}"
    values: str  # the key's values, in key order (ignore= applied): "args" or "(a, c, )"
    kept: tuple[tuple[int, str], ...]  # (parameter index, name) of each value of the key
    constant: frozenset[int]  # parameters whose default has a token made once (`cells`)
    cells: dict[str, Any]  # default_N (every default), default_token_N (constant, not raw;
    # or listed), default_item_N_K (a listed default's items)
    listed: dict[int, int]  # parameter -> length: a short list default of raw values


def declared(core: Core) -> Declared | None:
    """The declared parameters of core's hit path, or None where the generic path stays."""
    function = core.function
    keys = core.keys
    if (
        type(function) is not types.FunctionType
        or keys.shapes is None
        or "__wrapped__" in function.__dict__
        or "__signature__" in function.__dict__
    ):
        return None
    params = list(keys.normaliser.signature.parameters.values())
    code = function.__code__
    own = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    names = tuple(p.name for p in params)
    if names != own or len(params) > _MOST or any(p.kind not in _KINDS for p in params):
        return None
    order = range(len(params)) if keys.keep is None else keys.keep  # () when all are ignored
    kept = tuple((i, names[i]) for i in order)
    cells: dict[str, Any] = {}
    made_once: set[int] = set()
    listed: dict[int, int] = {}
    for i, param in enumerate(params):
        if param.default is inspect.Parameter.empty:
            continue
        cells[f"default_{i}"] = param.default
        if type(param.default) not in RAW and constant(param.default):
            cells[f"default_token_{i}"] = local_token(param.default)
            made_once.add(i)
        elif _listed(param.default):
            cells[f"default_token_{i}"] = local_token(param.default)
            cells.update({f"default_item_{i}_{k}": item for k, item in enumerate(param.default)})
            listed[i] = len(param.default)
    return Declared(
        names=names,
        params=_parameter_list(params),
        args=_tuple(p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY),
        kwargs=_keywords(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY),
        values=_values(params, keys.keep),
        kept=kept,
        constant=frozenset(made_once),
        cells=cells,
        listed=listed,
    )


def _listed(default: Any) -> bool:
    """Whether default is a list of at most four ints, strings, bytes, None or dates: its
    token is made once, and a call that leaves it out checks the list still holds those very
    objects (a list may change between calls; immutable items that are the same objects
    have the same token), by identity, where the token is made from the items at each call."""
    short = type(default) is list and len(default) <= _LISTED
    return short and all(type(item) in RAW for item in default)


_LISTED = 4


def collides(made: Declared, source_of: Callable[[Declared], str]) -> bool:
    """Whether a parameter shares its name with a name the path uses: the path's source
    made with stand-ins for the parameters, its names read, the real ones looked up."""
    stand_ins = {name: f"_memo_parameter_{i}_" for i, (_, name) in enumerate(made.kept)}
    stand_in = Declared(
        names=made.names,  # the first one's role (self, cls) shapes the path's source
        params="",
        args="()",
        kwargs="{}",
        values="()",
        kept=tuple((i, stand_ins[name]) for i, name in made.kept),
        constant=made.constant,
        cells=made.cells,
        listed=made.listed,
    )
    used = set(IDENTIFIER.findall(_COMMENT.sub("", source_of(stand_in))))
    return bool(set(made.names) & (used | made.cells.keys()))


def _parameter_list(params: list[inspect.Parameter]) -> str:
    parts: list[str] = []
    for i, param in enumerate(params):
        if param.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        has_default = param.default is not inspect.Parameter.empty
        parts.append(f"{param.name}=default_{i}" if has_default else param.name)
        if param.kind is inspect.Parameter.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind is not inspect.Parameter.POSITIONAL_ONLY
        ):
            parts.append("/")
    return ", ".join(parts)


def _tuple(names: Any) -> str:
    return "(" + "".join(f"{name}, " for name in names) + ")"


def _keywords(names: Any) -> str:
    return "{" + "".join(f"{name!r}: {name}, " for name in names) + "}"


def _values(params: list[inspect.Parameter], keep: tuple[int, ...] | None) -> str:
    keyword_only = any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    if keep is None and not keyword_only:
        return "args"  # the positional arguments are every parameter, in order
    indexes = range(len(params)) if keep is None else keep
    return _tuple(params[i].name for i in indexes)


IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_COMMENT = re.compile(r"#.*")  # the templates' comments: words, not names
