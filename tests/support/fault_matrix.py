"""The fault matrix's measurements: the worst call of each case, kept for the run's summary.

tests/system/test_fault_matrix.py records one figure per (fault, colour, state, lock, layout);
tests/system/conftest.py prints `table()` at the end of the run (and it is written to
`report_path()`), so "the worst call per fault" can be quoted from any run's output.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

__all__ = ["Case", "record", "report_path", "table", "worst_by_fault"]


@dataclass(frozen=True)
class Case:
    """One cell of the matrix."""

    fault: str
    colour: str  # "sync" | "async"
    state: str  # "hit" | "miss"
    lock: bool
    layout: str  # "l1+l2" | "l2"


WORST: dict[Case, tuple[float, int]] = {}  # case -> (worst call in seconds, calls measured)


def record(case: Case, latencies: list[float]) -> float:
    """Keep the worst of latencies for case; return it."""
    worst = max(latencies, default=0.0)
    WORST[case] = (worst, len(latencies))
    return worst


def worst_by_fault() -> dict[str, tuple[float, Case]]:
    """The worst call of each fault over every case measured, and the case it came from."""
    worst: dict[str, tuple[float, Case]] = {}
    for case, (seconds, _) in WORST.items():
        if case.fault not in worst or seconds > worst[case.fault][0]:
            worst[case.fault] = (seconds, case)
    return worst


def table() -> str:
    """The measured cases as a text table, then the worst call per fault ("" if none)."""
    if not WORST:
        return ""
    lines = ["fault       colour state lock  layout  worst(ms) calls"]
    for case, (seconds, calls) in sorted(WORST.items(), key=lambda item: _order(item[0])):
        lock = "on" if case.lock else "off"
        lines.append(
            f"{case.fault:<11} {case.colour:<6} {case.state:<5} {lock:<5} {case.layout:<7} "
            f"{seconds * 1000:9.1f} {calls:5d}"
        )
    lines.append("worst call per fault:")
    for fault, (seconds, case) in sorted(worst_by_fault().items()):
        where = f"{case.colour} {case.state} lock={'on' if case.lock else 'off'} {case.layout}"
        lines.append(f"  {fault:<11} {seconds * 1000:7.1f} ms  ({where})")
    return "\n".join(lines)


def report_path() -> str:
    """Where the table is written at the end of a run."""
    return os.path.join(tempfile.gettempdir(), f"memo-fault-matrix-{os.getpid()}.txt")


_FAULT_ORDER = ("latency", "freeze", "drop", "half-close", "sigstop", "noperm")


def _order(case: Case) -> tuple[int, str, str, bool, str]:
    rank = _FAULT_ORDER.index(case.fault) if case.fault in _FAULT_ORDER else len(_FAULT_ORDER)
    return rank, case.colour, case.state, case.lock, case.layout
