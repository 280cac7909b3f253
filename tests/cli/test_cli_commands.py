"""The `memo` commands beyond the demo's table: stats, inspect, invalidate, warm, flush, and the
demo's write-through and refresh-ahead scenarios and --plot."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

import memo
from memo._cli.app import main
from memo._cli.demo import run_patterns
from memo._runtime import fleet as _fleet
from memo._runtime import publisher as _publisher
from memo._runtime.settings import settings
from memo._strategies.write_behind import _FLUSHERS
from tests.support import typed_values

ROOT = Path(__file__).resolve().parents[2]
SMALL_DEMO = ["--calls", "200", "--keys", "50", "--latency-ms", "0.2", "--threads", "4"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECRET = "cli-test-secret"

APP = """
import memo
from tests.support import typed_values

@memo.cached(ttl=300, tags=["user:{user_id}"])
def get_user(user_id: int, region: str = "eu") -> dict:
    if user_id < 0:
        raise ValueError("no such user")
    return {"id": user_id, "region": region}

@memo.cached(ttl=300)
async def double(n: int) -> int:
    return 2 * n

def plain(x):
    return x
"""

WRITERS = """
import json, os, time
import memo
from tests.support import typed_values

OUT = {out!r}

@memo.cached(ttl=300)
def get_item(item_id: int) -> dict:
    return {{"id": item_id, "v": 0}}

def save(batch):
    if os.environ.get("MEMO_TEST_HANG"):
        time.sleep(3600)  # a consumer that dies holding its batch
    with open(OUT, "a") as out:
        for write in batch:
            out.write(json.dumps(write.value) + "\\n")

@memo.write_behind(get_item, flush=save, interval=0.2)
def set_item(item_id: int, v: int) -> dict:
    return {{"id": item_id, "v": v}}
"""


@pytest.fixture(autouse=True)
def _no_memo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MEMO_* setting leaks in, and the test process never publishes stats by itself."""
    for name in ("MEMO_REDIS_URL", "MEMO_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEMO_STATS_INTERVAL", "0")


def _write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> str:
    """A module of this test only, importable by name from tmp_path."""
    name = f"cliapp_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh module with cached functions (see APP), dropped after the test."""
    name = _write_module(tmp_path, monkeypatch, APP)
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def writers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A module with a write-behind writer appending to a file, alone in the registry."""
    out = tmp_path / "delivered.jsonl"
    name = _write_module(tmp_path, monkeypatch, WRITERS.format(out=str(out)))
    _stop_flushers()
    yield name, out
    _stop_flushers()
    sys.modules.pop(name, None)


def _stop_flushers() -> None:
    """Stop and forget every write-behind flusher of the process."""
    for flusher in list(_FLUSHERS):
        flusher.stop()
    _FLUSHERS.clear()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """main(argv): exit code, stdout, stderr."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def module(name: str) -> ModuleType:
    """The module the command imported."""
    return importlib.import_module(name)


def client(url: str) -> Any:
    """A plain redis-py client for looking at what the commands did."""
    return redis.Redis.from_url(url)


# -- --help --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["demo", "stats", "inspect", "invalidate", "warm", "flush"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`memo COMMAND --help` exits 0 with the command's usage, and `memo --help` lists it."""
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: memo {command}")
    assert "--redis-url" in out
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert f"    {command} " in out


# -- demo ----------------------------------------------------------------------------------


def test_demo_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`memo demo --plot FILE.png` prints every scenario, the patterns' lines, and a PNG."""
    target = tmp_path / "latency.png"
    code, out, _ = run(["demo", *SMALL_DEMO, "--plot", str(target)], capsys)
    assert code == 0
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert target.stat().st_size > 10_000
    rows = {line.split("  ")[0] for line in out.splitlines()}
    for label in ("@cached, updates bypass it", "write-through", "stampede lock=True (4 threads)"):
        assert label in rows
    assert any(row.startswith("refresh-ahead ttl=") for row in rows)
    assert "0 stale reads" in out
    assert f"plot: latency and DB calls per scenario written to {target}" in out


def test_demo_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without matplotlib, --plot exits 2 before running, naming pip install 'memo-cache[plot]'."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run(["demo", *SMALL_DEMO, "--plot", str(tmp_path / "x.png")], capsys)
    assert code == 2
    assert "pip install 'memo-cache[plot]'" in err
    assert out == ""


@pytest.mark.parametrize("name", ["latency.txt", "missing-dir/latency.png"])
def test_demo_plot_bad_target_is_a_usage_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --plot file with an unknown suffix or in a missing directory exits 2 before the run."""
    code, out, err = run(["demo", "--plot", str(tmp_path / name)], capsys)
    assert code == 2
    assert err.startswith("memo: error: --plot")
    assert out == ""


def test_write_through_and_refresh_ahead_scenarios() -> None:
    """Write-through reads are never stale; refresh-ahead callers never miss after warm-up."""
    result = run_patterns(calls=300, keys=60, latency_ms=0.1, seed=3, ttl=0.5, windows=3)
    assert result.write_through.writes == 300 // 20
    assert result.write_through.stale == 0
    assert result.bypass.stale > 0
    through = result.write_through.scenario
    assert through.counters_agree
    assert through.db_calls <= result.bypass.scenario.db_calls
    assert result.hot_cached.waited >= 1
    assert result.hot_cached.recomputes == result.hot_cached.scenario.db_calls - 1
    ahead = result.refresh_ahead
    assert ahead.waited == 0
    assert ahead.recomputes >= 1
    assert ahead.scenario.stats is not None
    assert ahead.scenario.stats.refreshes == ahead.recomputes
    assert ahead.scenario.stats.misses == 1


# -- stats ---------------------------------------------------------------------------------


def test_stats_without_redis_explains(capsys: pytest.CaptureFixture[str]) -> None:
    """`memo stats` without a Redis URL exits 2 saying stats are per process."""
    code, out, err = run(["stats"], capsys)
    assert code == 2
    assert "counted per process" in err
    assert "--redis-url" in err
    assert out == ""


def test_stats_json_sums_two_processes(
    app: str, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`memo stats --json` adds up what two processes published, and counts them."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    get_user = module(app).get_user
    get_user(1)
    get_user(1)  # 1 miss, 1 hit (L1, or L2 while the events connection is not up yet)
    assert _fleet.publish(settings.store, process="web-1")
    get_user.stats.reset()
    for _ in range(3):
        get_user(2)  # 1 miss, 2 hits
    assert _fleet.publish(settings.store, process="web-2")
    code, out, _ = run(
        ["--redis-url", redis_url, "stats", "--namespace", namespace, "--json"], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["namespace"] == namespace
    assert data["processes"] == 2
    counters = data["functions"][f"{app}.get_user"]
    assert counters["misses"] == 2
    assert counters["l1_hits"] + counters["l2_hits"] == counters["hits"] == 3
    assert counters["hit_rate"] == pytest.approx(3 / 5)
    code, out, _ = run(["--redis-url", redis_url, "stats", "--namespace", namespace], capsys)
    assert code == 0
    assert "2 processes" in out
    header = next(line for line in out.splitlines() if line.startswith("function"))
    for column in ("l1 hits", "l2 hits", "misses", "hit rate", "errors", "refreshes", "stale"):
        assert column in header
    assert any(line.startswith(f"{app}.get_user ") and "60.0%" in line for line in out.splitlines())


def test_commands_do_not_publish_stats(
    app: str,
    redis_url: str,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A command's process starts no stats publisher, whatever MEMO_STATS_INTERVAL says."""
    monkeypatch.setenv("MEMO_STATS_INTERVAL", "5")
    monkeypatch.setattr(sys, "stdin", io.StringIO("[1]\n"))
    code, _, _ = run(_cli(redis_url, namespace, "warm", f"{app}:get_user", "-"), capsys)
    assert code == 0
    assert os.environ["MEMO_STATS_INTERVAL"] == "5"
    redis_tier = settings.store.redis  # type: ignore[attr-defined]
    assert redis_tier.namespace == namespace
    assert redis_tier not in _publisher._publishers


def test_stats_with_nothing_published(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no process publishing in the namespace, `memo stats` says so and exits 0."""
    code, out, _ = run(["--redis-url", redis_url, "stats", "--namespace", namespace], capsys)
    assert code == 0
    assert "0 processes" in out
    assert "no counters" in out


# -- inspect -------------------------------------------------------------------------------


# A value no header line can contain by chance (a timestamp could hold "9.5").
PRICE = "price-of-seven-zq"


def _signed_entry(redis_url: str, namespace: str) -> str:
    """Store one signed (pickled) entry; its key."""
    store = memo.RedisStore(redis_url, namespace=namespace, secret=SECRET)

    @memo.cached(ttl=120, store=store)
    def price(product_id: int) -> dict[str, Any]:
        return {"id": product_id, "price": PRICE}

    price(7)
    return price.cache_key(7)


def test_inspect_signed_entry_verifies(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect prints the header fields of a signed entry and, with its secret, 'verified'."""
    key = _signed_entry(redis_url, namespace)
    code, out, _ = run(["--redis-url", redis_url, "inspect", key, "--secret", SECRET], capsys)
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["function"].startswith(
        "tests.cli.test_cli_commands._signed_entry.<locals>.price".replace("<", "_").replace(
            ">", "_"
        )
    )
    assert fields["namespace"] == namespace
    assert fields["created"].endswith("s ago)")
    assert "Z (in " in fields["expires"]
    assert fields["serializer"] == "pickle"
    assert fields["signed"] == "yes"
    assert fields["compressed"] == "no"
    assert fields["signature"].startswith("verified")
    assert PRICE not in out  # the value only with --value


def test_inspect_value_is_shown_only_when_verified(
    redis_url: str,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--value prints the value of a verified entry (MEMO_SECRET works as --secret)."""
    key = _signed_entry(redis_url, namespace)
    monkeypatch.setenv("MEMO_SECRET", SECRET)
    code, out, _ = run(["--redis-url", redis_url, "inspect", key, "--value"], capsys)
    assert code == 0
    assert f"{{'id': 7, 'price': {PRICE!r}}}" in out


def test_inspect_wrong_secret_fails(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the wrong secret the signature FAILS, exit 1, and --value shows nothing."""
    key = _signed_entry(redis_url, namespace)
    argv = ["--redis-url", redis_url, "inspect", key, "--secret", "not-it", "--value"]
    code, out, _ = run(argv, capsys)
    assert code == 1
    assert "signature   FAILED (signature" in out
    assert PRICE not in out
    assert "not shown" in out


def test_inspect_signed_entry_without_secret_is_not_checked(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a secret, a signed entry's header is printed and its signature left unchecked."""
    key = _signed_entry(redis_url, namespace)
    code, out, _ = run(["--redis-url", redis_url, "inspect", key, "--value"], capsys)
    assert code == 0
    assert "signature   not checked" in out
    assert PRICE not in out


def test_inspect_unsigned_entry(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unsigned (JSON) entry is checked as a reader would and reported as unsigned."""
    store = memo.RedisStore(redis_url, namespace=namespace)

    @memo.cached(ttl=None, store=store)
    def label(n: int) -> str:
        return f"n={n}"

    label(1)
    code, out, _ = run(["--redis-url", redis_url, "inspect", label.cache_key(1), "--value"], capsys)
    assert code == 0
    assert "serializer  json" in out
    assert "signed      no" in out
    assert "expires     never" in out
    assert "signature   none: unsigned entry" in out
    assert "'n=1'" in out


def test_inspect_garbage_is_not_a_memo_entry(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not memo's entry format exit 1 with the reason."""
    key = f"memo:{namespace}:app.f:v1:{{{'ab' * 16}}}"
    client(redis_url).set(key, b"definitely not an entry")
    code, out, err = run(["--redis-url", redis_url, "inspect", key], capsys)
    assert code == 1
    assert "is not a memo entry" in err
    assert "magic" in err
    assert out == ""


def test_inspect_missing_key(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key with nothing stored exits 1 with 'no entry at KEY'."""
    key = f"memo:{namespace}:app.f:v1:{{{'0' * 32}}}"
    code, _, err = run(["--redis-url", redis_url, "inspect", key], capsys)
    assert code == 1
    assert f"no entry at {key}" in err


@pytest.mark.parametrize("key", ["user:42", "memo:ns:app.f:v1:{tooshort}", "memo:ns:app.f"])
def test_inspect_malformed_key_is_a_usage_error(
    key: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A KEY that is not shaped like a memo key exits 2 with the expected shape."""
    code, _, err = run(["--redis-url", redis_url, "inspect", key], capsys)
    assert code == 2
    assert "memo:NAMESPACE:module.function:vVERSION:" in err


def test_inspect_without_redis(capsys: pytest.CaptureFixture[str]) -> None:
    """inspect without a Redis URL exits 2."""
    code, _, err = run(["inspect", f"memo:ns:app.f:v1:{{{'0' * 32}}}"], capsys)
    assert code == 2
    assert "--redis-url" in err


# -- warm and invalidate -------------------------------------------------------------------


def _cli(redis_url: str, namespace: str, command: str, *args: str) -> list[str]:
    """argv of a command with the Redis URL and namespace."""
    return ["--redis-url", redis_url, command, "--namespace", namespace, *args]


def test_warm_then_invalidate(
    app: str, tmp_path: Path, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """warm stores each line's call in Redis; invalidate removes one, then finds none."""
    calls = tmp_path / "calls.jsonl"
    calls.write_text('[1]\n{"user_id": 2, "region": "us"}\n\n3\n')
    code, out, _ = run(_cli(redis_url, namespace, "warm", f"{app}:get_user", str(calls)), capsys)
    assert code == 0
    assert "warmed 3, skipped 0 (already cached), failed 0 of 3 calls" in out
    get_user = module(app).get_user
    keys = [get_user.cache_key(1), get_user.cache_key(2, "us"), get_user.cache_key(3)]
    assert client(redis_url).exists(*keys) == 3
    code, out, _ = run(_cli(redis_url, namespace, "warm", f"{app}:get_user", str(calls)), capsys)
    assert "warmed 0, skipped 3" in out
    argv = _cli(redis_url, namespace, "invalidate", f"{app}:get_user", '{"user_id": 1}')
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert out.strip() == f"removed {keys[0]}"
    assert client(redis_url).exists(keys[0]) == 0
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert out.strip() == f"no entry at {keys[0]}"


def test_warm_from_stdin_and_failed_calls(
    app: str,
    redis_url: str,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`-` reads the calls from stdin; a call that raises is counted and makes the exit 1."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("[5]\n[-1]\n"))
    code, out, _ = run(_cli(redis_url, namespace, "warm", f"{app}:get_user", "-"), capsys)
    assert code == 1
    assert "warmed 1, skipped 0 (already cached), failed 1 of 2 calls" in out


def test_async_function_warm_and_invalidate(
    app: str,
    redis_url: str,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """warm and invalidate await an async function's handles."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("4\n"))
    code, out, _ = run(_cli(redis_url, namespace, "warm", f"{app}:double", "-"), capsys)
    assert code == 0
    assert "warmed 1" in out
    code, out, _ = run(_cli(redis_url, namespace, "invalidate", f"{app}:double", "[4]"), capsys)
    assert code == 0
    assert out.startswith("removed memo:")


def test_invalidate_tag(
    app: str, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`invalidate --tag` removes every entry stored with the tag."""
    memo.configure(redis_url=redis_url, namespace=namespace)
    get_user = module(app).get_user
    get_user(8)
    get_user(8, "us")
    get_user(9)
    code, out, _ = run(_cli(redis_url, namespace, "invalidate", "--tag", "user:8"), capsys)
    assert code == 0
    assert out.strip().startswith(
        f"removed 2 entries tagged 'user:8' in namespace {namespace!r} on "
    )
    assert client(redis_url).exists(get_user.cache_key(9)) == 1


@pytest.mark.parametrize("command", ["invalidate", "warm"])
def test_commands_refuse_without_redis(
    command: str, app: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a Redis tier, invalidate and warm exit 2: this process's own cache is empty."""
    calls = tmp_path / "calls.jsonl"
    calls.write_text("1\n")
    extra = ["[1]"] if command == "invalidate" else [str(calls)]
    code, out, err = run([command, f"{app}:get_user", *extra], capsys)
    assert code == 2
    assert "in-process cache" in err
    assert "--redis-url" in err
    assert out == ""


@pytest.mark.parametrize(
    "case",
    [
        ("{app}:get_user", "[1,", "ARGS_JSON is not valid JSON"),
        ("{app}:get_user", "[1, 2, 3]", "ARGS_JSON does not fit"),
        ("{app}:get_user", '{"nobody": 1}', "ARGS_JSON does not fit"),
        ("{app}:plain", "[1]", "not a memo-cached function"),
        ("{app}:missing", "[1]", "has no 'missing'"),
        ("{app}", "[1]", "is not MODULE:FUNCTION"),
        ("no_such_module_xyz:f", "[1]", "cannot import module 'no_such_module_xyz'"),
    ],
)
def test_invalidate_bad_input_is_a_usage_error(
    case: tuple[str, str, str],
    app: str,
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bad JSON, arguments, module or function exit 2 naming what was wrong."""
    target, arguments, message = case
    argv = _cli(redis_url, namespace, "invalidate", target.format(app=app), arguments)
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.startswith("memo: error: ")
    assert message in err
    assert out == ""


@pytest.mark.parametrize("argv", [["invalidate"], ["invalidate", "m:f", "--tag", "t"]])
def test_invalidate_needs_one_target(
    argv: list[str], redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """invalidate takes MODULE:FUNCTION or --tag: neither or both exit 2 with an example."""
    code, _, err = run(["--redis-url", redis_url, *argv], capsys)
    assert code == 2
    assert "e.g. memo invalidate" in err


@pytest.mark.parametrize(
    "case", [(None, "cannot read ARGS_FILE"), ('[1]\n{"user_id": \n', "line 2 of")]
)
def test_warm_bad_file_is_a_usage_error(
    case: tuple[str | None, str],
    app: str,
    tmp_path: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing ARGS_FILE or a line of bad JSON exits 2 naming the file or line."""
    content, message = case
    calls = tmp_path / "calls.jsonl"
    if content is not None:
        calls.write_text(content)
    code, _, err = run(["--redis-url", redis_url, "warm", f"{app}:get_user", str(calls)], capsys)
    assert code == 2
    assert message in err
    assert "for example" in err or content is None


# -- flush ---------------------------------------------------------------------------------


def test_flush_with_nothing_to_flush(capsys: pytest.CaptureFixture[str]) -> None:
    """Without write-behind writers, flush says there is nothing to flush and exits 0."""
    _stop_flushers()
    code, out, _ = run(["flush"], capsys)
    assert code == 0
    assert "nothing to flush" in out
    assert "--import MODULE" in out


def test_flush_bad_import_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--import of a module that does not exist exits 2."""
    code, _, err = run(["flush", "--import", "no_such_module_xyz"], capsys)
    assert code == 2
    assert "cannot import module 'no_such_module_xyz'" in err


def test_flush_in_memory_queue(
    writers: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """flush --import drains an in-process write-behind queue into the writer's sink."""
    name, out_file = writers
    module(name).set_item(1, 10)  # imported here first: the same module object for the CLI
    code, out, _ = run(["flush", "--import", name, "--timeout", "10"], capsys)
    assert code == 0
    assert f"{name}.set_item(): delivered " in out  # 0 if its thread delivered it already
    assert "0 pending in this process" in out
    assert "drained 1 writer (in-process queues" in out
    assert json.loads(out_file.read_text()) == {"id": 1, "v": 10}


def test_flush_claims_a_dead_process_stream(
    writers: tuple[str, Path],
    tmp_path: Path,
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """flush delivers a killed process's pending stream entries once they may be claimed."""
    # Until idle past 5 x interval (2 s at least) they stay pending: a short flush exits 1.
    name, out_file = writers
    script = (
        "import os, sys, time, memo\n"
        f"memo.configure(redis_url={redis_url!r}, namespace={namespace!r})\n"
        f"import {name} as w\n"
        "for i in range(3):\n"
        "    w.set_item(i, 10 * i)\n"
        "time.sleep(0.8)\n"  # the flusher reads the batch and hangs in save()
        "os._exit(0)\n"
    )
    env = {**os.environ, "MEMO_TEST_HANG": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=30, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    flush = _cli(redis_url, namespace, "flush", "--import", name)
    code, out, _ = run([*flush, "--timeout", "0.3"], capsys)
    assert code == 1
    assert "not drained within 0.3 s (Redis streams)" in out
    assert "0 entries left" not in out  # the batch the dead process held is still there
    code, out, _ = run([*flush, "--timeout", "15"], capsys)
    assert code == 0, out
    assert "stream memo:" in out
    assert ": 0 entries left" in out
    assert "drained 1 writer (Redis streams)" in out
    delivered = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert sorted(item["id"] for item in delivered) == [0, 1, 2]


def test_inspect_typed_entry_shows_plain_data(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typed entry is checked (checksum, key, size) and its value shown as plain data: the
    command has no annotation, so it builds no class."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    function = memo.cached(ttl=None, store=store)(typed_values.get_attrs.uncached)
    function(4)
    code, out, _ = run(
        ["--redis-url", redis_url, "inspect", function.cache_key(4), "--value"], capsys
    )
    assert code == 0
    assert "serializer  typed json" in out
    assert "signature   none: unsigned entry" in out
    assert "value       {'label': 'p', 'x': 4, 'y': 2.5}" in out
