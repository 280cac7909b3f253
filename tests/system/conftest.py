"""The system suite's run summary: the fault matrix's worst call per fault."""

from __future__ import annotations

from typing import Any

from tests.support.fault_matrix import report_path, table


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fault matrix's table (when it ran) and write it to its report file."""
    text = table()
    if not text:
        return
    path = report_path()
    with open(path, "w", encoding="utf-8") as report:
        report.write(text + "\n")
    terminalreporter.section("fault matrix: worst call per case (one socket timeout = 0.2 s)")
    terminalreporter.write_line(text)
    terminalreporter.write_line(f"(written to {path})")
