"""The `memo` command line: parsing, errors and exit codes, and `python -m memo demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from memo._cli.app import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--calls", "200", "--keys", "50", "--latency-ms", "0.5", "--threads", "4"]
LABELS = (
    "uncached",
    "@cached",
    "uncached async (32 tasks)",
    "@cached async (32 tasks)",
    "stampede lock=True (4 threads)",
    "stampede lock=False (4 threads)",
)


@pytest.fixture(autouse=True)
def _no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMO_REDIS_URL", raising=False)


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """`memo --help` exits 0 and lists the demo command and --redis-url."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "--redis-url" in out


def test_demo_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`memo demo --help` exits 0 and lists the demo's options with their defaults."""
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--calls", "--keys", "--latency-ms", "--seed", "--threads", "--tasks"):
        assert option in out
    assert "default: 2000" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`memo` without a command exits 2 and says a command is required."""
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 and names the valid choices."""
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err
    assert "demo" in err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--calls", "0"], "--calls"),
        (["--keys", "many"], "--keys"),
        (["--latency-ms", "-1"], "--latency-ms"),
        (["--latency-ms", "nan"], "--latency-ms"),
        (["--threads", "1.5"], "--threads"),
    ],
)
def test_bad_demo_option_is_a_usage_error(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid demo option exits 2 with a message naming the option."""
    assert main(["demo", *args]) == 2
    captured = capsys.readouterr()
    assert f"argument {option}" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_demo_with_redis_url_uses_l2(
    where: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--redis-url, before or after the command, runs the demo on L1 + L2."""
    demo = ["demo", "--calls", "60", "--keys", "20", "--latency-ms", "0", "--threads", "4"]
    argv = (
        ["--redis-url", redis_url, *demo]
        if where == "before"
        else [*demo, "--redis-url", redis_url]
    )
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "L1 + L2 (Redis at 127.0.0.1:" in out
    assert "stampede lock=True" in out
    # It says where it wrote, and leaves nothing behind in the user's database.
    cleanup = next(line for line in out.splitlines() if line.startswith("redis: the demo wrote"))
    pattern = cleanup.split(" under ")[1].split()[0]
    assert pattern.startswith("memo:demo-") and cleanup.endswith("removed them.")
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=pattern, count=1000)) == []
    finally:
        client.close()


def test_memo_redis_url_env_is_used(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """MEMO_REDIS_URL in the environment has the same effect as --redis-url."""
    monkeypatch.setenv("MEMO_REDIS_URL", redis_url)
    assert main(["demo", "--calls", "20", "--keys", "5", "--latency-ms", "0"]) == 0
    assert "L1 + L2" in capsys.readouterr().out


def test_unusable_redis_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A URL memo cannot use exits 2 with the accepted forms, and the demo does not run."""
    assert main(["--redis-url", "http://cache:6379", "demo"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("memo: error: ")
    assert "unknown scheme" in captured.err
    assert captured.out == ""


def test_redis_url_password_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """The error about --redis-url does not echo the URL's password."""
    assert main(["--redis-url", "http://user:hunter2@cache:6379/0", "demo"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "cache:6379" in err


def test_demo_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`memo demo` with small arguments exits 0 and prints every scenario and the summary."""
    assert main(["demo", *SMALL]) == 0
    out = capsys.readouterr().out
    _check_report(out)


def test_python_m_memo_demo_runs() -> None:
    """`python -m memo demo` in a fresh interpreter exits 0 and prints the table."""
    env = {k: v for k, v in os.environ.items() if k != "MEMO_REDIS_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "memo", "demo", *SMALL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _check_report(done.stdout)


def _check_report(out: str) -> None:
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    for column in ("calls", "DB calls", "spared", "p50 ms", "p95 ms", "p99 ms", "wall s"):
        assert column in header
    rows = {line.split("  ")[0].rstrip() for line in lines}
    for label in LABELS:
        assert label in rows
    assert any(line.startswith("speed-up, sync:") for line in lines)
    assert "1 DB call with lock=True" in out
