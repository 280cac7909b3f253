"""The typing checks in tests/typing: mypy accepts them, and the correct ones also run."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
from pathlib import Path

import mypy.api
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_mypy_accepts_typing_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mypy memo tests/typing` (strict, pyproject config) reports no error."""
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = mypy.api.run(["memo", "tests/typing"])
    assert status == 0, stdout + stderr


def test_typed_examples_run() -> None:
    """Every example in tests/typing/api.py also runs: the Protocols match the real handles."""
    spec = importlib.util.spec_from_file_location("typing_api", ROOT / "tests/typing/api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = [f for f in vars(module).values() if inspect.isfunction(f)]
    checks = [f for f in functions if f.__module__ == spec.name]
    assert len(checks) >= 9
    for check in checks:
        if inspect.iscoroutinefunction(check):
            asyncio.run(check())
        else:
            check()
