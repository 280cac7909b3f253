"""The demo's workload, data source, report and plot (`memo demo`)."""
