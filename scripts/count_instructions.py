"""Count the machine instructions memo runs per operation, in one or more source trees.

    python scripts/count_instructions.py [--cases l2_hit,l2_miss_async,l1_miss,...] TREE [TREE ...]

Wall time on a shared 2-core VM moves by 10-30% between processes (the raw redis-py GET
alone ran at 110-190 us here), so a regression of a few percent hides in it. An instruction
count does not: each case runs under valgrind's cachegrind twice, with a short and a long
loop of the same operation, and the difference of the two counts over the difference of the
loop lengths is the cost of one operation (start-up, imports and warm-up cancel out). With
PYTHONHASHSEED fixed, repeated counts agree within about 1%; an L2 case varies a little
more, with how the socket reads split.

memo is imported from each TREE (a checkout or a git worktree holding `memo/`); the L2 cases
use a private redis-server on loopback (tests/support/redis_servers.py). Instructions are not
time: they leave out the kernel's share of a Redis round trip and cache misses, and valgrind's
CPU has no SHA extensions, so HMAC-SHA256 counts several times its real share. Compare trees
with it; quote wall time (`make bench`, scripts/bench-compare.sh) for speed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

_MISS = """
import sys, itertools, memo
@memo.cached(ttl=300{})
def f(a, b):
    return a
c = itertools.count()
for _ in range(12_000): f(next(c), "x")
for _ in range(int(sys.argv[1])): f(next(c), "x")
"""
_L2_STORE = """
import asyncio, itertools, sys, uuid, memo
# a namespace of its own: every run's keys are new to the server (its misses stay misses)
l2 = memo.RedisStore(sys.argv[2], namespace=uuid.uuid4().hex, secret="s")
store = memo.TieredStore(memo.MemoryStore(), l2)
c = itertools.count()
"""
_L2_MISS = (
    _L2_STORE
    + """
@memo.cached(ttl=60, store=store, lock={lock})
def f(a, b):
    return {{"a": a, "b": b, "pad": "x" * 150}}
for _ in range(50): f(next(c), "x")
for _ in range(int(sys.argv[1])): f(next(c), "x")
"""
)
_L2_MISS_ASYNC = (
    _L2_STORE
    + """
@memo.cached(ttl=60, store=store, lock={lock})
async def f(a, b):
    return {{"a": a, "b": b, "pad": "x" * 150}}
async def main():
    for _ in range(50): await f(next(c), "x")
    for _ in range(int(sys.argv[1])): await f(next(c), "x")
asyncio.run(main())
"""
)
# name -> (what it does, loop lengths, the script: argv[1] is the loop length, argv[2] a URL)
CASES: dict[str, tuple[str, tuple[int, int], str]] = {
    "l1_hit": (
        "L1 hit, f(1, 'x')",
        (2_000, 12_000),
        """
import sys, memo
@memo.cached(ttl=300)
def f(a, b):
    return a
for _ in range(50): f(1, "x")
for _ in range(int(sys.argv[1])): f(1, "x")
""",
    ),
    "l1_miss": ("L1 miss of a full store, single-flight", (1_000, 5_000), _MISS.format("")),
    "l1_miss_nolock": (
        "L1 miss of a full store, lock=False",
        (1_000, 5_000),
        _MISS.format(", lock=False"),
    ),
    "l2_hit": (
        "L2 hit over a RedisStore, signed, ~200-byte dict",
        (500, 3_500),
        """
import sys, memo
store = memo.RedisStore(sys.argv[2], namespace="instructions", secret="s")
@memo.cached(ttl=300, store=store)
def f(a, b):
    return {"a": a, "b": b, "pad": "x" * 150}
for _ in range(50): f(1, "x")
for _ in range(int(sys.argv[1])): f(1, "x")
""",
    ),
    "l2_hit_async": (
        "L2 hit over a RedisStore, async def, one event loop",
        (500, 3_500),
        """
import asyncio, sys, memo
store = memo.RedisStore(sys.argv[2], namespace="instructions", secret="s")
@memo.cached(ttl=300, store=store)
async def f(a, b):
    return {"a": a, "b": b, "pad": "x" * 150}
async def main():
    for _ in range(50): await f(1, "x")
    for _ in range(int(sys.argv[1])): await f(1, "x")
asyncio.run(main())
""",
    ),
    "l2_miss": (
        "L2 miss over a TieredStore, signed, single-flight",
        (300, 1_300),
        _L2_MISS.format(lock=True),
    ),
    "l2_miss_async": (
        "L2 miss over a TieredStore, async def, single-flight",
        (300, 1_300),
        _L2_MISS_ASYNC.format(lock=True),
    ),
    "l2_miss_async_nolock": (
        "L2 miss over a TieredStore, async def, lock=False",
        (300, 1_300),
        _L2_MISS_ASYNC.format(lock=False),
    ),
    "raw_miss": (
        "redis-py GET (a miss) + SET of a pickled value: the baseline of l2_miss",
        (300, 1_300),
        """
import itertools, pickle, sys, uuid, redis
r, c, prefix = redis.Redis.from_url(sys.argv[2]), itertools.count(), uuid.uuid4().hex
def f(a, b):
    key = f"{prefix}:{a}"
    if r.get(key) is None:
        r.set(key, pickle.dumps({"a": a, "b": b, "pad": "x" * 150}), ex=60)
for _ in range(50): f(next(c), "x")
for _ in range(int(sys.argv[1])): f(next(c), "x")
""",
    ),
    "raw_miss_async": (
        "redis.asyncio GET (a miss) + SET of a pickled value: the baseline of l2_miss_async",
        (300, 1_300),
        """
import asyncio, itertools, pickle, sys, uuid, redis.asyncio
c, prefix = itertools.count(), uuid.uuid4().hex
async def main():
    r = redis.asyncio.Redis.from_url(sys.argv[2])
    async def f(a, b):
        key = f"{prefix}:{a}"
        if await r.get(key) is None:
            await r.set(key, pickle.dumps({"a": a, "b": b, "pad": "x" * 150}), ex=60)
    for _ in range(50): await f(next(c), "x")
    for _ in range(int(sys.argv[1])): await f(next(c), "x")
asyncio.run(main())
""",
    ),
}
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _count(tree: Path, script: Path, loops: int, url: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    env.pop("PYTHONSAFEPATH", None)
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            str(script),
            str(loops),
            url,
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{script.name} in {tree} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_operation(tree: Path, case: str, workdir: Path, url: str) -> float:
    """Instructions per operation of case, memo imported from tree."""
    _, (short, long), source = CASES[case]
    script = workdir / f"{case}.py"
    script.write_text(source, encoding="utf-8")
    return (_count(tree, script, long, url) - _count(tree, script, short, url)) / (long - short)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="source trees holding memo/")
    parser.add_argument("--cases", default=",".join(CASES), help=f"of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    for tree in args.trees:
        if not (tree / "memo" / "__init__.py").is_file():
            parser.error(f"{tree}: no memo/__init__.py there")
    server = None
    url = ""
    if any(c.startswith(("l2", "raw")) for c in cases):
        from tests.support.redis_servers import RedisServer  # noqa: PLC0415 (only for L2)

        server = RedisServer().start()
        url = server.url
    try:
        with tempfile.TemporaryDirectory(prefix="memo-instructions-") as workdir:
            header = f"{'case':<22}" + "".join(f"{t.name:>14}" for t in args.trees)
            if len(args.trees) > 1:
                header += f"{'last/first':>12}"
            print(header)
            for case in cases:
                counts = [per_operation(t, case, Path(workdir), url) for t in args.trees]
                row = f"{case:<22}" + "".join(f"{c:>14,.0f}" for c in counts)
                if len(counts) > 1:
                    row += f"{counts[-1] / counts[0]:>12.3f}"
                print(row, flush=True)
            print("instructions per operation (cachegrind, PYTHONHASHSEED=0);", end=" ")
            print("; ".join(f"{c}: {CASES[c][0]}" for c in cases))
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
