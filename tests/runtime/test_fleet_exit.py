"""A process publishes its counters a last time at exit, and is not counted as live after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import memo
from memo._cli.app import main

ROOT = Path(__file__).resolve().parents[2]


@memo.cached(ttl=300)
def counted(x: int) -> int:
    """The function both child processes call."""
    return x


def _child(redis_url: str, namespace: str) -> None:
    code = (
        "import memo\n"
        "from tests.runtime.test_fleet_exit import counted\n"
        f"memo.configure(redis_url={redis_url!r}, namespace={namespace!r})\n"
        "for i in range(150):\n"
        "    counted(i % 10)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MEMO_STATS_INTERVAL": "60"}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, timeout=60, check=True)


def test_exited_processes_keep_their_counts_and_are_not_live(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes make 150 calls each and exit (one publish at start, none after, but a
    last one at exit): `memo stats` sums 300 calls and counts 0 live processes, 2 exited."""
    _child(redis_url, namespace)
    _child(redis_url, namespace)
    code = main(["--redis-url", redis_url, "stats", "--namespace", namespace, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    stats = report["functions"]["tests.runtime.test_fleet_exit.counted"]
    assert stats["hits"] + stats["misses"] == 300
    assert report["processes"] == 0
    assert len(report["exited_process_ids"]) == 2
