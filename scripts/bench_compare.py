"""Run benchmark suites against two source trees back to back and compare memo's medians.

    scripts/bench-compare.sh [--quick] [--repeats N] [--rounds N] [--keep] BEFORE AFTER [SUITES]

BEFORE and AFTER are source trees (checkouts or git worktrees) holding a `memo/` package;
SUITES is a comma-separated list for `python -m bench --only` (default `l1,l2,miss`). memo
is imported from each tree in turn, while the benchmark code (`bench/`, and the Redis helper
`tests/redis_servers.py` it uses) always comes from the tree holding this script, so both
trees are measured by the very same benchmark. For each run a temporary directory holds
three symlinks, `memo -> TREE/memo`, `bench -> HERE/bench` and `tests -> HERE/tests`, and
`python -m bench` runs with that directory as its working directory and on PYTHONPATH:
both come before site-packages, so they shadow an editable install of memo (checked before
each run by importing memo and comparing `memo.__file__` with the tree's).

Both full outputs are printed, then a summary of memo's absolute medians per case (every
case named `memo*` in a suite's `--json` figures) for each tree and the after/before ratio.
With `--rounds N` the pair is run N times in alternating order (before/after, then
after/before, ...) and the summary takes each case's median over the rounds, which evens
out a drift of the machine's load; the runs are never interleaved case by case the way the
peers inside one suite are, so a ratio within a few percent of 1 is noise on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent  # the tree whose bench/ is used
DEFAULT_SUITES = "l1,l2,miss"
CHECK = (
    "import os, sys, memo, bench; "
    "print(os.path.realpath(memo.__file__)); print(os.path.realpath(bench.__file__))"
)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench-compare.sh",
        description="Run bench suites on two source trees (memo from each, bench/ from here).",
    )
    parser.add_argument("before", type=Path, help="the older source tree, e.g. /work/base")
    parser.add_argument("after", type=Path, help="the newer source tree, e.g. /work/main")
    parser.add_argument(
        "suites", nargs="?", default=DEFAULT_SUITES, help=f"default {DEFAULT_SUITES}"
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every run")
    parser.add_argument("--repeats", type=int, help="pass --repeats N to every run")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the pair N times, alternating (default 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter for the runs (default: this one)"
    )
    args = parser.parse_args(argv)
    for tree in (args.before, args.after):
        if not (tree / "memo" / "__init__.py").is_file():
            parser.error(f"{tree}: no memo/__init__.py there")
    if not (1 <= args.rounds <= 10):
        parser.error("--rounds must be 1..10")
    return args


def _describe(tree: Path) -> str:
    """`/work/base @29c5fbf` (+ `dirty` when the tree has uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(tree)
    return f"{tree} @{head}{' (dirty)' if dirty else ''}"


def _stage(root: Path, label: str, tree: Path) -> Path:
    """A directory whose `memo` is the tree's and whose `bench` and `tests` are ours."""
    stage = root / label
    stage.mkdir()
    (stage / "memo").symlink_to(tree.resolve() / "memo")
    (stage / "bench").symlink_to(HERE / "bench")
    (stage / "tests").symlink_to(HERE / "tests")
    return stage


def _env(stage: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(stage)
    env.pop("PYTHONSAFEPATH", None)  # the working directory must stay on sys.path
    return env


def _verify(python: str, stage: Path, tree: Path) -> None:
    """Fail loudly if `import memo` would not load the tree's memo, or bench not ours."""
    found = subprocess.run(
        [python, "-c", CHECK],
        cwd=stage,
        env=_env(stage),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if found.returncode != 0:
        raise SystemExit(f"importing memo from {tree} failed:\n{found.stderr}")
    memo_file, bench_file = found.stdout.split()
    print(f"memo.__file__  -> {memo_file}")
    print(f"bench.__file__ -> {bench_file}")
    if Path(memo_file) != (tree.resolve() / "memo" / "__init__.py").resolve():
        raise SystemExit(f"memo was imported from {memo_file}, not from {tree}: aborting")
    if Path(bench_file) != (HERE / "bench" / "__init__.py").resolve():
        raise SystemExit(f"bench was imported from {bench_file}, not from {HERE}: aborting")


def _run(args: argparse.Namespace, stage: Path, tree: Path, out: Path) -> dict[str, Any]:
    """One `python -m bench` run against one tree; its --json figures."""
    command = [args.python, "-m", "bench", "--only", args.suites, "--json", str(out)]
    if args.quick:
        command.append("--quick")
    if args.repeats is not None:
        command += ["--repeats", str(args.repeats)]
    banner = f"== {_describe(tree)}: {' '.join(command[1:])}"
    print(f"\n{banner}\n{'=' * len(banner)}", flush=True)
    _verify(args.python, stage, tree)
    print(flush=True)
    start = time.monotonic()
    done = subprocess.run(command, cwd=stage, env=_env(stage), check=False, timeout=3600)
    print(f"[{tree}: exit {done.returncode}, {time.monotonic() - start:.0f} s]", flush=True)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"the run against {tree} failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return figures


# -- the summary --------------------------------------------------------------------------------


def _medians(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    """(table path + case, median ns) for every `memo*` case in a suite's JSON."""
    if isinstance(node, dict):
        cases = node.get("cases")
        if isinstance(cases, dict):
            label = (*path[:-1], str(node["call"])) if "call" in node else path
            for name, figures in cases.items():
                if name.startswith("memo") and isinstance(figures, dict):
                    median = figures.get("median_ns")
                    if isinstance(median, int | float):
                        yield (*label, name), float(median)
        for key, value in node.items():
            if key != "cases":
                yield from _medians(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _medians(value, (*path, str(i)))


def _collect(runs: list[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    """Each case's median over the rounds' medians."""
    samples: dict[tuple[str, ...], list[float]] = {}
    for run in runs:
        for suite, data in run.get("suites", {}).items():
            for key, median in _medians(data, (suite,)):
                samples.setdefault(key, []).append(median)
    return {key: statistics.median(values) for key, values in samples.items()}


def _format_ns(ns: float) -> str:
    if ns >= 10_000:
        return f"{ns / 1000:,.1f} us"
    return f"{ns:,.1f} ns"


def _summary(
    before: dict[tuple[str, ...], float], after: dict[tuple[str, ...], float], rounds: int
) -> str:
    rows = [["suite", "table", "case", "before", "after", "after/before"]]
    for key in list(before) + [k for k in after if k not in before]:
        suite, *table, case = key
        b, a = before.get(key), after.get(key)
        ratio = f"{a / b:.2f}" if a is not None and b else ""
        rows.append(
            [
                suite,
                " / ".join(p for p in table if p not in ("groups",)) or "-",
                case,
                _format_ns(b) if b is not None else "(absent)",
                _format_ns(a) if a is not None else "(absent)",
                ratio,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = zip(row, widths, strict=True)
        lines.append(
            "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(cells))
        )
    over = f"median over {rounds} alternating rounds of " if rounds > 1 else ""
    lines.append(
        f"  * {over}each run's median per call; after/before < 1 means the after tree is faster."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    trees = {"before": args.before, "after": args.after}
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    root = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        stages = {label: _stage(root, label, tree) for label, tree in trees.items()}
        for round_ in range(args.rounds):
            order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            for label in order:
                out = root / f"{label}-{round_}.json"
                runs[label].append(_run(args, stages[label], trees[label], out))
        title = (
            f"Summary: memo's medians, before = {_describe(args.before)}, "
            f"after = {_describe(args.after)}; bench/ from {HERE}"
        )
        print(f"\n{title}\n{'-' * len(title)}")
        print(_summary(_collect(runs["before"]), _collect(runs["after"]), args.rounds))
    finally:
        if args.keep:
            print(f"\n(kept {root}: the symlink directories and every run's --json)")
        else:
            shutil.rmtree(root)  # unlinks the symlinks, never follows them
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
