"""Prometheus exporter: memo's per-function counters, read at scrape time.

    import memo.prometheus
    memo.prometheus.register()            # on prometheus_client.REGISTRY

A custom collector, so nothing is counted twice and the hit path pays nothing: every scrape
reads `memo.stats()` (this process) and turns it into metric families. Needs the extra:
`pip install 'memo-cache[prometheus]'`.

Metrics (label `function` is `module.qualname`, as in `memo.stats()`):

- `memo_hits_total{function, tier="l1"|"l2"}`
- `memo_misses_total{function}`
- `memo_errors_total{function, error_class}`: calls on which a tier degraded, by error class
- `memo_waits_total{function}`: misses served by another caller's compute (stampede waits)
- `memo_refreshes_total{function}`
- `memo_stale_total{function}`: stale entries served while a refresh ran
- `memo_compute_seconds_total{function}`
- `memo_hit_ratio{function}` (gauge): hits / (hits + misses)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from memo._errors import ConfigurationError
from memo._policy.stats import Stats
from memo._runtime.fleet import errors_by_class

try:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
except ImportError as exc:
    raise ConfigurationError(
        "memo.prometheus needs prometheus_client: pip install 'memo-cache[prometheus]'"
    ) from exc

__all__ = ["MemoCollector", "register"]

StatsSource = Callable[[], Mapping[str, Stats]]


def _this_process() -> Mapping[str, Stats]:
    from memo._strategies.cached import stats  # noqa: PLC0415 - read at call time: tests may swap it

    return stats()


class MemoCollector:
    """A prometheus_client collector of `memo.stats()`.

    `source` returns the counters to export by function name; the default is `memo.stats()`.
    Another source, such as fleet-wide totals read from Redis (what `memo stats` shows),
    exports fleet-wide totals instead.
    """

    def __init__(self, source: StatsSource | None = None) -> None:
        self.source: StatsSource = source if source is not None else _this_process

    def describe(self) -> Iterator[Metric]:
        """The metric families, without samples (so registering does not read any stats)."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        """The metric families with one sample set per function, read now."""
        families = _families()
        hits, misses, errors, waits, refreshes, stale, compute, ratio = families
        for name, stats in sorted(self.source().items()):
            hits.add_metric([name, "l1"], stats.l1_hits)
            hits.add_metric([name, "l2"], stats.l2_hits)
            misses.add_metric([name], stats.misses)
            for error_class, count in sorted(errors_by_class(stats).items()):
                errors.add_metric([name, error_class], count)
            waits.add_metric([name], stats.waits)
            refreshes.add_metric([name], stats.refreshes)
            stale.add_metric([name], stats.stale)
            compute.add_metric([name], stats.compute_time)
            ratio.add_metric([name], stats.hit_rate)
        return iter(families)


def register(registry: CollectorRegistry | None = None) -> MemoCollector:
    """Register a `MemoCollector` on registry (default: `prometheus_client.REGISTRY`)."""
    collector = MemoCollector()
    (REGISTRY if registry is None else registry).register(collector)
    return collector


def _families() -> tuple[
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    GaugeMetricFamily,
]:
    function = ["function"]
    return (
        CounterMetricFamily(
            "memo_hits",
            "Cache hits, by tier (l1: in-process, l2: Redis).",
            labels=[*function, "tier"],
        ),
        CounterMetricFamily(
            "memo_misses", "Cache misses (lookups that found nothing).", labels=function
        ),
        CounterMetricFamily(
            "memo_errors",
            "Calls on which a cache tier degraded (served anyway), by error class.",
            labels=[*function, "error_class"],
        ),
        CounterMetricFamily(
            "memo_waits",
            "Misses served by another caller's compute (stampede waits).",
            labels=function,
        ),
        CounterMetricFamily("memo_refreshes", "Recomputations of cached entries.", labels=function),
        CounterMetricFamily(
            "memo_stale", "Stale entries served while a refresh ran.", labels=function
        ),
        CounterMetricFamily(
            "memo_compute_seconds",
            "Time spent running the cached function on misses and refreshes.",
            labels=function,
            unit="seconds",
        ),
        GaugeMetricFamily("memo_hit_ratio", "hits / (hits + misses).", labels=function),
    )
