"""`memo dead-letters`: list a durable writer's dead letters, replay them once fixed, drop them."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._strategies.write_behind import _FLUSHERS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "dead-letters-secret"
WRITERS = """
import memo

SINK = []
BROKEN = [True]

@memo.cached(ttl=300)
def get_item(item_id: int) -> dict:
    return {"id": item_id, "v": 0}

def save(batch):
    if BROKEN[0]:
        raise ConnectionError("the database is down")
    SINK.extend((w.arguments["item_id"], w.value["v"]) for w in batch)

@memo.write_behind(get_item, flush=save, batch_size=10, interval=0.05, max_attempts=1,
                   backoff=0.01)
def set_item(item_id: int, v: int) -> dict:
    return {"id": item_id, "v": v}
"""


@pytest.fixture
def writers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A module with a durable writer whose flush fails until BROKEN is cleared."""
    name = f"deadapp_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(WRITERS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(name)
    for flusher in list(_FLUSHERS):
        flusher.stop()
    _FLUSHERS.clear()
    sys.modules.pop(name, None)


def _cli(url: str, namespace: str, module: Any, *args: str) -> tuple[int, str, str]:
    """`memo dead-letters ...` in a process of its own, as an operator would run it."""
    folder = str(Path(module.__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), folder])}
    argv = ["--redis-url", url, "dead-letters", *args, "--namespace", namespace]
    out = subprocess.run(
        [sys.executable, "-m", "memo", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out.returncode, out.stdout, out.stderr


def test_list_replay_and_drop(writers: Any, redis_url: str, namespace: str) -> None:
    """Refused writes are listed; replayed after the fix they reach flush; drop removes."""
    memo.configure(redis_url=redis_url, namespace=namespace, secret=SECRET)
    spec = f"{writers.__name__}:set_item"
    writers.set_item(1, 10)
    writers.set_item(2, 20)
    assert memo.flush(10)
    assert writers.SINK == []
    code, out, err = _cli(redis_url, namespace, writers, "list", spec)
    assert code == 0, err
    assert "2 dead letter(s)" in out
    assert "the database is down" in out

    writers.BROKEN[0] = False  # the cause is fixed
    code, out, err = _cli(redis_url, namespace, writers, "replay", spec, "--all")
    assert code == 0, err
    assert out.startswith("replayed 2 entries")
    assert memo.flush(10)
    assert sorted(writers.SINK) == [(1, 10), (2, 20)]
    assert _cli(redis_url, namespace, writers, "list", spec)[1].startswith("0 dead letter(s)")

    writers.BROKEN[0] = True
    writers.set_item(3, 30)
    assert memo.flush(10)
    code, out, err = _cli(redis_url, namespace, writers, "list", spec, "--json")
    [entry] = [json.loads(line) for line in out.splitlines()]
    code, out, err = _cli(redis_url, namespace, writers, "drop", spec, "--id", entry["id"])
    assert (code, out.strip().split(" from ")[0]) == (0, "dropped 1 entry"), err
    assert _cli(redis_url, namespace, writers, "list", spec)[1].startswith("0 dead letter(s)")


def test_replay_needs_ids_or_all(writers: Any, redis_url: str, namespace: str) -> None:
    """replay without --id or --all is a usage error: nothing is replayed by accident."""
    code, _, err = _cli(redis_url, namespace, writers, "replay", f"{writers.__name__}:set_item")
    assert code == 2
    assert "--id ID (repeatable) or --all" in err
