"""Plain-text tables and target verdicts (informative only: a MISS never fails the run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SuiteResult", "Table", "Target", "verdict"]


@dataclass(frozen=True)
class Target:
    """`memo / peer <= limit` for one peer in one table."""

    peer: str
    limit: float

    def describe(self) -> str:
        """E.g. '<= 0.50x'."""
        return f"<= {self.limit:.2f}x"


def verdict(value: float, limit: float) -> str:
    """PASS when `value <= limit`, else MISS with the overshoot in percent."""
    if value <= limit:
        return "PASS"
    return f"MISS (+{(value / limit - 1) * 100:.0f}%)"


@dataclass
class Table:
    """A titled grid of strings with notes under it."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Left-aligned first column, right-aligned others, two spaces between."""
        grid = [list(self.header), *(list(row) for row in self.rows)]
        widths = [max(len(row[i]) for row in grid) for i in range(len(self.header))]
        lines = [self.title, "-" * len(self.title)]
        for row in grid:
            cells = [
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        lines.extend(f"  * {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass
class SuiteResult:
    """What a suite hands back: tables to print and numbers for `--json`."""

    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
