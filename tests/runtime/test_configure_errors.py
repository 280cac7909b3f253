"""Configuration that cannot work is refused at configure(), not at the first call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import memo

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://127.0.0.1:6379/x", "the database must be a number"),
        ("redis://127.0.0.1:6379/0?db=two", "the database must be a number"),
        ("redis://127.0.0.1:port/0", "the port must be a number"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/x", "the database must be a number"),
        ("http://127.0.0.1:6379/0", "unknown scheme"),
    ],
)
def test_a_bad_redis_url_is_refused_at_configure(url: str, says: str) -> None:
    """configure(redis_url=...) with a malformed URL raises ConfigurationError naming the fix."""
    with pytest.raises(memo.ConfigurationError, match=says):
        memo.configure(redis_url=url)


def test_configure_without_redis_py_names_the_extra() -> None:
    """Without redis-py, configure(redis_url=...) raises at once, naming the extra to install."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import memo\n"
        "try:\n"
        "    memo.configure(redis_url='redis://127.0.0.1:6379/0')\n"
        "except memo.ConfigurationError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('accepted')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEMO_REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:")
    assert "pip install 'memo-cache[redis]'" in out.stdout
