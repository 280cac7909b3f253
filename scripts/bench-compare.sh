#!/usr/bin/env bash
# Run bench suites against two source trees back to back: memo from each tree, bench/ from
# this one. Usage: scripts/bench-compare.sh [--quick] [--repeats N] [--rounds N] [--keep]
#                  BEFORE_TREE AFTER_TREE [SUITES]   (e.g. /work/base /work/main l1,l2,miss)
# The interpreter: $PYTHON, else the .venv of this checkout or of the main worktree.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    common="$(git -C "$here" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
    for candidate in "$here/.venv/bin/python" "${common:+$(dirname "$common")/.venv/bin/python}"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            PYTHON="$candidate"
            break
        fi
    done
fi
exec "${PYTHON:-python3}" "$here/scripts/bench_compare.py" --python "${PYTHON:-python3}" "$@"
