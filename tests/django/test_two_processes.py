"""A real Django app in two worker processes sharing one MemoCache: what one writes, clears or
renders, the other sees (its L1 copy evicted by memo's coherence events)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSWER_TIMEOUT = 20.0  # seconds a worker may take to answer one request (a loaded machine)
SEEN_WITHIN = 5.0  # seconds an update may take to reach the other worker's L1


class Worker:
    """One `tests.support.django_worker` process, driven over its stdin and stdout."""

    def __init__(self, url: str, namespace: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MEMO_STATS_INTERVAL": "0"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.django_worker", url, namespace],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.answer()[0] == "ready"

    def send(
        self, method: str, path: str, data: dict[str, Any] | None = None, repeat: int = 1
    ) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps([method, path, data or {}, repeat]) + "\n")
        self.process.stdin.flush()

    def answer(self) -> list[Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_TIMEOUT)
        assert ready, "the Django worker did not answer in time"
        line = self.process.stdout.readline()
        assert line, f"the Django worker exited ({self.process.poll()})"
        answer: list[Any] = json.loads(line)
        return answer

    def request(self, method: str, path: str, data: dict[str, Any] | None = None) -> str:
        self.send(method, path, data)
        status, body = self.answer()
        assert status == 200, body
        return str(body)

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture
def workers(redis_url: str, namespace: str) -> Iterator[tuple[Worker, Worker]]:
    """Two worker processes of the app, one Redis, one namespace."""
    first = Worker(redis_url, namespace)
    second = Worker(redis_url, namespace)
    yield first, second
    first.stop()
    second.stop()


def _eventually(worker: Worker, path: str, expected: str) -> str:
    deadline = time.monotonic() + SEEN_WITHIN
    body = worker.request("get", path)
    while body != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        body = worker.request("get", path)
    return body


def test_an_update_in_one_worker_is_seen_by_the_other(workers: tuple[Worker, Worker]) -> None:
    """A greeting stored by one worker, read (into L1) by the other, then replaced by the
    first: the second serves the new greeting, not its L1 copy of the old one."""
    first, second = workers
    assert first.request("post", "/greeting", {"text": "hello"}) == "stored"
    assert second.request("get", "/greeting") == "hello"  # from Redis
    assert second.request("get", "/greeting") == "hello"  # from its L1
    assert first.request("post", "/greeting", {"text": "bonjour"}) == "stored"
    assert _eventually(second, "/greeting", "bonjour") == "bonjour"


def test_cache_page_is_rendered_once_for_both_workers(workers: tuple[Worker, Worker]) -> None:
    """cache_page: the page one worker rendered is the other's hit; after clear() in one,
    the other renders again."""
    first, second = workers
    rendered = first.request("get", "/page")
    assert rendered.startswith(f"rendered by {first.process.pid} ")
    assert second.request("get", "/page") == rendered
    assert first.request("post", "/clear") == "cleared"
    again = f"rendered by {second.process.pid} (1)"
    assert _eventually(second, "/page", again) == again


def test_increments_from_both_workers_are_all_counted(workers: tuple[Worker, Worker]) -> None:
    """cache.incr() from two processes at once (30 each): no increment is lost."""
    first, second = workers
    first.send("post", "/counter", repeat=30)
    second.send("post", "/counter", repeat=30)
    assert first.answer()[0] == 200
    assert second.answer()[0] == 200
    assert first.request("post", "/counter") == "61"
