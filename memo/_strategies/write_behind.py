"""`@memo.write_behind`: the write lands in the cache at once; `flush` gets it later, in batches.

    @memo.write_behind(get_user, flush=save_users, batch_size=100, interval=1.0)
    def update_user(user_id: int, name: str) -> User:   # builds the value, no database I/O
        return User(user_id, name)

A call runs the writer, queues `memo.Write(key, arguments, value, version)` for the reader's
entry that the writer's arguments map to (as `@write_through` maps them), makes the result
that entry's value in L1, L2 and every process, and returns it. A background flusher hands
the queued writes to `save_users(list[memo.Write])` (see `_writes/flusher.py`). Without Redis the
queue lives in this process (bounded; `on_full` says what a full queue does); with Redis as
L2 it is a Redis Stream, so a process killed mid-batch loses no write (`_writes/stream.py`).

`memo.flush(timeout)` drains every write-behind writer of the process; it also runs at
interpreter exit and on SIGTERM (installed at first use, from the main thread, chaining any
handler that was there).
"""

from __future__ import annotations

import atexit
import inspect
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import wrapt

from memo._errors import ConfigurationError
from memo._keys.builder import function_name
from memo._keys.mapping import core_of, display
from memo._runtime.core import Core
from memo._strategies.writers import (
    WriterDecorator,
    WriterKeywords,
    WriterOptions,
    writer_arguments,
)
from memo._writes.delivery import Alert, Deliverer
from memo._writes.delivery import Options as Delivery
from memo._writes.flusher import Flusher
from memo._writes.queue import ON_FULL, FlusherStats, Write, next_version

__all__ = [
    "EXIT_TIMEOUT",
    "Write",
    "WriteBehindKeywords",
    "WriteBehindOptions",
    "flush",
    "write_behind",
]

EXIT_TIMEOUT = 10.0  # seconds memo waits for the flushers at exit and on SIGTERM

if TYPE_CHECKING:
    from typing_extensions import Unpack

    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
else:
    _FunctionWrapper = wrapt.FunctionWrapper
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper

_FLUSHERS: weakref.WeakSet[Flusher] = weakref.WeakSet()


class WriteBehindKeywords(WriterKeywords, total=False):
    """`@memo.write_behind`'s keyword options but `flush`: `WriteBehindOptions`'s fields."""

    batch_size: int
    interval: float
    max_attempts: int
    backoff: float
    max_backoff: float
    dead_letter: Alert | None
    queue_size: int
    on_full: str
    block_timeout: float


_COUNTS = ("batch_size", "max_attempts", "queue_size")  # ints >= 1
_SECONDS = ("interval", "backoff", "max_backoff", "block_timeout")  # numbers >= 0


@dataclass(frozen=True, kw_only=True)
class WriteBehindOptions(WriterOptions):
    """`@memo.write_behind`'s options, checked when made ([table](write-behind.md#options))."""

    decorator: ClassVar[str] = "write_behind"

    flush: Deliverer
    batch_size: int = 100
    interval: float = 1.0
    max_attempts: int = 5
    backoff: float = 0.1
    max_backoff: float = 5.0
    dead_letter: Alert | None = None
    queue_size: int = 10_000
    on_full: str = "block"
    block_timeout: float = 10.0

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigurationError("@memo.write_behind(...): " + "; ".join(problems) + ".")

    def _problems(self) -> list[str]:
        """Every wrong option, so that one error names them all."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}  # not yet checked: Any
        return [*_wrong_functions(given), *_wrong_numbers(given), *_wrong_on_full(given)]

    def delivery(self) -> Delivery:
        """The flusher's share of these options, seconds as floats."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(Delivery)}
        values.update({name: float(values[name]) for name in _SECONDS})
        return Delivery(**values)


def _wrong_functions(given: dict[str, Any]) -> list[str]:
    problems = []
    if not callable(given["flush"]):
        problems.append(f"flush={given['flush']!r} must be a function taking list[memo.Write]")
    if given["dead_letter"] is not None and not callable(given["dead_letter"]):
        problems.append(
            f"dead_letter={given['dead_letter']!r} must be a function (writes, exc) or None"
        )
    return problems


def _wrong_numbers(given: dict[str, Any]) -> list[str]:
    problems = []
    for name in _COUNTS:
        value = given[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{name}={value!r} must be an int >= 1")
    for name in _SECONDS:
        value = given[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            problems.append(f"{name}={value!r} must be a number of seconds >= 0")
    if isinstance(given["interval"], (int, float)) and given["interval"] == 0:
        problems.append("interval=0 would flush continuously; use a small positive value")
    return problems


def _wrong_on_full(given: dict[str, Any]) -> list[str]:
    if given["on_full"] in ON_FULL:
        return []
    return [f"on_full={given['on_full']!r} must be one of {', '.join(map(repr, ON_FULL))}"]


def write_behind(
    reader: Any, *, flush: Deliverer, **options: Unpack[WriteBehindKeywords]
) -> WriterDecorator:
    """Make the writer's result reader's value now, and hand it to `flush` in the background.

    The [options](write-behind.md#options) say how batches are made, retried and queued.
    """
    checked = WriteBehindOptions.of({"flush": flush, **options})
    delivery = checked.delivery()

    def decorate(writer: Any) -> Any:
        core = core_of(reader, writer, checked.decorator)
        mapping = checked.mapping(writer, core)
        function = writer.__func__ if isinstance(writer, (classmethod, staticmethod)) else writer
        flusher = Flusher(display(function), function_name(function), core, delivery)
        _FLUSHERS.add(flusher)

        def prepare(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> Any:
            normalised, write = _write(core, *mapping(args, kwargs), value)
            _install_exit_hooks()
            return write, *core.keys.normaliser.call_parts(normalised)

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            write, reader_args, reader_kwargs = prepare(args, kwargs, value)
            flusher.enqueue(write)  # first: a full queue that raises leaves the cache alone
            core.write(reader_args, reader_kwargs, value)

        async def aafter(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            write, reader_args, reader_kwargs = prepare(args, kwargs, value)
            await flusher.aenqueue(write)
            await core.awrite(reader_args, reader_kwargs, value)

        return _wrap(writer, function, flusher, after, aafter)

    return decorate


def flush(timeout: float | None = None) -> bool:
    """Deliver every write-behind write of this process (and, with Redis, every entry in the
    writers' streams up to now); True if all were delivered or dead-lettered in time."""
    return _drain(timeout, everything=True)


# -- the decorated writer -------------------------------------------------------------------


class _Handles:
    """`.pending()`, `.dead_letters` and `.flusher_stats` of a write-behind writer."""

    __slots__ = ()

    def _flusher(self) -> Flusher:
        raise NotImplementedError

    def pending(self) -> int:
        """Writes of this process neither delivered nor dead-lettered yet (no I/O)."""
        return self._flusher().pending()

    @property
    def dead_letters(self) -> list[Write]:
        """Writes whose delivery failed for good (memory mode; durable: the `:dead` stream)."""
        return self._flusher().dead_letters

    @property
    def flusher_stats(self) -> FlusherStats:
        """delivered, batches, retries, dead and dropped, counted by this process."""
        return self._flusher().stats


class BoundWriteBehind(_Handles, _BoundFunctionWrapper):
    """A write-behind method bound to an instance or class."""

    def _flusher(self) -> Flusher:
        flusher: Flusher = self._self_parent._self_flusher
        return flusher


class WriteBehind(_Handles, _FunctionWrapper):
    """A write-behind writer: the function, plus its queue's handles."""

    __bound_function_wrapper__ = BoundWriteBehind
    _self_flusher: Flusher

    def _flusher(self) -> Flusher:
        return self._self_flusher


After = Callable[[tuple[Any, ...], dict[str, Any], Any], Any]


def _wrap(writer: Any, function: Any, flusher: Flusher, after: After, aafter: After) -> Any:
    """writer, then after(args, kwargs, result) in the writer's colour; never on a raise."""
    if inspect.iscoroutinefunction(function):

        async def run_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            value = await wrapped(*args, **kwargs)
            await aafter(writer_arguments(instance, wrapped, args), kwargs, value)
            return value

        wrapper: Any = run_async
    else:

        def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            value = wrapped(*args, **kwargs)
            after(writer_arguments(instance, wrapped, args), kwargs, value)
            return value

        wrapper = run
    decorated = WriteBehind(writer, wrapper)
    decorated._self_flusher = flusher
    return decorated


def _write(
    core: Core, args: tuple[Any, ...], kwargs: dict[str, Any], value: Any
) -> tuple[tuple[Any, ...], Write]:
    """The reader's normalised arguments for this call, and the Write of its entry."""
    normalised, values = core.keys.split(args, kwargs)
    names = core.keys.normaliser.names
    keep = core.keys.keep if core.keys.keep is not None else range(len(names))
    arguments = {names[i]: normalised[i] for i in keep}
    return normalised, Write(core.remote_key(values), arguments, value, next_version())


# -- draining: memo.flush(), interpreter exit, SIGTERM ----------------------------------------


def _drain(timeout: float | None, *, everything: bool) -> bool:
    """Drain every flusher (or only those used in this process); True if all finished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    me = threading.current_thread()
    flushers = [
        f for f in list(_FLUSHERS) if (everything or f.used) and f.thread is not me
    ]  # a flush function calling memo.flush() must not wait for itself
    for flusher in flushers:
        flusher.begin_drain()
    try:
        return all(flusher.wait_drained(deadline) for flusher in flushers)
    finally:
        for flusher in flushers:
            flusher.end_drain()


class _Hooks:
    """What has been installed in this process."""

    atexit = False
    sigterm = False
    lock = threading.Lock()


def _install_exit_hooks() -> None:
    """At first use: drain at exit, and on SIGTERM when called from the main thread."""
    if _Hooks.atexit and _Hooks.sigterm:
        return
    with _Hooks.lock:
        if not _Hooks.atexit:
            atexit.register(_at_exit)
            _Hooks.atexit = True
        if not _Hooks.sigterm and threading.current_thread() is threading.main_thread():
            _Hooks.sigterm = _install_sigterm()


def _at_exit() -> None:
    _drain(EXIT_TIMEOUT, everything=False)


def _install_sigterm() -> bool:
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _sigterm_handler(previous))
    except (ValueError, OSError, AttributeError):  # not the main interpreter, no SIGTERM
        return False
    return True


def _sigterm_handler(previous: Any) -> Callable[[int, Any], None]:
    def on_sigterm(signum: int, frame: Any) -> None:
        """Do what SIGTERM did before memo was here, draining the write-behind queues first
        when that ends the process at once.

        A handler of the program's own (a graceful stop) runs at once: draining here would
        freeze the main thread, and an event loop running in it, for up to EXIT_TIMEOUT in
        the middle of the program's calls; the queues are drained at exit instead.
        """
        if callable(previous):
            previous(signum, frame)
            return
        _drain(EXIT_TIMEOUT, everything=False)
        if previous != signal.SIG_IGN:  # the default (or a handler set outside Python)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    return on_sigterm


def _after_fork_in_child() -> None:
    _Hooks.lock = threading.Lock()
    for flusher in list(_FLUSHERS):
        flusher.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
