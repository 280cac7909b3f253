"""The short seeded soak run: processes, threads and tasks under a nemesis, held to the contract.

`python -m bench.soak` (bench/soak.py) does the work; `make soak` runs it for 10 minutes.
Seed 6 kills and pauses redis-server, drops and flaps the proxy, kills the invalidation
connections and SIGKILLs workers within the first 30 s.
"""

from __future__ import annotations

import pytest

from bench import soak


@pytest.mark.timeout(240)
def test_short_soak_has_no_violations() -> None:
    """A 40 s seeded soak (2 processes x 2 threads + 2 tasks, every fault) breaks no rule."""
    args = soak._parse(
        [
            "--seconds",
            "40",
            "--seed",
            "6",
            "--processes",
            "2",
            "--threads",
            "2",
            "--tasks",
            "2",
            "--keys",
            "32",
            "--pace",
            "0.01",
        ]
    )
    data = soak.soak(args)
    print(soak.render(data))
    assert data["nemesis"], "the nemesis did nothing"
    assert data["errors"] == 0
    assert data["ops"] > 1000
    assert data["violations"] == [], soak.render(data)
