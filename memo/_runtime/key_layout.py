"""What a core's L1 key is made of, as the hit path's source reads it: how many values,
which defaults are made once or left out, which call shape skips the readers."""

from __future__ import annotations

from typing import Any

from memo._keys.local import local_token
from memo._keys.trailing import constant
from memo._runtime.core import Core

__all__ = ["first_is_class", "key_count", "pos_arity", "tail_keys", "trailing_start"]


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


def first_is_class(core: Core) -> bool:
    """Whether the key's first value is a parameter named `cls`: a classmethod's class, by
    convention. Its token is then looked up as a class's first (about 80 ns of a
    classmethod's hit of 600); any other value still gets its own token, a check later."""
    keys = core.keys
    if keys.shapes is None or (keys.keep is not None and keys.keep[:1] != (0,)):
        return False
    return next(iter(keys.normaliser.signature.parameters), None) == "cls"


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
