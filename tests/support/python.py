"""Run a snippet in a fresh interpreter with this checkout on the path: what `import memo`
loads, does or refuses is only visible in a process of its own."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> str:
    """Run code with `python -c` (extra environment variables from env); its stripped
    stdout. A non-zero exit fails the test with the child's stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def load_script(path: Path, name: str) -> ModuleType:
    """A script of scripts/ loaded as a module called name, to test its parts in-process."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
