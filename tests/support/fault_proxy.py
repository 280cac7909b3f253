"""A `TcpProxy` with the faults that last: latency, half-close and resetting every connection.

`TcpProxy` hangs (``block``), drops once (``drop``), refuses and flaps. The fault matrix
(tests/system/test_fault_matrix.py) also needs faults that hold until healed, for new
connections as well as open ones:

- ``latency(seconds)``: every byte is forwarded ``seconds`` late, in both directions;
- ``half_close()``: the client side of every connection gets a FIN (the client reads EOF) while
  its own writes are still accepted, and swallowed; new connections get the same at accept;
- ``reset_all()``: every connection is reset (RST), and each new one as soon as it is accepted;
- ``heal()``: ends all three (and ``block``); bytes already delayed still flow.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections import deque

from tests.support.tcp_proxy import TcpProxy, _Side

__all__ = ["FaultProxy"]


class FaultProxy(TcpProxy):
    """`TcpProxy` plus latency, half-close and reset-everything faults (see the module)."""

    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        super().__init__(target_host, target_port, port=port)
        self._delay = 0.0
        self._due: deque[tuple[float, _Side, bytes]] = deque()
        self._half = False
        self._muted: set[_Side] = set()
        self._resetting = False
        self._closing: set[_Side] = set()  # closed by their end, with delayed bytes to pass on

    # -- public

    def latency(self, seconds: float) -> None:
        """Forward every byte `seconds` late from now on (0: at once again)."""
        self._call(lambda: setattr(self, "_delay", max(0.0, seconds)))

    def half_close(self) -> None:
        """FIN to the client of every connection, now and at each accept, until heal()."""

        def run() -> None:
            self._half = True
            for side in list(self._sides):
                if not side.upstream:
                    self._mute(side)

        self._call(run)

    def reset_all(self) -> None:
        """RST every connection, now and at each accept, until heal()."""

        def run() -> None:
            self._resetting = True
            self._do_drop(reset=True)

        self._call(run)

    def heal(self) -> None:
        """End every fault: forward at once, accept and keep connections again."""

        def run() -> None:
            self._delay = 0.0
            self._half = False
            self._resetting = False
            self._do_unblock()

        self._call(run)

    # -- hooks (the proxy thread)

    def _select_timeout(self) -> float:
        if not self._due:
            return 0.1
        return min(0.1, max(0.0, self._due[0][0] - time.monotonic()))

    def _tick(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, peer, data = self._due.popleft()
            if peer not in self._sides:
                continue
            if not data:  # its end closed after sending: close once the bytes went through
                self._flush(peer)
                super()._close_pair(peer)
                continue
            peer.out += data
            self._flush(peer)
            self._update(peer)
            if peer.peer is not None:
                self._update(peer.peer)

    def _interest(self, side: _Side) -> int:
        if side in self._closing:  # read to its end already: only writes are left
            return selectors.EVENT_WRITE if side.out and not self._blocked else 0
        return super()._interest(side)

    def _accepted_pair(self, down: _Side, up: _Side) -> None:
        if self._resetting:
            self._close_pair(down, reset=True)
        elif self._half:
            self._mute(down)

    def _deliver(self, side: _Side, peer: _Side, data: bytes) -> None:
        if side in self._muted or peer in self._muted:
            return  # a half-closed connection: what either end sends goes nowhere
        if self._delay > 0:
            self._due.append((time.monotonic() + self._delay, peer, data))
            return
        super()._deliver(side, peer, data)

    def _close_pair(self, side: _Side, *, reset: bool = False) -> None:
        peer = side.peer
        if (
            not reset
            and not self._stopping.is_set()
            and peer is not None
            and any(p is peer for _, p, _ in self._due)
        ):
            # A FIN after delayed bytes: like a slow link, deliver them first, then close.
            self._closing.add(side)
            self._update(side)
            self._due.append((self._due[-1][0], peer, b""))
            return
        for s in (side, peer):
            self._muted.discard(s)
            self._closing.discard(s)
        super()._close_pair(side, reset=reset)

    def _mute(self, down: _Side) -> None:
        self._muted.add(down)
        with contextlib.suppress(OSError):
            down.sock.shutdown(socket.SHUT_WR)
