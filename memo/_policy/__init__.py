"""The caching policy, free of I/O: operations, the Plan, the flows, entries and counters."""
