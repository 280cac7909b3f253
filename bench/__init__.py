"""memo's benchmark suites: `python -m bench [--quick] [--only l1,memory] [--json FILE]`.

Each suite is a module with `run(Settings) -> SuiteResult`, registered in `bench.__main__`.
Targets are informative: a MISS is printed, never turned into a failing exit status.
"""
