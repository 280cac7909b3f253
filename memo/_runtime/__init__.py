"""Per-function runtime: the core, the drivers, single-flight, refresher, warm, settings.

The I/O code that exists in two colours is written once, in `_async/`; `_sync/` is generated
from it by scripts/unasync.py (`--check` in `make lint` proves it current).
"""
