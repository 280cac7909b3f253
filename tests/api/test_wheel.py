"""The wheel hatch_build.py makes: with the C accelerator where a compiler is (a platform
wheel holding the compiled descriptor and py.typed), pure Python with MEMO_PURE_PYTHON=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _source_copy(into: Path) -> Path:
    """The project's sources, without a compiled module: building in the work tree would
    rewrite the module this test process has loaded."""
    source = into / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "hatch_build.py"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "memo", source / "memo", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    return source


def _wheel(tmp_path: Path, **environment: str) -> zipfile.ZipFile:
    source, out = _source_copy(tmp_path), tmp_path / "out"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    command += ["--no-build-isolation", "--wheel-dir", str(out), str(source)]
    env = {**os.environ, **environment}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.timeout(300)
def test_the_wheel_carries_the_accelerator(tmp_path: Path) -> None:
    with _wheel(tmp_path) as wheel:
        names = wheel.namelist()
        tag = Path(wheel.filename).name
    assert any(n.startswith("memo/_runtime/_descriptor.") and n.endswith(".so") for n in names)
    assert "memo/py.typed" in names
    assert not any(n.endswith(".c") for n in names)  # its source is the sdist's
    assert "-py3-none-any" not in tag, tag  # a platform wheel: it holds compiled code


@pytest.mark.timeout(300)
def test_memo_pure_python_makes_a_pure_wheel(tmp_path: Path) -> None:
    with _wheel(tmp_path, MEMO_PURE_PYTHON="1") as wheel:
        names = wheel.namelist()
        tag = Path(wheel.filename).name
    assert not any(n.endswith(".so") for n in names)
    assert "memo/py.typed" in names and tag.endswith("-py3-none-any.whl"), tag
