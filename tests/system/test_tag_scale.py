"""invalidate_tag over thousands of members: every process forgets every old value.

Two real processes each hold N tagged entries in L1: the first computed them (L1 copies
that carry their tags), the second read them from Redis (copies that carry none, evicted by
key). This process moves the "database" (a file) and invalidates the tag the members share:
the deletion goes in chunks, and each chunk's eviction event must reach both processes. On
one server and on a 3-master cluster, where the members spread over every node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._redis import tagging
from tests.support.tag_scale_worker import member_function, stack

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 100  # members per chunk in this test (1,000 in production): fewer misses to fill
MEMBERS = 2 * CHUNK + 100  # three chunks: the events of every chunk are needed
pytestmark = pytest.mark.timeout(120)


class Worker:
    """One `tag_scale_worker` process, driven line by line."""

    def __init__(self, url: str, namespace: str, row: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-W", "ignore", "-m", "tests.support.tag_scale_worker"]
        self.process = subprocess.Popen(
            [*command, url, namespace, str(row), str(MEMBERS)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.answer() == {"ready": True}

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        return dict(json.loads(self.process.stdout.readline()))

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.answer()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def _held(worker: Worker, version: str) -> int:
    """Values of version the worker's L1 still holds, asked again (bounded) until none: the
    eviction events travel asynchronously; one still held after 10 s would be served until
    its TTL (600 s). Nothing is computed meanwhile, so no other write evicts it."""
    deadline = time.monotonic() + 10
    while True:
        held = int(worker.ask(f"held {version}")["held"])
        if not held or time.monotonic() > deadline:
            return held
        time.sleep(0.1)


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
def test_no_process_serves_an_old_member_after_invalidate_tag(
    topology: str,
    request: pytest.FixtureRequest,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tagging, "TAG_CHUNK", CHUNK)  # this process invalidates
    if topology == "cluster":
        url = str(request.getfixturevalue("redis_cluster").seeds_url)
    else:
        url = str(request.getfixturevalue("redis_url"))
    row = tmp_path / "row"
    row.write_text("v1")
    store = stack(url, namespace)
    # This process invalidates through the same store kind; held in a local, or the function
    # (the one thing naming its store to invalidate_tag) may be collected before it runs.
    member = member_function(store, row)
    workers: list[Worker] = []
    try:
        workers.append(Worker(url, namespace, row))
        assert workers[0].ask("fill")["l1"] >= MEMBERS  # computed: copies with tags
        workers.append(Worker(url, namespace, row))
        assert workers[1].ask("fill")["l1"] >= MEMBERS  # read from Redis: copies without
        row.write_text("v2")
        assert memo.invalidate_tag("group:all") == MEMBERS + 1  # member(-1) of the start
        assert member.stats.misses == 0  # (held until here: computed only in the workers)
        assert [_held(worker, "v1") for worker in workers] == [0, 0]
        assert [worker.ask("check")["old"] for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.stop()
        store.close()
