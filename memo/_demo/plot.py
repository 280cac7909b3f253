"""`memo demo --plot FILE.png`: each scenario's latency distribution and its database calls.

Latencies span five orders of magnitude (a microsecond L1 hit, a 20 ms query), so the axis is
logarithmic. Each box covers the middle half of the calls with a line at the median; the
whiskers reach the 1st and 99th percentiles; a diamond marks the slowest call after warm-up
(the wait a refresh-ahead caller never has once the key is warm); the text at the right gives
p50, p99 and that slowest call. Colours group the scenarios: uncached, cached, the patterns
and the stampede. A second panel shows each scenario's database calls per call, where the
stampede's point lies (one query for all threads with single-flight). matplotlib is the
optional `plot` extra, drawn with the Agg backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from memo._demo import workload as _demo
from memo._demo.db import ProductDB
from memo._demo.workload import ScenarioResult, percentile
from memo._errors import ConfigurationError
from memo._policy.stats import Stats

__all__ = ["FORMATS", "Row", "plot_latencies", "recording", "require_matplotlib"]

FORMATS = (".png", ".svg", ".pdf")
_FLOOR_MS = 1e-4  # 0.1 us: a log axis cannot show 0
_GROUPS = (  # (scenario name prefix, colour, legend), first match wins
    ("uncached", "#9e9e9e", "no cache"),
    ("cached", "#1f78b4", "@cached"),
    ("write-through", "#1b9e77", "write-through, refresh-ahead"),
    ("refresh-ahead", "#1b9e77", "write-through, refresh-ahead"),
    ("stampede", "#d95f02", "stampede (one cold key)"),
)
_OTHER = ("#7570b3", "other")
_INSTALL = "pip install 'memo-cache[plot]'"


def require_matplotlib() -> None:
    """ConfigurationError naming the `plot` extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401, PLC0415 - the optional `plot` extra
    except ImportError as exc:
        raise ConfigurationError(
            f"--plot needs matplotlib, which is not installed: {_INSTALL} (or pip install "
            "matplotlib)"
        ) from exc


class Row(NamedTuple):
    """One scenario: its `memo._demo.workload` name (picks the colour), label, latencies in seconds,
    how many of its first calls are warm-up (left out of the slowest-call marker), and its
    calls and database calls (the bars of the right-hand panel)."""

    name: str
    label: str
    latencies: Sequence[float]
    warmup: int = 1
    calls: int = 0
    db_calls: int = 0


def plot_latencies(rows: Sequence[Row], path: str | Path, *, title: str) -> None:
    """Draw one horizontal box per row, top to bottom, into path (format by its suffix).

    The colour comes from the scenario's name (the workload's names: "uncached",
    "cached-async", "stampede-lock", ...); the label is shown.
    """
    require_matplotlib()
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    rows = [row for row in rows if row.latencies]
    data = [[max(v * 1000, _FLOOR_MS) for v in row.latencies] for row in rows]
    names = [row.name for row in rows]
    slowest = [_slowest(values, row.warmup) for values, row in zip(data, rows, strict=True)]
    figure, (axes, queries) = pyplot.subplots(
        1,
        2,
        figsize=(14, 0.55 * len(rows) + 1.8),
        layout="constrained",
        sharey=True,
        width_ratios=(4, 1),
    )
    try:
        positions = list(range(len(rows), 0, -1))  # the first row at the top
        boxes = axes.boxplot(
            data,
            positions=positions,
            orientation="horizontal",
            whis=(1, 99),
            showfliers=False,
            widths=0.6,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.5},
        )
        legend = _colour(boxes["boxes"], names)
        legend.append(axes.scatter(slowest, positions, marker="d", s=22, c="#c62828", zorder=3))
        legend[-1].set_label("slowest call after warm-up")
        _annotate(axes, data, slowest, positions)
        axes.set_xscale("log")
        axes.set_yticks(positions, [row.label for row in rows])
        axes.set_xlabel(
            "latency per call, ms (log scale)\nbox: p25 to p75, line: median, whiskers: p1 to "
            "p99, diamond: slowest call after warm-up (hot key: after the first TTL window)"
        )
        axes.set_title(title, fontsize=10)
        axes.grid(axis="x", which="major", alpha=0.4)
        axes.grid(axis="x", which="minor", alpha=0.12)
        _draw_db_calls(queries, rows, positions)
        figure.legend(handles=legend, loc="outside lower center", ncols=len(legend), fontsize=8)
        figure.savefig(path, dpi=120)
    finally:
        pyplot.close(figure)


def _draw_db_calls(axes: Any, rows: Sequence[Row], positions: Sequence[int]) -> None:
    """The right-hand panel: database calls per scenario, as a share of its calls.

    This is where the stampede's point shows: with single-flight, one query serves every
    thread; without it, each thread queries. Latency alone hides that.
    """
    shares = [row.db_calls / row.calls if row.calls else 0.0 for row in rows]
    colours = [_group(row.name)[0] for row in rows]
    axes.barh(positions, shares, height=0.6, color=colours, alpha=0.85)
    for share, row, y in zip(shares, rows, positions, strict=True):
        axes.annotate(
            f"{row.db_calls:,} of {row.calls:,}",
            xy=(min(share, 1.0), y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axes.set_xlim(0, 1.45)
    axes.set_xticks([0, 0.5, 1], ["0%", "50%", "100%"])
    axes.set_xlabel("database calls per call\n(stampede, lock=True: 1 for all)")
    axes.grid(axis="x", alpha=0.3)


def _colour(boxes: Sequence[Any], names: Sequence[str]) -> list[Any]:
    """Fill each box by its scenario's group; the legend's handles, one per group used."""
    from matplotlib.patches import Patch  # noqa: PLC0415

    used: dict[str, str] = {}
    for box, name in zip(boxes, names, strict=True):
        colour, legend = _group(name)
        box.set_facecolor(colour)
        box.set_alpha(0.85)
        used.setdefault(legend, colour)
    return [Patch(facecolor=colour, label=legend) for legend, colour in used.items()]


def _group(name: str) -> tuple[str, str]:
    for prefix, colour, legend in _GROUPS:
        if name.startswith(prefix):
            return colour, legend
    return _OTHER


def _annotate(
    axes: Any, data: Sequence[Sequence[float]], slowest: Sequence[float], positions: Sequence[int]
) -> None:
    """p50, p99 and the slowest call of each row, in a column right of the plot."""
    for values, top, y in zip(data, slowest, positions, strict=True):
        ordered = sorted(values)
        p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
        axes.annotate(
            f"p50 {_ms(p50):>8}  p99 {_ms(p99):>8}  max {_ms(top):>8}",
            xy=(1.02, y),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=8,
            family="monospace",
        )


def _slowest(values: Sequence[float], warmup: int) -> float:
    """The slowest call after the warm-up calls (all of them if there are no others)."""
    return max(values[warmup:]) if len(values) > warmup else max(values)


def _ms(value: float) -> str:
    if value >= 1:
        return f"{value:.1f} ms"
    micros = value * 1000
    return f"{micros:.0f} us" if micros >= 100 else f"{micros:.1f} us"


@contextmanager
def recording(samples: dict[str, list[float]]) -> Iterator[None]:
    """Keep every scenario's raw latencies, by scenario name, while the demo runs.

    `memo._demo.workload` keeps percentiles only, so its one result-building function, which every
    scenario calls with its latencies, is wrapped for the length of the block.
    """
    original = _demo._result

    def record(
        name: str,
        label: str,
        db: ProductDB,
        *,
        stats: Stats | None,
        latencies: list[float],
        wall: float,
    ) -> ScenarioResult:
        samples[name] = list(latencies)
        return original(name, label, db, stats=stats, latencies=latencies, wall=wall)

    _demo._result = record
    try:
        yield
    finally:
        _demo._result = original
