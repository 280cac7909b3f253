"""The command line acts on what its flags say, or stops with an error that says why."""

from __future__ import annotations

import socket
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from memo._cli.app import main

SELF_CONFIGURING = """
import memo

memo.configure(redis_url={url!r}, namespace={namespace!r})

@memo.cached(ttl=300)
def get_user(user_id: int) -> dict:
    return {{"id": user_id}}
"""


@pytest.fixture
def self_configuring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, namespace: str
) -> Iterator[str]:
    """A module that calls memo.configure() at import, on the test's Redis and namespace."""
    name = f"cliflags_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(SELF_CONFIGURING.format(url=redis_url, namespace=namespace))
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_module_that_configures_another_namespace_is_refused(
    self_configuring: str, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--namespace other than the one the module configured: exit 2, nothing removed."""
    module = __import__(self_configuring)
    module.get_user(1)
    key = module.get_user.cache_key(1)
    sys.modules.pop(self_configuring)  # the command imports it afresh, as a new process would
    argv = ["--redis-url", redis_url, "invalidate", "--namespace", "elsewhere"]
    code = main([*argv, f"{self_configuring}:get_user", "[1]"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"namespace {namespace!r}" in err
    assert "'elsewhere'" in err
    assert "configures memo itself" in err
    assert redis.Redis.from_url(redis_url).exists(key) == 1  # untouched


def test_a_module_that_configures_another_server_is_refused(
    self_configuring: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--redis-url of a server where nothing listens, module configured elsewhere: exit 2,
    never "removed"."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    code = main(["--redis-url", url, "invalidate", f"{self_configuring}:get_user", "[1]"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "removed" not in out
    assert "configures memo itself" in err


def test_matching_flags_act_on_the_module_configuration(
    self_configuring: str, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flags the application uses: the entry is removed and the command says so."""
    module = __import__(self_configuring)
    module.get_user(2)
    key = module.get_user.cache_key(2)
    sys.modules.pop(self_configuring)
    argv = ["--redis-url", redis_url, "invalidate", "--namespace", namespace]
    code = main([*argv, f"{self_configuring}:get_user", "[2]"])
    assert code == 0
    assert capsys.readouterr().out.strip() == f"removed {key}"
    assert redis.Redis.from_url(redis_url).exists(key) == 0


def test_an_unreachable_redis_is_a_failure_not_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module that leaves configuration to the command, a URL where nothing listens:
    exit 1 and no "removed"."""
    name = f"cliflags_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(
        "import memo\n\n@memo.cached(ttl=300)\ndef f(x: int) -> int:\n    return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    try:
        code = main(["--redis-url", url, "invalidate", f"{name}:f", "[1]"])
    finally:
        sys.modules.pop(name, None)
    out, err = capsys.readouterr()
    assert code == 1
    assert "removed" not in out
    assert "cannot reach Redis" in err


def test_invalidate_tag_names_the_namespace_it_searched(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tag without a module says which namespace (and server) it searched."""
    code = main(["--redis-url", redis_url, "invalidate", "--tag", "user:1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "in namespace 'default' on 127.0.0.1:" in out
