"""The pytest plugin (memo/pytest_plugin.py), run on generated test files with `pytester`.

Each test writes a small test module and runs pytest on it in-process with the plugin loaded
by `-p memo.pytest_plugin`; entry-point autoloading is off in those runs, so they behave the
same whether or not memo is installed. Needs the `pytester` plugin (`-p pytester`).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ("-p", "memo.pytest_plugin")
# In-process runs meet memo.pytest_plugin already imported, too late for assertion rewriting.
STRICT = (
    "--strict-markers",
    "-p",
    "no:cacheprovider",
    "-W",
    "error",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)


@pytest.fixture(autouse=True)
def no_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated runs load only the plugins they name, installed or not."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("MEMO_REDIS_URL", raising=False)
    monkeypatch.delenv("MEMO_SECRET", raising=False)


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Write source as test_generated.py and run pytest on it with the plugin loaded."""
    pytester.makepyfile(test_generated=textwrap.dedent(source))
    return pytester.runpytest(*PLUGIN, *STRICT, *args)


def test_entry_point_is_declared() -> None:
    """pyproject.toml registers memo.pytest_plugin under the pytest11 entry point `memo`."""
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"memo": "memo.pytest_plugin"}
    plugin = importlib.import_module(project["entry-points"]["pytest11"]["memo"])
    fixtures = ("memo_namespace", "memo_disabled", "memo_clock", "pytest_configure")
    assert all(callable(getattr(plugin, name)) for name in fixtures)


def test_entry_point_loads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed with its pytest11 entry point, the plugin is active with no -p or conftest."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [f"{name} = {target}" for name, target in project["entry-points"]["pytest11"].items()]
    dist = pytester.mkdir("memo_cache_under_test-0.0.dist-info")
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memo-cache-under-test\nVersion: 0\n"
    )
    (dist / "entry_points.txt").write_text("[pytest11]\n" + "\n".join(lines) + "\n")
    pytester.syspathinsert()
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    pytester.makepyfile(
        test_generated='''
        import memo.pytest_plugin


        def test_loaded(request, memo_clock):
            """The entry point registered the plugin as `memo`, and its fixtures work."""
            assert request.config.pluginmanager.get_plugin("memo") is memo.pytest_plugin
            memo_clock.advance(1)
        '''
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=1)


def test_import_has_no_side_effects() -> None:
    """Importing the plugin configures nothing, installs no clock and starts no thread."""
    code = textwrap.dedent(
        """
        import threading, time
        import memo
        from memo._clock import CLOCK
        from memo._runtime.settings import settings
        from memo._runtime.disabled import ACTIVE
        store, threads = settings.store, threading.active_count()
        import memo.pytest_plugin
        assert settings.store is store and settings.namespace == "default"
        assert CLOCK.monotonic is time.monotonic and ACTIVE == [0]
        assert threading.active_count() == threads
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


NAMESPACE_TESTS = '''
import pytest

import memo
from memo._runtime.settings import settings
from memo._keys.builder import valid_segment

calls = []
seen = {}


@memo.cached(ttl=60)
def double(x):
    calls.append(x)
    return 2 * x


def test_first(memo_namespace):
    """The fixture configures memo with the namespace it yields, named after the test."""
    seen["first"] = memo_namespace
    assert settings.namespace == memo_namespace and valid_segment(memo_namespace)
    assert memo_namespace.startswith("test_first-") and len(memo_namespace) <= 64
    assert double.cache_key(21).startswith(f"memo:{memo_namespace}:")
    assert double(21) == 42 and double(21) == 42
    assert calls == [21]


def test_second(memo_namespace):
    """Another test gets another namespace, and does not see the first test's entry."""
    assert memo_namespace != seen["first"]
    assert double(21) == 42
    assert calls == [21, 21]


def test_fails(memo_namespace):
    """A failing test (expected to fail here)."""
    raise AssertionError("on purpose")


def test_default_afterwards():
    """Without the fixture, memo is back to the default namespace, even after a failure."""
    assert settings.namespace == "default"


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(memo_namespace, n):
    """A parametrized test id still makes a valid namespace."""
    assert valid_segment(memo_namespace) and memo_namespace.startswith(f"test_parametrized-{n}-")
'''


def test_memo_namespace_isolates_tests(pytester: pytest.Pytester) -> None:
    """memo_namespace: a unique namespace per test, a fresh store, and the default afterwards."""
    result = run(pytester, NAMESPACE_TESTS)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_generated.py::test_fails*"])


REDIS_NAMESPACE_TESTS = '''
import memo
from memo._runtime.settings import settings

calls = []
seen = {}


@memo.cached(ttl=60)
def double(x):
    calls.append(x)
    return 2 * x


def test_first(memo_namespace):
    """The namespace is L1 over the Redis of MEMO_REDIS_URL, signing with MEMO_SECRET."""
    seen["first"] = memo_namespace
    store = settings.store
    assert isinstance(store, memo.TieredStore) and store.redis.namespace == memo_namespace
    assert double(21) == 42
    raw = store.redis.client.execute_command("GET", double.cache_key(21))
    assert store.redis.codec.header(raw).signed
    assert calls == [21]


def test_second(memo_namespace):
    """Same server, another namespace: the first test's entry in Redis is not seen."""
    assert memo_namespace != seen["first"]
    assert double(21) == 42
    assert calls == [21, 21]
    assert double.stats.l2_hits == 0


def test_control():
    """The first test's namespace still holds its entry in Redis: isolation is the namespace."""
    memo.configure(namespace=seen["first"])
    try:
        assert double(21) == 42
        assert calls == [21, 21]
        assert double.stats.l2_hits == 1
    finally:
        memo.configure()
'''


def test_memo_namespace_isolates_tests_on_redis(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    """With MEMO_REDIS_URL, tests sharing one Redis never see each other's entries."""
    monkeypatch.setenv("MEMO_REDIS_URL", redis_url)
    monkeypatch.setenv("MEMO_SECRET", "plugin-test-secret")
    result = run(pytester, REDIS_NAMESPACE_TESTS)
    result.assert_outcomes(passed=3)


DISABLED_TESTS = '''
import pytest

import memo

calls = []


@memo.cached
def square(x):
    calls.append(x)
    return x * x


def test_fixture(memo_disabled):
    """Inside the fixture every call runs the function and the cache counts nothing."""
    assert square(3) == 9 and square(3) == 9
    assert calls == [3, 3]
    assert square.stats.hits == square.stats.misses == 0


@pytest.mark.memo_disabled
def test_marker():
    """The marker does what the fixture does."""
    calls.clear()
    square(3), square(3)
    assert calls == [3, 3]


@pytest.mark.memo_disabled
class TestMarkedClass:
    def test_method(self):
        """A marker on a class applies to its tests."""
        calls.clear()
        square(4), square(4)
        assert calls == [4, 4]


def test_cached_again():
    """Without the fixture or the marker, the cache works again."""
    calls.clear()
    square(5), square(5)
    assert calls == [5]


def test_fails_without_marker():
    """Expected to fail: an unmarked test is cached."""
    calls.clear()
    square(6), square(6)
    assert calls == [6, 6]
'''


def test_memo_disabled_fixture_and_marker(pytester: pytest.Pytester) -> None:
    """memo_disabled and @pytest.mark.memo_disabled run the test without the cache."""
    result = run(pytester, DISABLED_TESTS)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_generated.py::test_fails_without_marker*"])


def test_marker_on_a_module(pytester: pytest.Pytester) -> None:
    """A module-level pytestmark = pytest.mark.memo_disabled disables memo in all its tests."""
    source = '''
    import pytest

    import memo

    pytestmark = pytest.mark.memo_disabled
    calls = []


    @memo.cached
    def f(x):
        calls.append(x)
        return x


    def test_module_marker():
        """The module's marker applies to this test."""
        f(1), f(1)
        assert calls == [1, 1]
    '''
    run(pytester, source).assert_outcomes(passed=1)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    """The plugin registers the marker: listed by --markers, unknown under --strict without it."""
    result = pytester.runpytest(*PLUGIN, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.memo_disabled: *memo.disabled()*"])
    pytester.makepyfile(
        test_generated='''
        import pytest


        @pytest.mark.memo_disabled
        def test_marked():
            """A marked test."""
        '''
    )
    # In a new process: pytest.mark caches the marker names it has seen in this one.
    result = pytester.runpytest_subprocess(*STRICT)
    result.stdout.fnmatch_lines(["*'memo_disabled' not found in `markers`*"])
    assert result.ret != 0


CLOCK_TESTS = '''
import time

import memo
from memo._clock import CLOCK
from memo.testing import FakeClock

calls = []


@memo.cached(ttl=60)
def price(item):
    calls.append(item)
    return 1.5


def test_expires(memo_clock):
    """A cached value expires when the fake clock moves past its TTL, with no sleeping."""
    assert isinstance(memo_clock, FakeClock)
    price("apple")
    memo_clock.advance(59.9)
    price("apple")
    assert calls == ["apple"]
    memo_clock.advance(0.2)
    price("apple")
    assert calls == ["apple", "apple"]


def test_with_namespace(memo_namespace, memo_clock):
    """The fixtures combine: a fresh namespace under a fake clock."""
    calls.clear()
    price("pear")
    memo_clock.advance(61)
    price("pear")
    assert calls == ["pear", "pear"]


def test_real_clock_back():
    """After a memo_clock test, memo reads the real clock again."""
    assert CLOCK.monotonic is time.monotonic and CLOCK.time is time.time
'''


def test_memo_clock(pytester: pytest.Pytester) -> None:
    """memo_clock installs a FakeClock for the test and puts the real clock back after it."""
    run(pytester, CLOCK_TESTS).assert_outcomes(passed=3)


def test_next_to_a_conftest_that_resets_memo(pytester: pytest.Pytester) -> None:
    """A conftest that resets memo per test (as this repo's does) and the plugin get along."""
    pytester.makeconftest(
        '''
        import pytest

        import memo
        from memo._clock import CLOCK
        from memo.testing import FakeClock


        @pytest.fixture(autouse=True)
        def fresh_memo():
            """Reset memo around each test."""
            memo.configure()
            yield
            CLOCK.reset()
            memo.configure()


        @pytest.fixture
        def clock():
            """The project's own fake clock fixture."""
            with FakeClock() as fake:
                yield fake
        '''
    )
    source = '''
    from memo._runtime.settings import settings
    from memo._runtime.disabled import is_disabled


    def test_namespace_survives_the_reset(memo_namespace):
        """The conftest's autouse reset runs first, so the test keeps its namespace."""
        assert settings.namespace == memo_namespace


    def test_both_clocks(clock, memo_clock):
        """The project's `clock` fixture and `memo_clock` do not clash."""
        memo_clock.advance(1)
        clock.advance(1)


    def test_disabled_after_the_reset(memo_disabled):
        """memo_disabled holds next to the conftest's reset."""
        assert is_disabled()
    '''
    run(pytester, source).assert_outcomes(passed=3)
