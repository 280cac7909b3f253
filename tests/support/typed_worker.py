"""A child process of the typed cross-process test: writes every typed case, then exits.

Run as `python -m tests.support.typed_worker REDIS_URL NAMESPACE`. The cached functions live in
`tests.support.typed_values` (not in this `__main__`), so their keys are the parent's.
"""

from __future__ import annotations

import sys

from tests.support.typed_values import write_all

if __name__ == "__main__":
    write_all(sys.argv[1], sys.argv[2])
