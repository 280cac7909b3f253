"""`new_op(Kind, (fields...))` builds an operation without the NamedTuple's Python-level
constructor, and without its checks: a wrong number of fields would make a malformed
operation. Every such call in memo's source is checked here, and the object it makes is the
one the constructor makes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memo._policy import operations
from memo._policy.operations import Fetch, Land, Lead, Outcome, Put, new_op

SOURCE = Path(operations.__file__).resolve().parent.parent


def _new_op_calls() -> list[tuple[str, int, str, int]]:
    """(file, line, operation, fields given) for each new_op(Name, (...)) in memo/."""
    calls = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "new_op"
            ):
                kind, fields = node.args
                assert isinstance(kind, ast.Name), f"{path}:{node.lineno}: name the operation"
                assert isinstance(fields, ast.Tuple), f"{path}:{node.lineno}: a tuple literal"
                calls.append((str(path), node.lineno, kind.id, len(fields.elts)))
    return calls


def test_the_policy_builds_the_operations_of_every_miss_with_new_op() -> None:
    built = {kind for _, _, kind, _ in _new_op_calls()}
    assert {"Lead", "Fetch", "Put", "Land", "Outcome"} <= built


@pytest.mark.parametrize(
    ("where", "line", "kind", "given"),
    _new_op_calls(),
    ids=lambda value: str(value).rsplit("/", 1)[-1],
)
def test_each_new_op_call_gives_every_field(where: str, line: int, kind: str, given: int) -> None:
    fields = getattr(operations, kind)._fields
    assert given == len(fields), f"{where}:{line}: {kind} has fields {fields}, given {given}"


def test_new_op_makes_what_the_constructor_makes() -> None:
    key, outcome = object(), Outcome(1, found=True)
    cases = [
        (new_op(Lead, (key, 2.5)), Lead(key, 2.5)),  # type: ignore[arg-type]
        (new_op(Fetch, (key, "t")), Fetch(key, "t")),  # type: ignore[arg-type]
        (new_op(Land, (key, outcome)), Land(key, outcome)),  # type: ignore[arg-type]
        (new_op(Outcome, (1, None, True)), outcome),
        (
            new_op(Put, (key, "v", 60.0, 0.1, ("a",), "t", "fill", None)),
            Put(key, "v", 60.0, 0.1, ("a",), "t", "fill", None),  # type: ignore[arg-type]
        ),
    ]
    for fast, made in cases:
        assert type(fast) is type(made)
        assert fast == made
        assert fast._asdict() == made._asdict()
