"""Every ```python block in docs/*.md and README.md runs, page by page, in order.

The blocks of one page run top to bottom in one fresh namespace, so a block can use what the
blocks above it defined and cached. That namespace is a module named `app` (cache keys read
`memo:default:app.get_user:...`), and each page starts from `memo.configure()` and the real
clock. A block that is not meant to run has the line `<!-- skip-example -->` right above its
fence; there are only a few. tests/api/test_docs_as_scripts.py runs each page once more as a
plain script (module `__main__`), so no example depends on the module's name.

A page whose first line is `<!-- needs-redis -->` runs against the test Redis server: its
namespace starts with `REDIS_URL` (the `redis_url` fixture: the session server, as an ACL user
limited to `memo:*`) and `NAMESPACE` (a namespace of that page's run) already bound. Stores
the page makes stay open from block to block and are closed when the next page starts.
"""

from __future__ import annotations

import gc
import re
import sys
import types
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._clock import CLOCK
from memo._redis.store import _STORES

ROOT = Path(__file__).resolve().parents[2]
PAGES = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md")
SKIP_MARK = "<!-- skip-example -->"
REDIS_MARK = "<!-- needs-redis -->"
MAX_SKIPPED = 3
MODULE = "app"
_OPEN = re.compile(r"^```(?:python|py)\b")
_INDENTED_OPEN = re.compile(r"^[ \t]+```(?:python|py)\b")
_CLOSE = re.compile(r"^```\s*$")


@dataclass(frozen=True)
class Block:
    """One ```python fence: where it is, its source, and whether it is marked to skip."""

    page: Path
    index: int
    line: int  # line of the first source line, 1-based
    source: str
    skip: bool

    @property
    def name(self) -> str:
        """`page.md:line`, the test id."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def collect(page: Path) -> list[Block]:
    """The ```python blocks of a Markdown page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        if not _OPEN.match(lines[number]):
            number += 1
            continue
        start = number + 1
        end = start
        while end < len(lines) and not _CLOSE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{page}:{number + 1}: ```python fence is never closed")
        above = [line for line in lines[:number] if line.strip()]
        skip = bool(above) and above[-1].strip() == SKIP_MARK
        source = "\n".join(lines[start:end]) + "\n"
        blocks.append(Block(page, len(blocks), start + 1, source, skip))
        number = end + 1
    return blocks


def needs_redis(page: Path) -> bool:
    """Whether the page's first non-blank line is the `<!-- needs-redis -->` mark."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return line.strip() == REDIS_MARK
    return False


BLOCKS = [block for page in PAGES for block in collect(page)]
REDIS_PAGES = frozenset(page for page in PAGES if needs_redis(page))
Bindings = Callable[[], Mapping[str, Any]]


class PageRun:
    """The namespace of the page being run and how many of its blocks have run in it."""

    def __init__(self) -> None:
        self.page: Path | None = None
        self.ran = 0
        self.module = types.ModuleType(MODULE)
        self.stores_before: weakref.WeakSet[Any] = weakref.WeakSet(_STORES)

    def start(self, page: Path, bindings: Mapping[str, Any]) -> None:
        """A fresh module, a fresh default store and the real clock, for a new page."""
        self.page, self.ran = page, 0
        self.close_stores()
        self.module = types.ModuleType(MODULE)
        self.module.__dict__.update(bindings)
        sys.modules[MODULE] = self.module
        gc.collect()  # the previous page's functions leave memo.stats()
        CLOCK.reset()
        memo.configure()

    def close_stores(self) -> None:
        """Close the RedisStores made since the last page started (their threads stop)."""
        for store in list(_STORES):
            if store not in self.stores_before:
                store.close()
        self.stores_before = weakref.WeakSet(_STORES)

    def run(self, block: Block) -> None:
        """Execute block in the page's namespace, reporting errors at the Markdown line."""
        self.ran = -1  # until it succeeds: a failed block leaves the namespace unknown
        source = "\n" * (block.line - 1) + block.source
        code = compile(source, str(block.page), "exec", dont_inherit=True)
        exec(code, self.module.__dict__)
        self.ran = block.index + 1


_RUN = PageRun()


@pytest.fixture(scope="module", autouse=True)
def _module_teardown() -> Iterator[None]:
    """Leaves memo, the clock and sys.modules as other test modules expect them."""
    yield
    sys.modules.pop(MODULE, None)
    CLOCK.reset()
    memo.configure()
    _RUN.close_stores()


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    """Overrides conftest's per-test reset: the blocks of one page share the store."""
    yield


@pytest.fixture(autouse=True)
def close_new_redis_stores() -> Iterator[None]:
    """Overrides conftest's per-test closing: a page's stores live until the next page."""
    yield


def _bindings(block: Block, request: pytest.FixtureRequest) -> Bindings:
    """The names a page starts with: REDIS_URL and NAMESPACE on a `needs-redis` page."""

    def bind() -> Mapping[str, Any]:
        if block.page not in REDIS_PAGES:
            return {}
        return {
            "REDIS_URL": request.getfixturevalue("redis_url"),
            "NAMESPACE": request.getfixturevalue("namespace"),
        }

    return bind


def _prepare(block: Block, bindings: Bindings) -> None:
    """Bring the page's namespace to the state just above block, replaying if needed."""
    if _RUN.page == block.page and _RUN.ran == block.index:
        return
    _RUN.start(block.page, bindings())
    for earlier in BLOCKS:
        if earlier.page == block.page and earlier.index < block.index and not earlier.skip:
            try:
                _RUN.run(earlier)
            except Exception as exc:
                pytest.fail(f"an earlier block failed: {earlier.name}: {exc!r}")
    _RUN.ran = block.index


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_example(block: Block, request: pytest.FixtureRequest) -> None:
    """The ```python block runs without error after the blocks above it on its page."""
    if block.skip:
        if _RUN.page == block.page and _RUN.ran == block.index:
            _RUN.ran += 1
        pytest.skip(f"marked {SKIP_MARK}")
    _prepare(block, _bindings(block, request))
    _RUN.run(block)


def test_pages_have_examples() -> None:
    """The collector finds examples in the README and in the docs pages."""
    pages = {block.page for block in BLOCKS}
    assert ROOT / "README.md" in pages
    assert len(pages) >= 6


def test_few_examples_are_skipped() -> None:
    """At most a few blocks are marked <!-- skip-example -->."""
    skipped = [block.name for block in BLOCKS if block.skip]
    assert len(skipped) <= MAX_SKIPPED, skipped


def test_redis_pages_have_examples() -> None:
    """Pages marked <!-- needs-redis --> exist, and each has examples to run against Redis."""
    assert REDIS_PAGES
    pages = {block.page for block in BLOCKS}
    assert pages >= REDIS_PAGES, sorted(str(page) for page in REDIS_PAGES - pages)


def test_no_misplaced_redis_mark() -> None:
    """The <!-- needs-redis --> mark counts only as a page's first line; it appears nowhere else."""
    misplaced = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip() == REDIS_MARK and number != _first(page)
    ]
    assert not misplaced, misplaced


def _first(page: Path) -> int:
    """The 1-based number of the page's first non-blank line."""
    lines = page.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip())


def test_no_hidden_python_blocks() -> None:
    """No ```python fence is indented, where the collector would not see it."""
    hidden = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if _INDENTED_OPEN.match(line)
    ]
    assert not hidden, hidden
