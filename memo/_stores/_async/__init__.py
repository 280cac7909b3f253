"""The stores' I/O code in one colour (the async one is the source: scripts/unasync.py)."""
