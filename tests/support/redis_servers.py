"""Real Redis servers on free loopback ports for the tests: standalone, Cluster and Sentinel.

No pytest and no redis-py here: the processes are driven with signals and a few admin
commands go over a tiny RESP client, so this module also works from scripts.

URL forms handed to memo:

- standalone: ``redis://127.0.0.1:P/0`` (``redis://:PASSWORD@127.0.0.1:P/0`` with a password)
- cluster: ``redis://127.0.0.1:P1/0?cluster=true`` (one seed node; the client discovers the rest)
  or ``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`` (`RedisCluster.seeds_url`)
- sentinel: ``redis+sentinel://127.0.0.1:SP/mymaster/0``
- ACL user: the same forms with ``USER:PASSWORD@`` in front of the host
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol, TypeAlias
from urllib.parse import quote, unquote, urlsplit

HOST = "127.0.0.1"
INSTALL_HINT = (
    "install it with `sudo apt-get install redis-server` (Debian/Ubuntu) or "
    "`brew install redis` (macOS); `make test` installs it when run as root"
)
ACL_DENIED_EXAMPLES: tuple[tuple[str, ...], ...] = (
    ("FLUSHDB",),
    ("FLUSHALL",),
    ("KEYS", "*"),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("INFO",),
    ("ROLE",),
    ("CLIENT", "LIST"),
    ("CLIENT", "KILL", "ID", "1"),
    ("SORT", "memo:x"),
    ("SWAPDB", "0", "1"),
    ("SAVE",),
    ("REPLICAOF", "NO", "ONE"),
    ("ACL", "LIST"),
)
"""Commands an `acl_user` cannot run (``@dangerous``, like SHUTDOWN, MONITOR, MIGRATE, DEBUG)."""

RespValue: TypeAlias = "str | int | list[RespValue] | None"


class RedisUnavailableError(RuntimeError):
    """A Redis binary is missing or a server did not come up in time."""


class RespError(Exception):
    """An error reply (``-ERR ...``) from a server."""


# ----------------------------------------------------------------------------- helpers

_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A loopback TCP port that is free now and not handed out before by this process."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        with _handed_out_lock:
            if port != 6379 and port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port after 100 attempts")


def find_binary(name: str) -> str:
    """The path of a Redis binary on PATH, or `RedisUnavailableError` with the install hint."""
    path = shutil.which(name)
    if path is None:
        raise RedisUnavailableError(f"{name} was not found on PATH: {INSTALL_HINT}")
    return path


class _Buffered(Protocol):
    def readline(self) -> bytes: ...
    def read(self, size: int) -> bytes: ...


def _read_reply(reader: _Buffered) -> RespValue:
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed in the middle of a reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = reader.read(size + 2)
        if len(data) != size + 2:
            raise ConnectionError("connection closed in the middle of a reply")
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [_read_reply(reader) for _ in range(count)]
    raise ConnectionError(f"unexpected reply type {line!r}")


def _encode(args: Sequence[str | int]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def command(
    port: int,
    *args: str | int,
    host: str = HOST,
    password: str | None = None,
    username: str | None = None,
    timeout: float = 2.0,
) -> RespValue:
    """Send one command on a fresh connection and return the reply (`RespError` on ``-ERR``)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        try:
            if password is not None:
                auth: list[str | int] = ["AUTH", password]
                if username is not None:
                    auth.insert(1, username)
                sock.sendall(_encode(auth))
                _read_reply(reader)
            sock.sendall(_encode(args))
            return _read_reply(reader)
        finally:
            reader.close()


def _wait(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.02) -> None:
    """Poll ``check`` until it is true; `RedisUnavailableError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            if check():
                return
        except (OSError, RespError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last is not None else ""
            raise RedisUnavailableError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)


def _info_fields(text: RespValue) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


# ----------------------------------------------------------------------------- registry

_live: set[RedisServer] = set()
_live_lock = threading.Lock()


def stop_all() -> None:
    """Kill every server this process started and has not stopped (registered with atexit)."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        try:
            server.stop(timeout=1.0)
        except Exception:  # best effort at interpreter exit
            server.kill()


atexit.register(stop_all)

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that SIGKILLs the child when this process dies, even by SIGKILL (Linux).

    Covers what atexit cannot (os._exit, a killed test run). The kernel ties it to the
    spawning thread, so it is only used when spawning from the main thread.
    """
    if _LIBC is None or threading.current_thread() is not threading.main_thread():
        return None
    libc, parent = _LIBC, os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


# ----------------------------------------------------------------------------- standalone


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1``, no persistence, in a private temp directory.

    ``start()`` waits (at most 10 s) until it answers PING. ``stop()`` sends SIGTERM and
    SIGKILL after 5 s and removes the directory; ``kill()`` is SIGKILL; ``pause()`` and
    ``resume()`` are SIGSTOP and SIGCONT (a hung server); ``restart()`` and ``start()`` after
    ``kill()`` come back on the same port with no data (a cluster node keeps its nodes.conf).
    """

    host = HOST
    start_timeout = 10.0

    def __init__(
        self,
        port: int | None = None,
        *,
        args: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        self._fixed_port = port is not None
        self.port: int = port if port is not None else free_port()
        self.args: tuple[str, ...] = tuple(args)
        self.password = password
        self.dir: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False

    # -- properties

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:P/0``, with ``:PASSWORD@`` when the server has one."""
        auth = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return (self.host, self.port)

    @property
    def pid(self) -> int | None:
        """The process id while the process is alive, else None."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive (it may be paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        """Whether the process is stopped with SIGSTOP."""
        return self._paused and self.running

    @property
    def log_path(self) -> str | None:
        """The server's log file."""
        return os.path.join(self.dir, "redis.log") if self.dir is not None else None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log and captured output, for error messages."""
        out: list[str] = []
        if self.dir is None:
            return ""
        for name in ("redis.log", "stdout.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.extend(f.read().splitlines()[-lines:])
        return "\n".join(out)

    # -- commands

    def command(self, *args: str | int, timeout: float = 2.0) -> RespValue:
        """Run one admin command on the server (authenticated when it has a password)."""
        return command(self.port, *args, host=self.host, password=self.password, timeout=timeout)

    def ping(self, timeout: float = 0.5) -> bool:
        """Whether the server answers PING within ``timeout`` seconds."""
        try:
            return self.command("PING", timeout=timeout) == "PONG"
        except (OSError, RespError):
            return False

    # -- life cycle

    def _argv(self, directory: str) -> list[str]:
        argv = [
            find_binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            directory,
            "--logfile",
            os.path.join(directory, "redis.log"),
            "--protected-mode",
            "no",
            "--repl-diskless-sync-delay",  # replicas sync at once, not after 5 s
            "0",
        ]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        return argv + list(self.args)

    def _prepare(self, directory: str) -> None:
        """Hook run before each spawn (the Sentinel writes its config file here)."""

    def _ready(self) -> bool:
        return self.ping(timeout=0.5)

    def start(self) -> RedisServer:
        """Spawn the server (if it is not running) and wait until it answers; returns self."""
        if self.running:
            return self
        find_binary("redis-server")  # the clear error before any temp dir
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn()
                return self
            except RedisUnavailableError:
                self._terminate(timeout=1.0)
                in_use = "Address already in use" in self.log_tail()
                if not in_use or attempt == attempts - 1:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix=f"memo-redis-{self.port}-")
        self._prepare(self.dir)
        with open(os.path.join(self.dir, "stdout.log"), "ab") as out:
            self._proc = subprocess.Popen(
                self._argv(self.dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl, see there
            )
        self._paused = False
        with _live_lock:
            _live.add(self)
        proc = self._proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RedisUnavailableError(
                    f"redis-server on port {self.port} exited with code {proc.returncode}:\n"
                    + self.log_tail()
                )
            return self._ready()

        try:
            _wait(f"redis-server on port {self.port}", ready, self.start_timeout)
        except RedisUnavailableError as exc:
            raise RedisUnavailableError(f"{exc}\n{self.log_tail()}") from None

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # raced with its exit
                self._proc.send_signal(sig)

    def _terminate(self, timeout: float = 5.0) -> None:
        """End the process (SIGCONT if paused, SIGTERM, SIGKILL after ``timeout``); keep the dir."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                self._signal(signal.SIGCONT)
                self._signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    proc.wait(timeout=5.0)
            else:
                proc.wait(timeout=0)
        self._paused = False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, SIGKILL after ``timeout`` s, then remove the temp dir. Idempotent."""
        try:
            self._terminate(timeout)
        finally:
            self._proc = None
            with _live_lock:
                _live.discard(self)
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a shutdown; ``start()`` brings it back."""
        if self._proc is not None and self._proc.poll() is None:
            self._signal(signal.SIGKILL)
            self._proc.wait(timeout=5.0)
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        if not self.running:
            raise RuntimeError(f"redis-server on port {self.port} is not running")
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after ``pause()``."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def restart(self) -> RedisServer:
        """Stop and start again on the same port with no data; returns self."""
        self._terminate()
        self._spawn()
        return self

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"


# ----------------------------------------------------------------------------- cluster


class RedisCluster:
    """A local Redis Cluster: ``masters`` masters with ``replicas`` replicas each.

    ``start()`` spawns the nodes, runs ``redis-cli --cluster create`` and waits (at most
    30 s) until every node reports ``cluster_state:ok`` with all 16384 slots covered.
    ``node(i)`` is the `RedisServer` of one node, for kill/pause/restart; ``roles()``,
    ``masters()``, ``replicas_of()`` and ``master_of()`` read the live topology.
    """

    SLOTS = 16384
    start_timeout = 30.0

    def __init__(self, masters: int = 3, replicas: int = 0, *, args: Sequence[str] = ()) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.n_masters = masters
        self.n_replicas = replicas
        self.nodes: list[RedisServer] = []
        for _ in range(masters * (1 + replicas)):
            port = free_port()
            node_args = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                "2000",
                "--cluster-port",
                str(free_port()),
                *args,
            )
            self.nodes.append(RedisServer(port, args=node_args))

    @property
    def urls(self) -> list[str]:
        """Every node's ``redis://127.0.0.1:P/0``."""
        return [node.url for node in self.nodes]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """Every node's ``(host, port)``."""
        return [node.address for node in self.nodes]

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:P1/0?cluster=true`` with the first node as the seed."""
        return f"redis://{HOST}:{self.nodes[0].port}/0?cluster=true"

    @property
    def seeds_url(self) -> str:
        """``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...``: every node as a seed."""
        return "redis+cluster://" + ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def node(self, index: int) -> RedisServer:
        """One node's handle, in creation order (the first ``masters`` nodes start as masters)."""
        return self.nodes[index]

    def start(self) -> RedisCluster:
        """Start the nodes, create the cluster and wait until it is ok; returns self."""
        try:
            for node in self.nodes:
                node.start()
            cli = find_binary("redis-cli")
            argv = [cli, "--cluster", "create"]
            argv += [f"{HOST}:{node.port}" for node in self.nodes]
            argv += ["--cluster-replicas", str(self.n_replicas), "--cluster-yes"]
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=self.start_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise RedisUnavailableError("redis-cli --cluster create timed out") from exc
            if done.returncode != 0:
                output = (done.stdout + done.stderr).decode(errors="replace")
                raise RedisUnavailableError(f"redis-cli --cluster create failed:\n{output}")
            self.wait_ok(self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def cluster_info(self, index: int) -> dict[str, str]:
        """``CLUSTER INFO`` of one node as a dict."""
        return _info_fields(self.nodes[index].command("CLUSTER", "INFO"))

    def wait_ok(self, timeout: float = 30.0, *, nodes: Iterable[RedisServer] | None = None) -> None:
        """Wait until every running node (or ``nodes``) is ok: slots covered, replicas linked."""
        expected = len(self.nodes)

        def ok() -> bool:
            for node in nodes if nodes is not None else self.nodes:
                if not node.running or node.paused:
                    continue
                info = _info_fields(node.command("CLUSTER", "INFO"))
                if info.get("cluster_state") != "ok":
                    return False
                if info.get("cluster_slots_ok") != str(self.SLOTS):
                    return False
                if nodes is None and info.get("cluster_known_nodes") != str(expected):
                    return False
                role = node.command("ROLE")
                if isinstance(role, list) and role[0] == "slave" and role[3] != "connected":
                    return False
            return True

        _wait("cluster_state:ok on every node", ok, timeout, interval=0.1)

    def roles(self) -> dict[int, tuple[str, int | None]]:
        """Live topology: node index -> ("master", None) or ("replica", index of its master)."""
        by_port = {node.port: i for i, node in enumerate(self.nodes)}
        out: dict[int, tuple[str, int | None]] = {}
        for i, node in enumerate(self.nodes):
            if not node.running or node.paused:
                continue
            role = node.command("ROLE")
            assert isinstance(role, list)
            if role[0] == "master":
                out[i] = ("master", None)
            else:
                port = role[2]
                assert isinstance(port, int)
                out[i] = ("replica", by_port.get(port))
        return out

    def masters(self) -> list[RedisServer]:
        """The nodes that are masters now."""
        return [self.nodes[i] for i, (kind, _) in self.roles().items() if kind == "master"]

    def replicas_of(self, master: RedisServer | int) -> list[RedisServer]:
        """The nodes that replicate ``master`` now."""
        index = master if isinstance(master, int) else self.nodes.index(master)
        return [self.nodes[i] for i, (_, of) in self.roles().items() if of == index]

    def master_of(self, replica: RedisServer | int) -> RedisServer | None:
        """The master ``replica`` replicates now (None if it is a master)."""
        index = replica if isinstance(replica, int) else self.nodes.index(replica)
        of = self.roles()[index][1]
        return None if of is None else self.nodes[of]

    def node_for_key(self, key: str) -> RedisServer:
        """The master that serves ``key``'s slot now (asked of any running node)."""
        for node in self.nodes:
            if not node.running or node.paused:
                continue
            slot = node.command("CLUSTER", "KEYSLOT", key)
            shards = node.command("CLUSTER", "SLOTS")
            assert isinstance(slot, int) and isinstance(shards, list)
            for entry in shards:
                assert isinstance(entry, list)
                low, high, master = entry[0], entry[1], entry[2]
                assert isinstance(low, int) and isinstance(high, int)
                if low <= slot <= high and isinstance(master, list):
                    port = master[1]
                    return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no running node serves the slot of {key!r}")

    def stop(self) -> None:
        """Stop every node and remove their temp dirs. Idempotent."""
        for node in self.nodes:
            node.stop(timeout=2.0)

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ----------------------------------------------------------------------------- sentinel


class _SentinelProcess(RedisServer):
    """A ``redis-server --sentinel`` process with a generated config file."""

    def __init__(self, port: int | None, config: str) -> None:
        super().__init__(port)
        self._config = config

    def _prepare(self, directory: str) -> None:
        path = os.path.join(directory, "sentinel.conf")
        if not os.path.exists(path):  # Sentinel rewrites it; keep its state across restarts
            with open(path, "w") as f:
                f.write(f"port {self.port}\n{self._config}")

    def _argv(self, directory: str) -> list[str]:
        return [
            find_binary("redis-server"),
            os.path.join(directory, "sentinel.conf"),
            "--sentinel",
            "--bind",
            self.host,
            "--daemonize",
            "no",
            "--dir",
            directory,
            "--logfile",
            os.path.join(directory, "redis.log"),
            "--protected-mode",
            "no",
        ]


def _replica_linked(replica: RedisServer) -> bool:
    return "master_link_status:up" in str(replica.command("INFO", "replication"))


class RedisSentinel:
    """One Sentinel monitoring ``master`` as ``service`` (quorum 1, down after 1 s).

    With ``replicas=N`` it also starts N replicas of ``master`` (owned and stopped by this
    object) so a failover can happen: ``kill()`` the master and wait with
    ``wait_failover()``, or force one with ``failover()``. The master is not stopped here.
    """

    start_timeout = 10.0

    def __init__(
        self,
        master: RedisServer,
        service: str = "mymaster",
        *,
        replicas: int = 0,
        port: int | None = None,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.master = master
        self.service = service
        replica_args: list[str] = ["--replicaof", master.host, str(master.port)]
        if master.password is not None:
            replica_args += ["--masterauth", master.password]
        self.replicas = [
            RedisServer(args=replica_args, password=master.password) for _ in range(replicas)
        ]
        config = [
            f"sentinel monitor {service} {master.host} {master.port} 1",
            f"sentinel down-after-milliseconds {service} {down_after_ms}",
            f"sentinel failover-timeout {service} {failover_timeout_ms}",
        ]
        if master.password is not None:
            config.append(f"sentinel auth-pass {service} {master.password}")
        self.process = _SentinelProcess(port, "\n".join(config) + "\n")

    @property
    def host(self) -> str:
        """The Sentinel's host."""
        return self.process.host

    @property
    def port(self) -> int:
        """The Sentinel's port."""
        return self.process.port

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``[(host, port)]`` of the Sentinel, as redis-py's ``Sentinel()`` takes them."""
        return [self.process.address]

    @property
    def url(self) -> str:
        """``redis+sentinel://127.0.0.1:SP/SERVICE/0`` (``:PASSWORD@`` for a password master)."""
        auth = ""
        if self.master.password is not None:
            auth = f":{quote(self.master.password, safe='')}@"
        return f"redis+sentinel://{auth}{self.host}:{self.port}/{self.service}/0"

    def master_address(self) -> tuple[str, int] | None:
        """``SENTINEL get-master-addr-by-name`` as ``(host, port)``."""
        reply = self.process.command("SENTINEL", "get-master-addr-by-name", self.service)
        if not isinstance(reply, list) or len(reply) != 2:
            return None
        return (str(reply[0]), int(str(reply[1])))

    def master_state(self) -> dict[str, str]:
        """``SENTINEL MASTER`` as a dict (``ip``, ``port``, ``flags``, ...)."""
        reply = self.process.command("SENTINEL", "MASTER", self.service)
        assert isinstance(reply, list)
        return {str(k): str(v) for k, v in zip(reply[::2], reply[1::2], strict=True)}

    def known_replicas(self) -> int:
        """How many replicas the Sentinel knows of (and sees up)."""
        reply = self.process.command("SENTINEL", "replicas", self.service)
        assert isinstance(reply, list)
        count = 0
        for entry in reply:
            assert isinstance(entry, list)
            fields = dict(zip(entry[::2], entry[1::2], strict=True))
            if "s_down" not in str(fields.get("flags", "")):
                count += 1
        return count

    def start(self) -> RedisSentinel:
        """Start the replicas and the Sentinel; wait until it names the master; returns self."""
        try:
            for replica in self.replicas:
                replica.start()
            for replica in self.replicas:
                _wait(
                    f"replica {replica.port} linked to its master",
                    functools.partial(_replica_linked, replica),
                    self.start_timeout,
                )
            self.process.start()
            expected = self.master.address
            _wait(
                "SENTINEL get-master-addr-by-name",
                lambda: self.master_address() == expected,
                self.start_timeout,
            )
            _wait(
                "Sentinel to discover the replicas",
                lambda: self.known_replicas() >= len(self.replicas),
                self.start_timeout,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def wait_failover(self, timeout: float = 20.0) -> RedisServer:
        """Wait until the Sentinel switched to a promoted replica (failover done); returns it."""
        old = self.master.address
        promoted: list[RedisServer] = []

        def moved() -> bool:
            state = self.master_state()
            address = (state.get("ip", ""), int(state.get("port", "0")))
            flags = set(state.get("flags", "").split(","))
            if address == old or flags & {"s_down", "o_down", "failover_in_progress"}:
                return False  # get-master-addr-by-name switches earlier, mid-failover
            for replica in self.replicas:
                if replica.address == address:
                    role = replica.command("ROLE")
                    if isinstance(role, list) and role[0] == "master":
                        promoted[:] = [replica]
                        return True
            return False

        _wait(f"Sentinel failover of {self.service}", moved, timeout, interval=0.1)
        return promoted[0]

    def failover(self, timeout: float = 20.0) -> RedisServer:
        """Force a failover (``SENTINEL FAILOVER``) and wait for it; returns the new master."""
        if not self.replicas:
            raise RuntimeError("a failover needs RedisSentinel(..., replicas=1) or more")
        self.process.command("SENTINEL", "FAILOVER", self.service)
        return self.wait_failover(timeout)

    def stop(self) -> None:
        """Stop the Sentinel and the replicas it started (not the master). Idempotent."""
        self.process.stop(timeout=2.0)
        for replica in self.replicas:
            replica.stop(timeout=2.0)

    def __enter__(self) -> RedisSentinel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ----------------------------------------------------------------------------- ACL


class _ExecutesCommands(Protocol):
    def execute_command(self, *args: object, **options: object) -> object: ...


def _with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or HOST
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def acl_user(
    target: str | RedisServer | RedisCluster | _ExecutesCommands,
    user: str = "memo",
    password: str | None = None,
    *,
    keys: Sequence[str] = ("memo:*",),
    channels: Sequence[str] = ("memo:*", "__redis__:invalidate"),
    commands: Sequence[str] = ("+@all", "-@dangerous"),
) -> str:
    """Create (or reset) an ACL user limited to ``memo:*`` keys without ``@dangerous`` commands.

    ``target`` is an admin URL, a `RedisServer`, a `RedisCluster` (the user is made on every
    node) or a redis-py client. Returns the target's URL with ``user:password@``. The user may
    use CLIENT TRACKING (incl. BCAST PREFIX) and subscribe to ``__redis__:invalidate`` (RESP2
    tracking redirect) and ``memo:*`` channels; it cannot run `ACL_DENIED_EXAMPLES`.
    """
    password = password if password is not None else secrets.token_hex(16)
    rules = ["reset", "on", f">{password}", "resetkeys", "resetchannels"]
    rules += [f"~{pattern}" for pattern in keys]
    rules += [f"&{pattern}" for pattern in channels]
    rules += list(commands)
    if isinstance(target, RedisCluster):
        for node in target.nodes:
            if node.running and not node.paused:
                node.command("ACL", "SETUSER", user, *rules)
        return _with_credentials(target.url, user, password)
    if isinstance(target, RedisServer):
        target.command("ACL", "SETUSER", user, *rules)
        return _with_credentials(target.url, user, password)
    if isinstance(target, str):
        parts = urlsplit(target)
        command(
            parts.port or 6379,
            "ACL",
            "SETUSER",
            user,
            *rules,
            host=parts.hostname or HOST,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )
        return _with_credentials(target, user, password)
    target.execute_command("ACL", "SETUSER", user, *rules)
    pool = getattr(target, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {})
    host = kwargs.get("host", HOST)
    port = kwargs.get("port", 6379)
    db = kwargs.get("db", 0)
    return _with_credentials(f"redis://{host}:{port}/{db}", user, password)
