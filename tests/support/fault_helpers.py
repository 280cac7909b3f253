"""Helpers of the fault-injection tests: bounded polling, timed calls and paced workloads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import memo
from memo._runtime.settings import settings

SECRET = "test-secret"
SOCKET_TIMEOUT = 0.2  # RedisStore's default socket_timeout
# The promise is one socket timeout + 50 ms (docs/failures.md). A loaded 2-core CI box adds
# GIL and scheduler delays of its own (0.45-0.49 s seen here with load average 10), so the
# tests allow socket timeout + 350 ms, as tests/system/test_fault_matrix.py does; that still
# catches the failures this guards against (a second timeout, a 1 s wait slice). The real
# figures are measured and reported by the fault matrix.
SLACK = 0.35
LATENCY_BOUND = SOCKET_TIMEOUT + SLACK


def value_of(x: int) -> int:
    """The pure function every cached test function computes, so results are checkable."""
    return x * x + 7


def configure(url: str, namespace: str, **options: Any) -> memo.TieredStore:
    """memo.configure() with L1 over Redis at url; the default TieredStore it made."""
    memo.configure(redis_url=url, namespace=namespace, secret=SECRET, **options)
    return cast(memo.TieredStore, settings.store)


def events_up(store: memo.TieredStore) -> None:
    """Start store's events connection (it starts on first use) and wait until it is healthy."""
    store.redis.events.ensure_started()
    wait_until(lambda: store.redis.events.healthy, 5, "events connection up")


def wait_until(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.01
) -> float:
    """Poll check until it is true (at most timeout s); the seconds it took, else fail."""
    start = time.perf_counter()
    for _ in range(int(timeout / interval) + 2):
        if check():
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            break
        time.sleep(interval)
    raise AssertionError(f"{what}: not true after {timeout} s")


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """call()'s result and how long it took, in seconds."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


@dataclass
class Tally:
    """What one worker saw: calls made, wrong results, exceptions and each call's latency."""

    calls: int = 0
    wrong: int = 0
    errors: list[BaseException] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def merge(self, others: Sequence[Tally]) -> Tally:
        """All of others added into self (returns self)."""
        for other in others:
            self.calls += other.calls
            self.wrong += other.wrong
            self.errors += other.errors
            self.latencies += other.latencies
        return self

    @property
    def max_latency(self) -> float:
        """The slowest call, in seconds (0 before any call)."""
        return max(self.latencies, default=0.0)


def paced_calls(
    fn: Callable[[int], Any], keys: Sequence[int], count: int, period: float, offset: int = 0
) -> Tally:
    """count calls fn(key), call j not before start + j * period; each result checked."""
    tally = Tally()
    start = time.perf_counter()
    for j in range(count):
        delay = start + j * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        key = keys[(offset + j * 7) % len(keys)]
        began = time.perf_counter()
        try:
            value = fn(key)
        except Exception as exc:
            tally.errors.append(exc)
            continue
        finally:
            tally.latencies.append(time.perf_counter() - began)
            tally.calls += 1
        if value != value_of(key):
            tally.wrong += 1
    return tally


async def apaced_calls(
    fn: Callable[[int], Awaitable[Any]],
    keys: Sequence[int],
    count: int,
    period: float,
    offset: int = 0,
) -> Tally:
    """`paced_calls` for an async function, pacing with asyncio.sleep."""
    tally = Tally()
    start = time.perf_counter()
    for j in range(count):
        delay = start + j * period - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key = keys[(offset + j * 7) % len(keys)]
        began = time.perf_counter()
        try:
            value = await fn(key)
        except Exception as exc:
            tally.errors.append(exc)
            continue
        finally:
            tally.latencies.append(time.perf_counter() - began)
            tally.calls += 1
        if value != value_of(key):
            tally.wrong += 1
    return tally


class Workers:
    """Threads running paced workloads; a crash in one is recorded, never lost."""

    def __init__(self) -> None:
        self.tallies: list[Tally] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, job: Callable[[], Tally], name: str) -> None:
        """Run job in a daemon thread and keep its Tally."""

        def run() -> None:
            try:
                tally = job()
            except BaseException as exc:  # the worker itself broke: make it visible
                tally = Tally(errors=[exc])
            with self._lock:
                self.tallies.append(tally)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float) -> Tally:
        """Wait for every worker (at most timeout s in all); their tallies added up."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"workers still running after {timeout} s: {alive}"
        return Tally().merge(self.tallies)


def async_group(
    fn: Callable[[int], Awaitable[Any]], keys: Sequence[int], tasks: int, count: int, period: float
) -> Callable[[], Tally]:
    """A job running `tasks` paced asyncio tasks on a fresh event loop."""

    async def main() -> list[Tally]:
        jobs = (apaced_calls(fn, keys, count, period, offset=i) for i in range(tasks))
        return list(await asyncio.gather(*jobs))

    return lambda: Tally().merge(asyncio.run(main()))


class ErrorReplyServer:
    """A loopback TCP server that answers data commands with one error reply.

    Stands in for states a real server is hard to hold in a test, such as ``-LOADING``
    (a server loading its dataset): like Redis then, connection set-up commands get a normal
    answer (``HELLO`` a RESP3 greeting; ``CLIENT``, ``AUTH``, ``SELECT`` ``+OK``) and every
    other command the error. Daemon threads; ``stop()`` ends them within ~0.1 s.
    """

    def __init__(self, error: str) -> None:
        self.reply = f"-{error}\r\n".encode()
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="error-server")]
        self._threads[0].start()

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Close the listener and every connection; join the threads (bounded)."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join(2)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # timeout: look at the stop flag again
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        pending = b""
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:  # timeout: look at the stop flag again
                    continue
                if not data:
                    return
                names, pending = split_commands(pending + data)
                self.commands += names
                replies = (_SETUP.get(name, self.reply) for name in names)
                with contextlib.suppress(OSError):
                    conn.sendall(b"".join(replies))


_SETUP = {
    "HELLO": b"%1\r\n+proto\r\n:3\r\n",
    "CLIENT": b"+OK\r\n",
    "AUTH": b"+OK\r\n",
    "SELECT": b"+OK\r\n",
}


def split_commands(buffer: bytes) -> tuple[list[str], bytes]:
    """The names of the complete RESP commands buffer starts with, and the incomplete rest."""
    names: list[str] = []
    while True:
        parsed = _parse_command(buffer)
        if parsed is None:
            return names, buffer
        name, end = parsed
        names.append(name)
        buffer = buffer[end:]


def _parse_command(buffer: bytes) -> tuple[str, int] | None:
    line = buffer.find(b"\r\n")
    if line < 0:
        return None
    if not buffer.startswith(b"*"):  # an inline command: one line
        return buffer[:line].split(b" ")[0].decode().upper(), line + 2
    pos, args = line + 2, []
    for _ in range(int(buffer[1:line])):
        line = buffer.find(b"\r\n", pos)
        if line < 0:
            return None
        end = line + 2 + int(buffer[pos + 1 : line])
        if end + 2 > len(buffer):
            return None
        args.append(buffer[line + 2 : end])
        pos = end + 2
    return (args[0].decode().upper() if args else ""), pos
