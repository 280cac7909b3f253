"""The policy tests run the flows by hand: any thread, socket or sleep is a mistake."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest


def _refuse(what: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a policy test must not {what}")

    return refused


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No thread starts, no socket connects and nothing sleeps while a policy test runs."""
    monkeypatch.setattr(threading.Thread, "start", _refuse("start a thread"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("open a connection"))
    monkeypatch.setattr(time, "sleep", _refuse("sleep"))
    yield
