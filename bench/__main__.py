"""Command line: pick suites from the registry, run them, print tables, optionally dump JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from bench._report import SuiteResult
from bench._settings import Settings

Suite = Callable[[Settings], SuiteResult]
# Suite name -> module with a `run(settings)`, imported only when chosen: a suite that reaches
# into memo's internals then does not stop the others from running against an older tree
# (scripts/bench-compare.sh).
SUITES: dict[str, str] = {
    "l1": "bench.l1_hit",
    "memory": "bench.memory",
    "eviction": "bench.eviction",
    "l2": "bench.l2_hit",
    "miss": "bench.miss",
    "stampede": "bench.stampede",
    "write_behind": "bench.write_behind",
    "scaling": "bench.scaling",
    "refresh": "bench.refresh",
    "array": "bench.array_key",
    "typed": "bench.typed",
    "tags": "bench.tags",
}


def suite(name: str) -> Suite:
    """The `run` function of the suite called name."""
    run: Suite = importlib.import_module(SUITES[name]).run
    return run


PACKAGES = (
    "memo-cache",
    "cachetools",
    "cachebox",
    "async-lru",
    "redis",
    "dogpile.cache",
    "cashews",
    "aiocache",
)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke test")
    parser.add_argument("--repeats", type=int, help="repeats per case (default 15, quick 5)")
    parser.add_argument(
        "--only", default=",".join(SUITES), help=f"comma-separated suites from {sorted(SUITES)}"
    )
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    unknown = set(_names(args.only)) - set(SUITES)
    if unknown:
        parser.error(f"--only: unknown suite(s) {sorted(unknown)}; choose from {sorted(SUITES)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _names(only: str) -> list[str]:
    """`l1, memory` -> ['l1', 'memory']."""
    return [name.strip() for name in only.split(",") if name.strip()]


def _versions() -> dict[str, str]:
    """Installed versions of memo and its peers."""
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    if found["memo-cache"] == "not installed":
        import memo

        found["memo-cache"] = f"{memo.__version__} (source tree)"
    return found


def _memo_source() -> str:
    """The directory memo is imported from (an installed memo-cache may not be what runs)."""
    import memo

    return os.path.dirname(os.path.realpath(memo.__file__))


def _meta(settings: Settings) -> dict[str, Any]:
    """Where and how the numbers were taken."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "versions": _versions(),
        "memo_source": _memo_source(),
        "repeats": settings.repeats,
        "quick": settings.quick,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen suites; always exit 0 unless a suite crashes."""
    args = _parse(argv)
    settings = Settings.make(quick=args.quick, repeats=args.repeats)
    meta = _meta(settings)
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    print(f"Python {meta['python']} on {meta['platform']}; {versions}")
    print(f"memo imported from {meta['memo_source']}\n")
    report: dict[str, Any] = {"meta": meta, "suites": {}}
    for name in _names(args.only):
        start = time.perf_counter()
        result = suite(name)(settings)
        for table in result.tables:
            print(table.render(), end="\n\n")
        print(f"[suite {name}: {time.perf_counter() - start:.1f} s]\n")
        report["suites"][name] = result.data
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
