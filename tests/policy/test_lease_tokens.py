"""Lease tokens: unique in a process and across processes, a forked child included."""

from __future__ import annotations

import os

import pytest

from memo._policy.flows import lease_token


def test_tokens_differ_within_a_process() -> None:
    """A counter behind one random prefix: no two tokens of a process are alike."""
    tokens = {lease_token() for _ in range(10_000)}
    assert len(tokens) == 10_000


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+, other threads
def test_a_forked_child_draws_tokens_of_its_own() -> None:
    """After fork the child's tokens share neither the parent's prefix nor its next values
    (a copied counter would hand both the same token, and one could release the other's
    lease)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next token and leave at once
        try:
            os.write(write, lease_token().encode())
        finally:
            os._exit(0)
    os.close(write)
    child_token = os.read(read, 200).decode()
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    parent_token = lease_token()
    assert child_token and child_token != parent_token
    assert child_token[:12] != parent_token[:12]
