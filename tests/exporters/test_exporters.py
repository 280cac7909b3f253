"""The Prometheus and OpenTelemetry exporters, each against the real library.

Providers and registries are made per test and passed explicitly: no global OpenTelemetry
provider is set and the global Prometheus registry is left as it was found.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, generate_latest

import memo
import memo.opentelemetry
import memo.prometheus
from memo._runtime.observe import OBSERVERS
from tests.support.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[2]

# -- helpers -----------------------------------------------------------------------------------


def name_of(function: Any) -> str:
    """The `function` label memo.stats() uses: module.qualname."""
    return f"{function.__module__}.{function.__qualname__}"


def key_hash(function: Any, *args: Any) -> str:
    """The digest part of a call's cache key."""
    key = function.cache_key(*args)
    return str(key[key.rindex("{") + 1 : -1])


@dataclass
class Otel:
    """An instrumentation over SDK providers of the test's own."""

    instrumentation: memo.opentelemetry.Instrumentation
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider

    def finished(self, function: Any) -> list[ReadableSpan]:
        """The "memo.miss" spans of function, in the order they ended."""
        return [
            span
            for span in self.spans.get_finished_spans()
            if span.name == "memo.miss"
            and (span.attributes or {}).get("memo.function") == name_of(function)
        ]

    def points(self, metric: str, function: Any) -> dict[tuple[tuple[str, Any], ...], Any]:
        """Data points of metric for function: attributes (less `function`) -> value."""
        data = self.metrics.get_metrics_data()
        out: dict[tuple[tuple[str, Any], ...], Any] = {}
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for found in scope.metrics:
                    if found.name != metric:
                        continue
                    for point in found.data.data_points:
                        attributes = dict(point.attributes or {})
                        if attributes.pop("function", None) == name_of(function):
                            out[tuple(sorted(attributes.items()))] = point.value  # type: ignore[union-attr]
        return out


@pytest.fixture
def otel() -> Iterator[Otel]:
    """memo instrumented with an in-memory span exporter and metric reader (no globals)."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentation = memo.opentelemetry.instrument(
        meter_provider=meter_provider, tracer_provider=tracer_provider
    )
    yield Otel(instrumentation, spans, reader, tracer_provider)
    instrumentation.uninstrument()
    meter_provider.shutdown()
    tracer_provider.shutdown()


# -- optional dependencies ----------------------------------------------------------------------


def test_import_memo_loads_neither_exporter_library() -> None:
    """`import memo` imports neither prometheus_client nor opentelemetry."""
    code = (
        "import sys, memo\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('prometheus_client', 'opentelemetry')]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30, cwd=ROOT, env=env)


@pytest.mark.parametrize(
    ("module", "package", "extra"),
    [
        ("memo.prometheus", "prometheus_client", "prometheus"),
        ("memo.opentelemetry", "opentelemetry", "opentelemetry"),
    ],
)
def test_exporter_without_its_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, package: str, extra: str
) -> None:
    """Importing an exporter without its library raises ConfigurationError with the pip line."""
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    monkeypatch.delitem(sys.modules, module)
    with pytest.raises(memo.ConfigurationError, match=rf"pip install 'memo-cache\[{extra}\]'"):
        importlib.import_module(module)


# -- Prometheus -------------------------------------------------------------------------------


def test_prometheus_exports_hits_misses_ratio_and_compute_time() -> None:
    """A scrape shows each function's hits by tier, misses, hit ratio and compute seconds."""
    registry = CollectorRegistry()
    memo.prometheus.register(registry)

    @memo.cached
    def square(x: int) -> int:
        return x * x

    square(1)
    square(1)
    square(2)
    name = name_of(square)
    text = generate_latest(registry).decode()
    assert f'memo_hits_total{{function="{name}",tier="l1"}} 1.0' in text
    assert f'memo_hits_total{{function="{name}",tier="l2"}} 0.0' in text
    assert f'memo_misses_total{{function="{name}"}} 2.0' in text
    assert f'memo_waits_total{{function="{name}"}} 0.0' in text
    assert "# TYPE memo_hits_total counter" in text
    assert "# TYPE memo_hit_ratio gauge" in text
    labels = {"function": name}
    assert registry.get_sample_value("memo_hit_ratio", labels) == pytest.approx(1 / 3)
    compute = registry.get_sample_value("memo_compute_seconds_total", labels)
    assert compute == square.stats.compute_time
    assert compute is not None and compute > 0
    assert registry.get_sample_value("memo_errors_total", {**labels, "error_class": "x"}) is None


def test_prometheus_reads_counters_at_each_scrape() -> None:
    """Each scrape reads the counters afresh: later calls and reset() show up."""
    registry = CollectorRegistry()
    memo.prometheus.register(registry)

    @memo.cached
    def ident(x: int) -> int:
        return x

    labels = {"function": name_of(ident)}
    ident(1)
    assert registry.get_sample_value("memo_misses_total", labels) == 1
    ident(2)
    ident(2)
    assert registry.get_sample_value("memo_misses_total", labels) == 2
    assert registry.get_sample_value("memo_hits_total", {**labels, "tier": "l1"}) == 1
    ident.stats.reset()
    assert registry.get_sample_value("memo_misses_total", labels) == 0


def test_prometheus_exports_every_counter_of_a_source() -> None:
    """Errors by class (the unaccounted ones as 'unknown'), waits, refreshes and stale serves."""
    stats = memo.Stats(
        l2_hits=7,
        errors=4,
        waits=3,
        refreshes=5,
        stale=6,
        compute_time=1.5,
        errors_by_class=Counter({"ConnectionError": 2, "TimeoutError": 1}),
    )
    registry = CollectorRegistry()
    registry.register(memo.prometheus.MemoCollector(lambda: {"app.load": stats}))
    app = {"function": "app.load"}
    for metric, labels, value in (
        ("memo_hits_total", {**app, "tier": "l2"}, 7),
        ("memo_errors_total", {**app, "error_class": "ConnectionError"}, 2),
        ("memo_errors_total", {**app, "error_class": "TimeoutError"}, 1),
        ("memo_errors_total", {**app, "error_class": "unknown"}, 1),
        ("memo_waits_total", app, 3),
        ("memo_refreshes_total", app, 5),
        ("memo_stale_total", app, 6),
        ("memo_compute_seconds_total", app, 1.5),
        ("memo_hit_ratio", app, 1.0),
    ):
        assert registry.get_sample_value(metric, labels) == value, (metric, labels)
    text = generate_latest(registry).decode()
    assert 'memo_stale_total{function="app.load"} 6.0' in text


def test_prometheus_counts_redis_errors_by_class(namespace: str) -> None:
    """Calls degraded by an unreachable Redis appear in memo_errors_total by error class."""
    registry = CollectorRegistry()
    memo.prometheus.register(registry)
    store = memo.RedisStore(f"redis://127.0.0.1:{free_port()}/0", namespace=namespace)

    @memo.cached(store=store)
    def load(x: int) -> int:
        return x

    for x in range(5):
        assert load(x) == x
    by_class = load.stats.errors_by_class
    assert sum(by_class.values()) == 5
    for error_class, count in by_class.items():
        labels = {"function": name_of(load), "error_class": error_class}
        assert registry.get_sample_value("memo_errors_total", labels) == count


def test_prometheus_register_defaults_to_the_global_registry() -> None:
    """register() with no registry puts the collector on prometheus_client.REGISTRY."""
    collector = memo.prometheus.register()
    try:

        @memo.cached
        def one() -> int:
            return 1

        one()
        labels = {"function": name_of(one)}
        assert prometheus_client.REGISTRY.get_sample_value("memo_misses_total", labels) == 1
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            memo.prometheus.register()  # describe() names the series: a clash is caught
    finally:
        prometheus_client.REGISTRY.unregister(collector)


# -- OpenTelemetry: metrics ---------------------------------------------------------------------


def test_otel_metrics_read_memo_stats(otel: Otel) -> None:
    """Observable instruments report hits by tier, misses, compute time and the hit ratio."""

    @memo.cached
    def double(x: int) -> int:
        return 2 * x

    double(1)
    double(1)
    double(1)
    double(2)
    assert otel.points("memo.hits", double) == {(("tier", "l1"),): 2, (("tier", "l2"),): 0}
    assert otel.points("memo.misses", double) == {(): 2}
    assert otel.points("memo.waits", double) == {(): 0}
    assert otel.points("memo.hit_ratio", double) == {(): pytest.approx(0.5)}
    assert otel.points("memo.compute_time", double) == {(): double.stats.compute_time}
    double(3)
    assert otel.points("memo.misses", double) == {(): 3}


def test_otel_metrics_of_a_source_include_errors_by_class() -> None:
    """memo.errors carries error_class; refreshes and stale serves are reported too."""
    stats = memo.Stats(errors=3, refreshes=2, stale=1, errors_by_class=Counter({"TimeoutError": 3}))
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrumentation = memo.opentelemetry.instrument(
        meter_provider=provider,
        tracer_provider=TracerProvider(),
        source=lambda: {"app.load": stats},
    )
    try:
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = reader.get_metrics_data()
        assert data is not None
        for scope in data.resource_metrics[0].scope_metrics:
            assert scope.scope.name == "memo"
            for metric in scope.metrics:
                found[metric.name] = [
                    (dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
                    for p in metric.data.data_points
                ]
        assert found["memo.errors"] == [
            ({"function": "app.load", "error_class": "TimeoutError"}, 3)
        ]
        assert found["memo.refreshes"] == [({"function": "app.load"}, 2)]
        assert found["memo.stale"] == [({"function": "app.load"}, 1)]
    finally:
        instrumentation.uninstrument()
        provider.shutdown()


# -- OpenTelemetry: spans -----------------------------------------------------------------------


def test_otel_span_per_miss_sync(otel: Otel) -> None:
    """Each miss of a sync function is one "memo.miss" span naming function and key hash."""

    @memo.cached
    def greet(name: str) -> str:
        return f"hello {name}"

    greet("secret-argument")
    greet("secret-argument")
    greet("other")
    spans = otel.finished(greet)
    assert len(spans) == 2
    first = spans[0]
    assert first.attributes == {
        "memo.function": name_of(greet),
        "memo.key_hash": key_hash(greet, "secret-argument"),
    }
    assert spans[1].attributes is not None
    assert spans[1].attributes["memo.key_hash"] == key_hash(greet, "other")
    assert first.status.status_code is StatusCode.UNSET
    assert first.end_time is not None and first.start_time is not None
    for span in spans:
        assert "secret-argument" not in repr(dict(span.attributes or {}))


def test_otel_span_per_miss_async(otel: Otel) -> None:
    """Misses of an async function get their spans too, none for hits."""

    @memo.cached
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def main() -> list[int]:
        return [await fetch(1), await fetch(1), await fetch(2), await fetch(2)]

    assert asyncio.run(main()) == [2, 2, 3, 3]
    spans = otel.finished(fetch)
    assert [(s.attributes or {}).get("memo.key_hash") for s in spans] == [
        key_hash(fetch, 1),
        key_hash(fetch, 2),
    ]


@pytest.mark.parametrize("colour", ["sync", "async"])
def test_otel_span_records_the_exception_of_a_failed_compute(otel: Otel, colour: str) -> None:
    """A function that raises ends its span with status ERROR and the exception recorded."""

    def broken_sync(x: int) -> int:
        raise ValueError(f"no value for {x}")

    async def broken_async(x: int) -> int:
        raise ValueError(f"no value for {x}")

    broken: Any = memo.cached(broken_sync if colour == "sync" else broken_async)
    with pytest.raises(ValueError, match="no value for 7"):
        if colour == "sync":
            broken(7)
        else:
            asyncio.run(broken(7))
    (span,) = otel.finished(broken)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None and "ValueError" in span.status.description
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "no value for 7"


def test_otel_spans_of_the_function_are_children_of_the_miss(otel: Otel) -> None:
    """A span the function opens while computing is a child of its "memo.miss" span."""
    tracer = otel.tracer_provider.get_tracer("app")

    @memo.cached
    def query(x: int) -> int:
        with tracer.start_as_current_span("db.query"):
            return x

    with tracer.start_as_current_span("request"):
        query(1)
    assert trace.get_current_span() is trace.INVALID_SPAN  # the context was restored
    by_name = {span.name: span for span in otel.spans.get_finished_spans()}
    miss, child, request = by_name["memo.miss"], by_name["db.query"], by_name["request"]
    assert child.parent is not None and miss.context is not None
    assert child.parent.span_id == miss.context.span_id
    assert miss.parent is not None and request.context is not None
    assert miss.parent.span_id == request.context.span_id


def test_otel_uninstrument_stops_spans_and_metrics(otel: Otel) -> None:
    """After uninstrument() misses open no spans and the instruments report nothing."""

    @memo.cached
    def late(x: int) -> int:
        return x

    late(1)
    assert len(otel.finished(late)) == 1
    otel.instrumentation.uninstrument()
    assert otel.instrumentation.spans not in OBSERVERS
    late(2)
    assert len(otel.finished(late)) == 1
    assert otel.points("memo.misses", late) == {}
