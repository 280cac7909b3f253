"""`python -m memo`: the command line (see `memo._cli.app`)."""

from __future__ import annotations

from memo._cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
