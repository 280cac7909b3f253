"""`python -m memo`: the command line (see `memo._cli`)."""

from __future__ import annotations

from memo._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
