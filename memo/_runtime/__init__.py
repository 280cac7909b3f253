"""Per-function runtime: the core, the drivers, single-flight, refresher, warm, settings."""
