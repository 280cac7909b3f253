"""`memo demo`'s numbers: the database, the workload and each scenario's counts."""

from __future__ import annotations

import pytest

from memo._demo.db import Product, ProductDB, zipf_workload
from memo._demo.report import format_report, format_table
from memo._demo.workload import DemoResult, percentile, run_demo

CALLS, KEYS, SEED, THREADS, TASKS = 400, 120, 7, 6, 8


@pytest.fixture(scope="module")
def result() -> DemoResult:
    """One small demo run shared by the tests that read its numbers."""
    return run_demo(calls=CALLS, keys=KEYS, latency_ms=0.3, seed=SEED, threads=THREADS, tasks=TASKS)


def distinct() -> int:
    """How many distinct ids the fixture's workload holds."""
    return len(set(zipf_workload(CALLS, KEYS, SEED)))


def test_scenarios_run_in_order(result: DemoResult) -> None:
    """Every scenario is reported once, in the order the demo runs them."""
    names = [s.name for s in result.scenarios]
    assert names == [
        "uncached",
        "cached",
        "uncached-async",
        "cached-async",
        "stampede-lock",
        "stampede-nolock",
    ]
    assert result.distinct_keys == distinct()


def test_uncached_reaches_the_database_every_call(result: DemoResult) -> None:
    """Without a cache, sync and async, every call is one database query."""
    for name in ("uncached", "uncached-async"):
        scenario = result[name]
        assert scenario.calls == CALLS
        assert scenario.db_calls == CALLS
        assert scenario.stats is None
        assert scenario.hit_rate is None


def test_cached_queries_each_distinct_key_once(result: DemoResult) -> None:
    """@cached reaches the database once per distinct id, and f.stats says the same."""
    scenario = result["cached"]
    assert scenario.calls == CALLS
    assert scenario.db_calls == distinct()
    assert scenario.stats is not None
    assert scenario.stats.misses == distinct()
    assert scenario.stats.hits == CALLS - distinct()
    assert scenario.stats.waits == 0
    assert scenario.hit_rate == pytest.approx((CALLS - distinct()) / CALLS)
    assert scenario.counters_agree


def test_cached_async_queries_each_distinct_key_once(result: DemoResult) -> None:
    """The async loader under concurrent tasks also queries each distinct id once."""
    scenario = result["cached-async"]
    assert scenario.calls == CALLS
    assert scenario.db_calls == distinct()
    assert scenario.stats is not None
    assert scenario.stats.hits + scenario.stats.misses == CALLS
    assert scenario.counters_agree  # followers of a flight count as misses and waits


def test_stampede_with_lock_queries_once(result: DemoResult) -> None:
    """Threads missing one cold key together with lock=True cause a single query."""
    scenario = result["stampede-lock"]
    assert scenario.calls == THREADS
    assert scenario.db_calls == 1
    # The waiters were spared the query: the table says so, where the hit rate says 0%.
    assert scenario.spared == pytest.approx((THREADS - 1) / THREADS)


def test_stampede_without_lock_queries_more_than_once(result: DemoResult) -> None:
    """With lock=False, overlapping threads each query the database for the cold key."""
    scenario = result["stampede-nolock"]
    assert scenario.calls == THREADS
    assert 1 < scenario.db_calls <= THREADS
    assert scenario.stats is not None
    assert scenario.stats.waits == 0


def test_report_lists_every_scenario_aligned(result: DemoResult) -> None:
    """The report's table has a header, a rule and one row per scenario, all aligned."""
    table = format_table(result.scenarios).splitlines()
    assert table[0].startswith("scenario")
    assert set(table[1]) <= {"-", " "}
    assert len(table) == 2 + len(result.scenarios)
    assert len({len(line) for line in table}) == 1  # right-aligned last column
    for scenario, row in zip(result.scenarios, table[2:], strict=True):
        assert row.startswith(scenario.label)
    report = format_report(result)
    assert "\n".join(table) in report
    assert "agree with the database" in report or "differ from" in report


def test_percentile_is_nearest_rank() -> None:
    """percentile() picks the nearest-rank value and copes with few or no values."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.07) == 7.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) == 0.0


def test_workload_is_seeded_and_skewed() -> None:
    """The workload repeats for a seed, stays within the ids and favours a few of them."""
    workload = zipf_workload(2000, 500, seed=3)
    assert workload == zipf_workload(2000, 500, seed=3)
    assert workload != zipf_workload(2000, 500, seed=4)
    assert set(workload) <= set(range(1, 501))
    top = max(workload.count(i) for i in set(workload))
    assert top > 10 * (2000 / 500)  # far above a uniform draw's mean


def test_database_counts_queries() -> None:
    """ProductDB answers by id (None for an unknown id) and counts every query."""
    with ProductDB(size=10, latency=0.0, seed=1) as db:
        product = db.load(3)
        assert isinstance(product, Product)
        assert product.id == 3
        assert db.load(11) is None
        assert db.calls == 2
        db.reset_calls()
        assert db.calls == 0
