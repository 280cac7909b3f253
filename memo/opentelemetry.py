"""OpenTelemetry exporter: memo's counters as observable metrics, and a span per miss.

    import memo.opentelemetry
    instrumentation = memo.opentelemetry.instrument()   # global providers, or pass your own
    ...
    instrumentation.uninstrument()

Metrics are observable instruments read from `memo.stats()` when the meter provider collects,
so the hit path pays nothing. Attributes: `function` (`module.qualname`), plus `tier` on
`memo.hits` and `error_class` on `memo.errors`:

- `memo.hits` (counter, `{hit}`, tier "l1" | "l2"), `memo.misses`, `memo.errors`,
  `memo.waits` (stampede waits), `memo.refreshes`, `memo.stale` (stale serves)
- `memo.compute_time` (counter, seconds spent in the cached function)
- `memo.hit_ratio` (gauge, hits / (hits + misses))

Every miss (sync or async) runs in a span "memo.miss" with attributes `memo.function` and
`memo.key_hash` (the key's digest: never the arguments); spans the function opens are its
children. A function that raises an `Exception` ends its span with status ERROR and the
exception recorded as an event. Needs `pip install 'memo-cache[opentelemetry]'`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from memo import __version__
from memo._errors import ConfigurationError
from memo._policy.stats import Stats
from memo._runtime import observe as _observe
from memo._runtime.fleet import errors_by_class

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
    from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider
except ImportError as exc:
    raise ConfigurationError(
        "memo.opentelemetry needs the OpenTelemetry API and SDK: "
        "pip install 'memo-cache[opentelemetry]'"
    ) from exc

__all__ = ["Instrumentation", "instrument"]

SCOPE = "memo"
SPAN_NAME = "memo.miss"

StatsSource = Callable[[], Mapping[str, Stats]]
Reading = Callable[[str, Stats], Iterable[tuple[float, dict[str, str]]]]


def _this_process() -> Mapping[str, Stats]:
    from memo._strategies.cached import stats  # noqa: PLC0415 - the public function, read at call time

    return stats()


class _MissSpans:
    """The miss observer: one span per miss, current while the function computes."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def miss_started(self, function: str, key_hash: str) -> tuple[Span, object]:
        attributes = {"memo.function": function.removesuffix("()"), "memo.key_hash": key_hash}
        span = self.tracer.start_span(SPAN_NAME, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def miss_finished(self, token: tuple[Span, Any], error: BaseException | None) -> None:
        span, context_token = token
        try:
            if isinstance(error, Exception):  # as OpenTelemetry does: not cancellations
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        finally:
            otel_context.detach(context_token)
            span.end()


class Instrumentation:
    """What `instrument()` set up; `uninstrument()` undoes it."""

    def __init__(self, meter: Meter, tracer: Tracer, source: StatsSource) -> None:
        self.meter = meter
        self.tracer = tracer
        self.source = source
        self.active = True
        self.instruments = _create_instruments(meter, self._observe)
        self.spans = _MissSpans(tracer)
        _observe.add_observer(self.spans)

    def uninstrument(self) -> None:
        """Stop the spans; the metric callbacks report nothing from now on.

        (OpenTelemetry cannot remove an instrument from a meter; an inactive one is silent.)
        """
        self.active = False
        _observe.remove_observer(self.spans)

    def _observe(self, reading: Reading) -> Iterator[Observation]:
        if not self.active:
            return
        for function, stats in sorted(self.source().items()):
            for value, attributes in reading(function, stats):
                yield Observation(value, attributes)


def instrument(
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    source: StatsSource | None = None,
) -> Instrumentation:
    """Publish memo's metrics and a span per miss; None providers mean the global ones.

    `source` returns the counters to export (default `memo.stats()`, this process).
    """
    meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
    tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
    return Instrumentation(meter, tracer, source if source is not None else _this_process)


def _create_instruments(
    meter: Meter, observe: Callable[[Reading], Iterator[Observation]]
) -> list[Any]:
    def callback(reading: Reading) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda _options: list(observe(reading))

    def counter(name: str, unit: str, description: str, reading: Reading) -> Any:
        return meter.create_observable_counter(
            name, [callback(reading)], unit=unit, description=description
        )

    return [
        counter("memo.hits", "{hit}", "Cache hits, by tier (l1: in-process, l2: Redis).", _hits),
        counter("memo.misses", "{miss}", "Lookups that found nothing.", _field("misses")),
        counter("memo.errors", "{error}", "Calls on which a tier degraded, by class.", _errors),
        counter(
            "memo.waits", "{wait}", "Misses served by another caller's compute.", _field("waits")
        ),
        counter("memo.refreshes", "{refresh}", "Recomputations of entries.", _field("refreshes")),
        counter("memo.stale", "{entry}", "Stale entries served during a refresh.", _field("stale")),
        counter("memo.compute_time", "s", "Time spent in the function.", _field("compute_time")),
        meter.create_observable_gauge(
            "memo.hit_ratio",
            [callback(_field("hit_rate"))],
            unit="1",
            description="hits / (hits + misses).",
        ),
    ]


def _field(name: str) -> Reading:
    def reading(function: str, stats: Stats) -> Iterable[tuple[float, dict[str, str]]]:
        return [(getattr(stats, name), {"function": function})]

    return reading


def _hits(function: str, stats: Stats) -> Iterable[tuple[float, dict[str, str]]]:
    return [
        (stats.l1_hits, {"function": function, "tier": "l1"}),
        (stats.l2_hits, {"function": function, "tier": "l2"}),
    ]


def _errors(function: str, stats: Stats) -> Iterable[tuple[float, dict[str, str]]]:
    return [
        (count, {"function": function, "error_class": kind})
        for kind, count in sorted(errors_by_class(stats).items())
    ]
