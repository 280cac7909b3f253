"""Making redis-py clients from a URL, with timeouts a cache can live with.

redis-py's defaults block for a minute on a hung server and retry timeouts; a cache must
give up in a fraction of a second and retry only a broken connection, once. Supported URLs:
`redis://`, `rediss://` (TLS), `unix://`, `redis+sentinel://host:port[,host:port]/service[/db]`
and Redis Cluster as `redis+cluster://host:port[,host:port]` or any URL with `?cluster=true`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from memo._errors import ConfigurationError

__all__ = [
    "RETRY_WINDOW",
    "Endpoint",
    "close_with_loop",
    "direct_pool",
    "import_redis",
    "make_client",
    "parse_url",
]

_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+sentinel",
    "rediss+sentinel",
    "redis+cluster",
    "rediss+cluster",
)


def import_redis() -> Any:
    """redis-py, or a ConfigurationError that says how to install it."""
    try:
        import redis  # noqa: PLC0415 - optional extra, imported on first use
    except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
        raise ConfigurationError(
            "memo's Redis tier needs redis-py: pip install 'memo-cache[redis]'"
        ) from exc
    return redis


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach Redis, parsed from a URL."""

    kind: str  # "standalone" | "sentinel" | "cluster"
    url: str  # for standalone: the URL redis-py takes; otherwise the original
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    @property
    def name(self) -> str:
        """host:port (or service name) for logs, never with credentials."""
        if self.kind == "sentinel":
            return f"sentinel:{self.service}"
        if self.hosts:
            return ",".join(f"{h}:{p}" for h, p in self.hosts)
        return urlsplit(self.url).path or "unix"

    def options(self, timeout: float, *, sync: bool = True) -> dict[str, Any]:
        """Client keyword arguments: short timeouts, connection errors retried once.

        The asyncio client needs redis.asyncio's Retry: the sync one would hand back the
        coroutine unawaited, and nothing would ever be retried.
        """
        redis = import_redis()
        from redis.backoff import NoBackoff  # noqa: PLC0415

        retry_class = _quick_retry(sync=sync)
        retry = retry_class(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        return {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": retry,
            "health_check_interval": 0,
            **_no_client_setinfo(redis),
        }


RETRY_WINDOW = 0.05  # seconds: a connection error that came later than this is not retried


@functools.cache
def _quick_retry(*, sync: bool) -> Any:
    """redis-py's Retry (of the colour), retrying only a connection error that came at once.

    A pooled connection the server closed fails at once, and one retry on a fresh connection
    hides it. An error that came after a wait (a link that hung, then broke) is not retried:
    the retry could wait one more socket timeout, and a call gets one (docs/failures.md).
    """
    redis = import_redis()
    if sync:

        class QuickRetry(redis.retry.Retry):  # type: ignore[misc, name-defined]
            def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
                # No closure here: a closure's variables would be cells made on every call
                # (two calls per command), used only when the command failed.
                started = time.monotonic()
                try:
                    return do()
                except self._supported_errors as error:
                    first = error
                return self._again(first, started, do, fail, *args, **kwargs)

            def _again(
                self, error: Exception, started: float, do: Any, fail: Any, *args: Any, **kw: Any
            ) -> Any:
                replay, errors = [error], list[Exception]()

                def attempt() -> Any:  # redis-py's loop decides, the failure replayed first
                    if replay:
                        raise replay.pop()
                    if time.monotonic() - started > RETRY_WINDOW:
                        raise errors[-1]
                    return do()

                def failed(error: Exception, *count: Any) -> Any:
                    errors.append(error)
                    return fail(error, *count)

                return super().call_with_retry(attempt, failed, *args, **kw)

        return QuickRetry

    class AsyncQuickRetry(redis.asyncio.retry.Retry):  # type: ignore[misc, name-defined]
        async def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:  # no closure here: its cells would be made on every call (QuickRetry)
                return await do()
            except self._supported_errors as error:
                first = error
            return await self._again(first, started, do, fail, *args, **kwargs)

        async def _again(
            self, error: Exception, started: float, do: Any, fail: Any, *args: Any, **kw: Any
        ) -> Any:
            replay, errors = [error], list[Exception]()

            async def attempt() -> Any:  # redis-py's loop decides, the failure replayed first
                if replay:
                    raise replay.pop()
                if time.monotonic() - started > RETRY_WINDOW:
                    raise errors[-1]
                return await do()

            async def failed(error: Exception, *count: Any) -> Any:
                errors.append(error)
                return await fail(error, *count)

            return await super().call_with_retry(attempt, failed, *args, **kw)

    return AsyncQuickRetry


def direct_pool(client: Any) -> Any:
    """The pool a Link may take connections from and send on directly, or None when the
    client's commands must go through its `execute_command` (`_async/link.py`): a Cluster
    client (no pool: it routes by slot), one bound to a single connection, one with
    redis-py's client-side cache (filled in execute_command), or one whose execute_command is
    not redis-py's own (a subclass's, or tracing instrumentation wrapping it)."""
    redis = import_redis()
    pool = getattr(client, "connection_pool", None)
    single = ("connection", "_single_connection_client", "single_connection_client")
    if pool is None or any(getattr(client, name, None) for name in single):
        return None  # (the asyncio client binds its single connection at its first command)
    if getattr(pool, "cache", None) is not None:
        return None
    own = (redis.Redis.execute_command, redis.asyncio.Redis.execute_command)
    execute = getattr(type(client), "execute_command", None)
    if execute not in own or hasattr(execute, "__wrapped__"):
        return None
    return pool


def _no_client_setinfo(redis: Any) -> dict[str, Any]:
    """Skip CLIENT SETINFO on each new connection: two round trips, and redis-py reads its
    package metadata from disk to fill them in (milliseconds, in an event loop too)."""
    parameters = inspect.signature(redis.Redis.__init__).parameters
    if "driver_info" in parameters:
        return {"driver_info": None}
    return {"lib_name": None} if "lib_name" in parameters else {}


def parse_url(url: str) -> Endpoint:
    """An Endpoint from any supported URL; ConfigurationError naming the problem otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"Redis URL {_redact(url)!r}: unknown scheme {scheme!r}; use redis://, rediss://, "
            "unix://, redis+sentinel://host:port/service or redis+cluster://host:port."
        )
    query = dict(parse_qsl(parts.query))
    cluster = scheme.endswith("+cluster") or query.pop("cluster", "").lower() in ("1", "true")
    tls = scheme.startswith("rediss")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if scheme.endswith("+sentinel"):
        return _sentinel(url, parts, username, password, tls)
    if cluster:
        return Endpoint(
            "cluster", url, _hosts(url, parts.netloc), username=username, password=password, tls=tls
        )
    plain = urlunsplit(
        ("rediss" if tls else scheme, parts.netloc, parts.path, urlencode(query), "")
    )
    _check_database(url, "" if scheme == "unix" else parts.path, query.get("db"))
    hosts = () if scheme == "unix" else ((parts.hostname or "localhost", _port(url, parts)),)
    return Endpoint("standalone", plain, hosts, username=username, password=password, tls=tls)


def _sentinel(
    url: str, parts: Any, username: str | None, password: str | None, tls: bool
) -> Endpoint:
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise ConfigurationError(
            f"Redis URL {_redact(url)!r}: a sentinel URL names the service, e.g. "
            "redis+sentinel://127.0.0.1:26379/mymaster/0"
        )
    _check_database(url, "/".join(segments[1:]), None)
    db = int(segments[1]) if len(segments) > 1 else 0
    return Endpoint(
        "sentinel",
        url,
        _hosts(url, parts.netloc),
        service=segments[0],
        db=db,
        username=username,
        password=password,
        tls=tls,
    )


def _check_database(url: str, path: str, query_db: str | None) -> None:
    """A database number in the path (`/0`) or the query (`?db=0`) must be a number."""
    for db in (path.strip("/"), query_db or ""):
        if db and not db.isdigit():
            raise ConfigurationError(
                f"Redis URL {_redact(url)!r}: the database must be a number such as /0, not {db!r}."
            )


def _port(url: str, parts: Any) -> int:
    try:
        return int(parts.port or 6379)
    except ValueError:
        raise ConfigurationError(
            f"Redis URL {_redact(url)!r}: the port must be a number, e.g. redis://host:6379/0."
        ) from None


def _hosts(url: str, netloc: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError(
                f"Redis URL {_redact(url)!r}: expected host:port[,host:port], got {item!r}"
            )
        hosts.append((host.strip("[]"), int(port)))
    return tuple(hosts)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest


def make_client(endpoint: Endpoint | None, timeout: float, *, sync: bool) -> Any:
    if endpoint is None:
        raise ConfigurationError(
            "RedisStore(client=...) was given without async_client=; pass both to use "
            "async def functions, or build the store from a url=."
        )
    redis = import_redis()
    options = endpoint.options(timeout, sync=sync)
    if endpoint.kind == "standalone":
        factory = redis.Redis if sync else redis.asyncio.Redis
        return factory.from_url(endpoint.url, **options, **_without_maintenance_handshake())
    auth = {"username": endpoint.username, "password": endpoint.password}
    if endpoint.kind == "cluster":
        return _cluster_client(redis, endpoint, options, auth, sync=sync)
    module = redis.sentinel if sync else redis.asyncio.sentinel
    sentinel = module.Sentinel(
        list(endpoint.hosts),
        sentinel_kwargs={"socket_timeout": timeout},
        **options,
        **auth,
        db=endpoint.db,
        ssl=endpoint.tls,
    )
    client = sentinel.master_for(endpoint.service)
    client.memo_sentinel = sentinel  # its connections to the sentinels close with the client
    return client


def _without_maintenance_handshake() -> dict[str, Any]:
    """redis-py 8 asks each new connection for maintenance notifications, which older
    servers refuse with an error and a log line: a round trip a cache does not need."""
    try:
        from redis.maint_notifications import MaintNotificationsConfig  # noqa: PLC0415
    except ImportError:  # redis-py before the feature: nothing to turn off
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def _cluster_client(
    redis: Any, endpoint: Endpoint, options: dict[str, Any], auth: dict[str, Any], *, sync: bool
) -> Any:
    options = {k: v for k, v in options.items() if k != "health_check_interval"}
    if sync:
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in endpoint.hosts]
        return redis.cluster.RedisCluster(startup_nodes=nodes, ssl=endpoint.tls, **auth, **options)
    nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in endpoint.hosts]
    return redis.asyncio.cluster.RedisCluster(
        startup_nodes=nodes, ssl=endpoint.tls, **auth, **options
    )


async def close_with_loop(client: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await _aclose(client)


async def _aclose(client: Any) -> None:
    """Close an asyncio client with every connection it owns (its pool, its sentinels)."""
    with contextlib.suppress(Exception):
        await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.disconnect()
    for sentinel in getattr(getattr(client, "memo_sentinel", None), "sentinels", ()):
        await _aclose(sentinel)
