"""scripts/count_instructions.py: its cases run against this tree, its input is checked, and it
reads cachegrind's total the way valgrind prints it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.python import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "count_instructions.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script(SCRIPT, "count_instructions")


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def test_an_unknown_case_is_refused_naming_the_known_ones() -> None:
    done = _run("--cases", "l1_hit,l3_hit", str(ROOT))
    assert done.returncode == 2
    assert "unknown case(s) l3_hit" in done.stderr
    assert "l2_hit" in done.stderr


def test_a_tree_without_memo_is_refused(tmp_path: Path) -> None:
    done = _run("--cases", "l1_hit", str(tmp_path))
    assert done.returncode == 2
    assert "no memo/__init__.py" in done.stderr


def test_cachegrinds_total_is_read_with_its_thousands_separators(script: ModuleType) -> None:
    stderr = "==123== \n==123== I   refs:      1,390,409,338\n==123== \n"
    found = script._REFS.search(stderr)
    assert found is not None
    assert int(found.group(1).replace(",", "")) == 1_390_409_338


@pytest.mark.parametrize("case", ["l1_hit", "l1_miss", "l1_miss_nolock", "l2_hit", "l2_hit_async"])
def test_every_case_runs_against_this_tree(
    script: ModuleType, case: str, redis_url: str, tmp_path: Path
) -> None:
    """Each case's script, run plainly (no valgrind) with a short loop, works and exits 0."""
    source = script.CASES[case][2]
    path = tmp_path / f"{case}.py"
    path.write_text(source, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(path), "20", redis_url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
