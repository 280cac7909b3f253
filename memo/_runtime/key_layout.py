"""What a core's L1 key is made of, as the hit path's source reads it: how many values,
which defaults are made once or left out, which call shape skips the readers, and whether
the first value is a method's owner (its instance or class)."""

from __future__ import annotations

from typing import Any

from memo._keys.local import local_token
from memo._keys.trailing import constant
from memo._runtime.core import Core

__all__ = [
    "OWNERS",
    "first_owner",
    "key_count",
    "owner_role",
    "pos_arity",
    "tail_keys",
    "trailing_start",
]

OWNERS = frozenset({"cls", "self"})  # first parameters whose tokens the hit path looks up first


def tail_keys(core: Core) -> dict[int, tuple[Any, ...]]:
    """The tokens of each defaults tail whose values cannot change between calls, less
    those the key leaves out (the trailing defaults: _keys/trailing.py)."""
    shapes = core.keys.shapes
    if shapes is None:
        return {}
    start = trailing_start(core)
    return {
        given: tuple(map(local_token, tail[: None if start is None else max(0, start - given)]))
        for given, tail in shapes.tails.items()
        if tail and all(map(constant, tail))
    }


def trailing_start(core: Core) -> int | None:
    """The first key position left out while equal to its default, if any."""
    trailing = core.keys.trailing
    return None if trailing is None else trailing.start


def first_owner(core: Core) -> str:
    """The name of the key's first value when it is a method's owner by convention, "cls"
    (a classmethod's class) or "self" (an instance, keyed by its `__memo_key__`), else "".
    Its token is then looked up as such first (a classmethod's hit 600 -> 525 ns, a method
    keyed by `__memo_key__` about 60 ns less); any other value there gets the same token,
    a check later."""
    keys = core.keys
    if keys.shapes is None or (keys.keep is not None and keys.keep[:1] != (0,)):
        return ""
    return owner_role(next(iter(keys.normaliser.signature.parameters), ""))


def owner_role(first: str) -> str:
    """first, the name of a function's first parameter, if it names a method's owner."""
    return first if first in OWNERS else ""


def key_count(core: Core) -> int:
    """How many values make the key of every call (-1 when it varies or key= makes it)."""
    keys = core.keys
    if keys.shapes is None:
        return -1
    return len(keys.keep) if keys.keep is not None else keys.normaliser.arity


def pos_arity(core: Core) -> int:
    """How many arguments a call passing every parameter positionally passes, or -1 when no
    call can (keyword-only parameters, *args): such a call skips the shape readers, its
    values are args itself, or (with ignore=) the kept ones, picked inline."""
    normaliser = core.keys.normaliser
    positional_only = (
        core.keys.shapes is not None and normaliser.positional == normaliser.arity >= 0
    )
    return normaliser.arity if positional_only else -1
