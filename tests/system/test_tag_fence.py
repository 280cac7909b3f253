"""invalidate_tag fences a compute in flight: checked with two real processes.

The worker process starts a tagged miss that reads the "database" (a file), then holds its
compute open. This process moves the row and calls `invalidate_tag` while the compute is
in flight, then lets the compute finish. The compute returns the old row to its own caller
(it started before the invalidation), but its write is refused: neither the worker's next
call nor this process ever serves the old row afterwards. On one server and on a 3-master
cluster, sync and async.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import memo
from tests.support.tag_fence_worker import functions, stack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def _worker(url: str, namespace: str, row: Path, colour: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-W", "ignore", "-m", "tests.support.tag_fence_worker"]
    return subprocess.Popen(
        [*command, url, namespace, str(row), colour],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url(request: pytest.FixtureRequest, topology: str) -> str:
    if topology == "cluster":
        return str(request.getfixturevalue("redis_cluster").seeds_url)
    return str(request.getfixturevalue("redis_url"))


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
@pytest.mark.parametrize("colour", ["sync", "async"])
def test_a_compute_in_flight_across_invalidate_tag_is_never_served(
    colour: str, topology: str, request: pytest.FixtureRequest, namespace: str, tmp_path: Path
) -> None:
    url = _url(request, topology)
    row = tmp_path / "row"
    row.write_text("old")
    worker = _worker(url, namespace, row, colour)
    store = stack(url, namespace)
    profile, _ = functions(store, row)
    try:
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "computing", worker.stderr
        row.write_text("new")  # the database moves, then the application invalidates
        assert memo.invalidate_tag("user:1") >= 0
        worker.stdin.write("go\n")
        worker.stdin.flush()
        out, err = worker.communicate(timeout=40)
        results: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        # The in-flight call answers its own caller with what it read; nothing after does.
        assert results == {"first": "old", "second": "new"}, err
        assert profile(1) == "new"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        store.close()
