"""Write-behind loses nothing while the fleet rotates its secret, even with a process killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.support import write_behind_worker as worker

ROOT = Path(__file__).resolve().parents[2]
WORKER = (sys.executable, "-m", "tests.support.write_behind_worker")
pytestmark = pytest.mark.timeout(120)


def _env(secrets: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "WB_SECRETS": secrets}


def _drain(secrets: str, *args: str) -> str:
    out = subprocess.run(
        [*WORKER, "drain", *args],
        env=_env(secrets),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_rotation_with_a_killed_writer_loses_no_acknowledged_write(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """A writer on ["old", "new"] (signing with "new") is SIGKILLed mid-batch; a consumer still
    on "old" drains first and cannot verify its entries: it leaves them. A consumer holding
    "new" then delivers every acknowledged write, and nothing is dead-lettered."""
    db = str(tmp_path / "sink.db")
    worker.create_sink(db)
    n, keys = 200, 20
    writer = subprocess.Popen(
        [*WORKER, "write", redis_url, namespace, db, str(n), str(keys)],
        env=_env("old,new"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == f"acked {n}"
        assert _wait_until(lambda: worker.read_sink(db)[1] >= 25, timeout=30)
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    finally:
        writer.kill()
        writer.communicate()
    assert worker.read_sink(db)[1] < n  # killed mid-way

    assert _drain("old", redis_url, namespace, db) == "drained True"  # looks past them
    stream = f"memo:{namespace}:wb:tests.support.write_behind_worker.set_item"
    client = redis.Redis.from_url(redis_url)
    assert client.xlen(stream) > 0  # left for a consumer that can verify them
    assert client.xlen(stream + ":dead") == 0

    assert _drain("old,new", redis_url, namespace, db) == "drained True"
    model = {k: max(i for i in range(n) if i % keys == k) for k in range(keys)}
    rows, _ = worker.read_sink(db)
    assert {k: value for k, (value, _) in rows.items()} == model
    assert client.xlen(stream) == 0
    assert client.xlen(stream + ":dead") == 0
