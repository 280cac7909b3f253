"""The public surface: exported names, typing marker, and import without optional extras."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import memo
from tests.support.python import run_python

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_sorted_and_complete() -> None:
    """memo.__all__ is sorted and names exactly the public attributes."""
    assert list(memo.__all__) == sorted(memo.__all__)
    # "@py_builtins" and kin: pytest's assertion rewriting of the package of an installed
    # plugin (memo.pytest_plugin) adds them; they are not memo's names.
    public = {name for name in dir(memo) if not name.startswith(("_", "@"))}
    submodules = {"django", "opentelemetry", "prometheus", "pytest_plugin", "testing"}
    assert public - submodules == set(memo.__all__)


def test_py_typed_is_shipped() -> None:
    """The package carries its PEP 561 marker."""
    assert (Path(memo.__file__).parent / "py.typed").exists()


def test_import_without_redis() -> None:
    """`import memo` and an L1 cache work when redis-py cannot be imported."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import memo\n"
        "f = memo.cached(lambda x: x * 2)\n"
        "assert f(2) == 4 and f(2) == 4 and f.stats.hits == 1\n"
        "assert 'redis' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    assert run_python(code) == "ok"


def test_no_io_at_import() -> None:
    """Importing memo opens no sockets and starts no threads."""
    code = (
        "import socket, threading\n"
        "def refuse(*a, **k): raise AssertionError('socket at import')\n"
        "socket.socket.connect = refuse\n"
        "before = threading.active_count()\n"
        "import memo\n"
        "assert threading.active_count() == before\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_import_loads_no_optional_library() -> None:
    """`import memo` (and keying a call) imports none of numpy, pandas, pydantic, attrs."""
    code = (
        "import sys\n"
        "import memo\n"
        "f = memo.cached(lambda x: x)\n"
        "f(1.5); f.cache_key((1, 'a'))\n"
        "libraries = ('numpy', 'pandas', 'pydantic', 'attr', 'attrs', 'hypothesis')\n"
        "print([m for m in libraries if m in sys.modules])\n"
    )
    assert run_python(code) == "[]"


def test_register_key_is_public() -> None:
    """memo.register_key is exported (the registry of argument types)."""
    assert "register_key" in memo.__all__
    assert callable(memo.register_key)
