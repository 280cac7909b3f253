"""Which trailing defaults the L1 key leaves out (memo/_keys/trailing.py), and how."""

from __future__ import annotations

import math

from memo._keys.local import local_token
from memo._keys.signature import MISSING
from memo._keys.trailing import constant, trailing_defaults

TOKEN = object()


def test_the_run_of_constant_defaults_at_the_end_and_at_most_eight() -> None:
    """A mutable default or a parameter without one ends the run; past eight it is cut."""
    assert trailing_defaults((MISSING, 1, [], 2.5, True), None) is not None
    run = trailing_defaults((MISSING, 1, [], 2.5, True), None)
    assert run is not None and (run.start, run.tokens) == (3, (local_token(2.5), local_token(True)))
    assert trailing_defaults((MISSING, 1, []), None) is None
    assert trailing_defaults((MISSING,), None) is None
    twelve = trailing_defaults((MISSING, *range(11)), None)
    assert twelve is not None and twelve.start == 4 and len(twelve.tokens) == 8


def test_ignore_counts_positions_in_key_order() -> None:
    """With ignore=, positions are those of the kept values (here 0 and 2 of three)."""
    run = trailing_defaults((MISSING, [], "x"), (0, 2))
    assert run is not None and (run.start, run.tokens) == (1, ("x",))


def test_strip_leaves_out_only_equal_tokens_from_the_end() -> None:
    """Tokens equal to their defaults' go, from the end, up to the first that differs."""
    run = trailing_defaults((MISSING, 1, 2.5, -0.0), None)
    assert run is not None
    full = (TOKEN, "a", 1, local_token(2.5), local_token(-0.0))
    assert run.strip(full) == (TOKEN, "a")
    assert run.strip((TOKEN, "a", 1, local_token(2.5), local_token(0.0))) == (
        TOKEN, "a", 1, local_token(2.5), local_token(0.0),
    )  # fmt: skip
    assert run.strip((TOKEN, "a", local_token(True), local_token(2.5), local_token(-0.0))) == (
        TOKEN, "a", local_token(True),
    )  # fmt: skip
    assert run.strip((TOKEN, 1, 1)) == (TOKEN, 1)  # only the values past `start` go
    key = (TOKEN, "a", 2)
    assert run.strip(key) is key  # nothing to strip: the same tuple


def test_constant_defaults_are_immutable_builtins() -> None:
    """Values whose token cannot change between calls; NaN is one (every NaN keys alike)."""
    for value in (1, "x", b"z", None, True, 2.5, math.nan, 1j, (1, (2, "a")), frozenset({1})):
        assert constant(value)
    for value in ([], {}, set(), (1, []), object()):
        assert not constant(value)
