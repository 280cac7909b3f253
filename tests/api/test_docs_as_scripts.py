"""Every page's examples also run as a plain script: `python page.py`, where the module is
`__main__`, not the `app` module that tests/api/test_docs.py runs them in.

A reader copies a page's blocks into a file and runs it; nothing in them may depend on the
module's name. On a `<!-- needs-redis -->` page the script starts by setting `REDIS_URL` and
`NAMESPACE`, as the reader would write their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_docs import PAGES, REDIS_PAGES, ROOT, collect

SCRIPT_PAGES = [page for page in PAGES if any(not block.skip for block in collect(page))]


def script_of(page: Path, bindings: str) -> str:
    """The page's runnable blocks, top to bottom, after bindings."""
    sources = [block.source for block in collect(page) if not block.skip]
    return bindings + "\n".join(sources)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", SCRIPT_PAGES, ids=[page.name for page in SCRIPT_PAGES])
def test_page_runs_as_a_plain_script(
    page: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`python page.py` with the page's examples exits 0."""
    bindings = ""
    if page in REDIS_PAGES:
        redis_url = request.getfixturevalue("redis_url")
        namespace = request.getfixturevalue("namespace")
        bindings = f"REDIS_URL = {redis_url!r}\nNAMESPACE = {namespace!r}\n"
    script = tmp_path / f"{page.stem.replace('-', '_')}_example.py"
    script.write_text(script_of(page, bindings), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEMO_REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, f"{page.name} as a script failed:\n{done.stderr[-4000:]}"
