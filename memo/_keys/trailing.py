"""Trailing defaults: the L1 key leaves out the last values that equal their defaults.

`f(1)` on `def f(a, b=1, c=2.5, d=True)` would otherwise key four tokens made and hashed at
every hit, where the peers key `(1,)`. So the L1 key of a call is `(token, *tokens)` less its
trailing tokens that equal the token of their parameter's default, for the last parameters
(at most eight, in key order) whose defaults are immutable builtin values. Tokens are equal
exactly when encodings are (`local.py`), so two calls still share an L1 key exactly when they
bind equal values: what is left out is known by position. The Redis key is made from every
value, as before. Every maker of L1 keys applies this rule: `KeyBuilder.local` and the
generated hit paths (which leave out defaults by identity, then call `strip` when an explicit
value equals its default).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from memo._keys.local import local_token
from memo._keys.signature import MISSING

__all__ = ["TrailingDefaults", "constant", "trailing_defaults"]

_MOST = 8  # trailing defaults left out at most: the hit path unrolls each case


class TrailingDefaults:
    """The key positions (`start` on) whose values are left out while equal to their
    defaults, whose tokens are `tokens`."""

    __slots__ = ("start", "tokens")

    def __init__(self, start: int, tokens: tuple[Hashable, ...]) -> None:
        self.start = start
        self.tokens = tokens

    def strip(self, key: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
        """key (`(token, *tokens)`) without its trailing tokens equal to their defaults'."""
        end = len(key)
        floor = self.start + 1  # key[0] is the function's token
        tokens = self.tokens
        while end > floor and key[end - 1] == tokens[end - 1 - floor]:
            end -= 1
        return key if end == len(key) else key[:end]


def trailing_defaults(
    defaults: tuple[Any, ...], keep: tuple[int, ...] | None
) -> TrailingDefaults | None:
    """The trailing defaults of a signature with these defaults (MISSING: none) whose key is
    made of the values at keep (None: all); None when the last value has no constant default."""
    order = tuple(range(len(defaults))) if keep is None else keep
    start = len(order)
    while start > 0 and len(order) - start < _MOST:
        default = defaults[order[start - 1]]
        if default is MISSING or not constant(default):
            break
        start -= 1
    if start == len(order):
        return None
    return TrailingDefaults(start, tuple(local_token(defaults[i]) for i in order[start:]))


def constant(value: Any) -> bool:
    """Whether value's token is the same at every call (an immutable value of a builtin)."""
    kind = type(value)
    if kind in _CONSTANTS:
        return True
    return kind in (tuple, frozenset) and all(map(constant, value))


_CONSTANTS = frozenset({int, str, bytes, type(None), bool, float, complex})
