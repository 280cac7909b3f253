"""A loopback TCP proxy with faults on demand: hang, drop, refuse and flap connections.

`TcpProxy` listens on ``127.0.0.1`` and forwards every connection to a target in one daemon
thread (``selectors``). Control methods run on that thread and return once they took effect.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from tests.support.redis_servers import HOST, free_port

_CHUNK = 65536
_HIGH_WATER = 1 << 20  # stop reading a side while its peer has this much unsent
_CONTROL_TIMEOUT = 5.0


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started."""

    accepted: int
    active: int
    bytes_up: int  # client -> target
    bytes_down: int  # target -> client
    upstream_failures: int


class _Call:
    """A control function to run on the proxy thread, and its outcome."""

    __slots__ = ("done", "error", "fn")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.error: Exception | None = None


class _Side:
    """One socket of a connection pair and the bytes waiting to be written to it."""

    __slots__ = ("out", "peer", "sock", "upstream")

    def __init__(self, sock: socket.socket, *, upstream: bool) -> None:
        self.sock = sock
        self.upstream = upstream
        self.out = bytearray()
        self.peer: _Side | None = None


class TcpProxy:
    """Forward ``127.0.0.1:port`` to ``target_host:target_port`` with fault injection.

    - ``block()``: stop forwarding; connections stay open and nothing is read (a hung
      server: clients time out). New connections are accepted and held too. ``unblock()``.
    - ``drop(reset=False)``: close every current connection (FIN, or RST with ``reset``);
      new connections are still accepted.
    - ``refuse()``: close the listening socket so new connects get ECONNREFUSED;
      ``accept_again()`` listens on the same port again. Open connections are kept.
    - ``flap(period, duration)``: alternate refuse+drop / accept every ``period`` seconds for
      ``duration`` seconds in a background thread, then accept; ``wait_flap()`` joins it.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        if target_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("TcpProxy forwards to loopback targets only")
        self.target = (target_host, target_port)
        self.host = HOST
        self.port = port if port is not None else free_port()
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._sides: set[_Side] = set()
        self._blocked = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._flapper: threading.Thread | None = None
        self._flap_stop = threading.Event()
        self._calls: list[_Call] = []
        self._calls_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._accepted = 0
        self._bytes_up = 0
        self._bytes_down = 0
        self._upstream_failures = 0
        self._active = 0

    # -- public

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` pointing at the proxy."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the proxy."""
        return (self.host, self.port)

    @property
    def stats(self) -> ProxyStats:
        """A snapshot of the counters."""
        return ProxyStats(
            accepted=self._accepted,
            active=self._active,
            bytes_up=self._bytes_up,
            bytes_down=self._bytes_down,
            upstream_failures=self._upstream_failures,
        )

    @property
    def blocked(self) -> bool:
        """Whether forwarding is blocked."""
        return self._blocked

    @property
    def refusing(self) -> bool:
        """Whether the listening socket is closed."""
        return self._listener is None

    def start(self) -> TcpProxy:
        """Listen and start the forwarding thread; returns self."""
        if self._thread is not None:
            return self
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._listen()
        self._thread = threading.Thread(target=self._run, name=f"TcpProxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def block(self) -> None:
        """Stop forwarding in both directions; hold the connections open without reading."""
        self._call(self._do_block)

    def unblock(self) -> None:
        """Forward again (bytes held while blocked flow on)."""
        self._call(self._do_unblock)

    def drop(self, *, reset: bool = False) -> None:
        """Close every current connection (RST instead of FIN with ``reset``); keep accepting."""
        self._call(lambda: self._do_drop(reset=reset))

    def refuse(self) -> None:
        """Close the listening socket: new connects are refused; open connections stay."""
        self._call(self._do_refuse)

    def accept_again(self) -> None:
        """Listen on the same port again after ``refuse()``."""
        self._call(self._do_accept_again)

    def flap(self, period: float, duration: float, *, drop: bool = True) -> None:
        """Alternate refusing (and dropping) and accepting every ``period`` s for ``duration`` s.

        Runs in a daemon thread and returns at once; the proxy accepts when it ends.
        """
        if period <= 0 or duration <= 0:
            raise ValueError("period and duration must be positive")
        self.wait_flap()
        self._flap_stop.clear()

        def run() -> None:
            deadline = time.monotonic() + duration
            refusing = False
            try:
                while not self._flap_stop.is_set() and time.monotonic() < deadline:
                    if refusing:
                        self.accept_again()
                    else:
                        self.refuse()
                        if drop:
                            self.drop()
                    refusing = not refusing
                    self._flap_stop.wait(min(period, max(0.0, deadline - time.monotonic())))
            finally:
                with contextlib.suppress(RuntimeError):
                    self.accept_again()

        self._flapper = threading.Thread(target=run, name=f"TcpProxy-flap-{self.port}", daemon=True)
        self._flapper.start()

    def wait_flap(self, timeout: float = 30.0) -> None:
        """Wait (bounded) until a running ``flap()`` has ended."""
        if self._flapper is not None:
            self._flapper.join(timeout)
            if self._flapper.is_alive():
                raise RuntimeError("flap thread did not end in time")
            self._flapper = None

    def stop(self) -> None:
        """Close everything and join the threads. Idempotent."""
        self._flap_stop.set()
        with contextlib.suppress(RuntimeError):
            self.wait_flap(timeout=_CONTROL_TIMEOUT)
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(_CONTROL_TIMEOUT)
            if self._thread.is_alive():  # pragma: no cover - the loop polls every 0.1 s
                raise RuntimeError("TcpProxy thread did not stop")
            self._thread = None
        self._close_all()
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(self._wake_r)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TcpProxy {self.host}:{self.port} -> {self.target[0]}:{self.target[1]}>"

    # -- control plumbing

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _call(self, fn: Callable[[], None]) -> None:
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("TcpProxy is not running")
        call = _Call(fn)
        with self._calls_lock:
            self._calls.append(call)
        self._wake()
        if not call.done.wait(_CONTROL_TIMEOUT):
            raise RuntimeError("TcpProxy did not apply a control call in time")
        if call.error is not None:
            raise call.error

    def _run_calls(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        with self._calls_lock:
            calls, self._calls = self._calls, []
        for call in calls:
            try:
                call.fn()
            except Exception as exc:  # handed to the caller, the loop goes on
                call.error = exc
            finally:
                call.done.set()

    # -- loop (the proxy thread only)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for key, mask in self._sel.select(timeout=self._select_timeout()):
                    if key.fileobj is self._wake_r:
                        self._run_calls()
                    elif key.fileobj is self._listener:
                        self._accept()
                    elif isinstance(key.data, _Side):
                        self._service(key.data, mask)
                self._tick()
        finally:
            with self._calls_lock:  # release callers waiting on a dead loop
                for call in self._calls:
                    call.error = RuntimeError("TcpProxy stopped")
                    call.done.set()
                self._calls = []

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self._sel.register(listener, selectors.EVENT_READ, None)
        self._listener = listener

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self._accepted += 1
        try:
            upstream = socket.create_connection(self.target, timeout=1.0)
        except OSError:
            self._upstream_failures += 1
            _close(client, reset=True)
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        down, up = _Side(client, upstream=False), _Side(upstream, upstream=True)
        down.peer, up.peer = up, down
        self._sides.update((down, up))
        self._active += 1
        for side in (down, up):
            self._update(side)
        self._accepted_pair(down, up)

    # -- hooks of subclasses that add faults (tests/support/fault_proxy.py)

    def _select_timeout(self) -> float:
        return 0.1

    def _tick(self) -> None:
        """Runs on the proxy thread after each select."""

    def _accepted_pair(self, down: _Side, up: _Side) -> None:
        """A new connection (client side `down`, target side `up`) is being forwarded."""

    def _deliver(self, side: _Side, peer: _Side, data: bytes) -> None:
        """data read from side goes out to peer."""
        peer.out += data

    def _interest(self, side: _Side) -> int:
        if self._blocked:
            return 0
        events = 0
        if side.peer is not None and len(side.peer.out) < _HIGH_WATER:
            events |= selectors.EVENT_READ
        if side.out:
            events |= selectors.EVENT_WRITE
        return events

    def _update(self, side: _Side) -> None:
        if side not in self._sides:
            return
        events = self._interest(side)
        key = self._sel.get_map().get(side.sock)
        if events == 0:
            if key is not None:
                self._sel.unregister(side.sock)
        elif key is None:
            self._sel.register(side.sock, events, side)
        elif key.events != events:
            self._sel.modify(side.sock, events, side)

    def _service(self, side: _Side, mask: int) -> None:
        peer = side.peer
        if side not in self._sides or peer is None:
            return
        if mask & selectors.EVENT_READ:
            try:
                data = side.sock.recv(_CHUNK)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                if peer.out:  # best effort: pass on what the closing side sent last
                    self._flush(peer)
                self._close_pair(side)
                return
            if data:
                self._deliver(side, peer, data)
                if side.upstream:
                    self._bytes_down += len(data)
                else:
                    self._bytes_up += len(data)
        if side.out and mask & selectors.EVENT_WRITE:
            self._flush(side)
        if peer.out:
            self._flush(peer)
        if side in self._sides:
            self._update(side)
            self._update(peer)

    def _flush(self, side: _Side) -> None:
        if self._blocked or side not in self._sides:
            return
        try:
            sent = side.sock.send(side.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close_pair(side)
            return
        del side.out[:sent]

    def _close_pair(self, side: _Side, *, reset: bool = False) -> None:
        if side in self._sides:
            self._active -= 1
        for s in (side, side.peer):
            if s is None or s not in self._sides:
                continue
            self._sides.discard(s)
            if s.sock in self._sel.get_map():
                self._sel.unregister(s.sock)
            _close(s.sock, reset=reset)

    def _close_all(self, *, reset: bool = False) -> None:
        for side in list(self._sides):
            self._close_pair(side, reset=reset)
        if self._listener is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _do_block(self) -> None:
        self._blocked = True
        for side in list(self._sides):
            self._update(side)

    def _do_unblock(self) -> None:
        self._blocked = False
        for side in list(self._sides):
            if side.out:
                self._flush(side)
        for side in list(self._sides):
            self._update(side)

    def _do_drop(self, *, reset: bool) -> None:
        for side in list(self._sides):
            self._close_pair(side, reset=reset)

    def _do_refuse(self) -> None:
        if self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _do_accept_again(self) -> None:
        if self._listener is None:
            self._listen()


def _close(sock: socket.socket, *, reset: bool) -> None:
    if reset:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
