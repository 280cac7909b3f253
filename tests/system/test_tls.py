"""rediss:// — the cache over TLS, against a real redis-server with a self-signed CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import memo
from tests.support.redis_fixtures import require_redis
from tests.support.redis_servers import RedisServer, free_port


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make test certificates: apt-get install openssl")
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=memo-ca",
            "-keyout",
            ca_key,
            "-out",
            ca_crt,
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            csr,
        ],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_crt,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            crt,
        ],
    ]
    for step in steps:
        subprocess.run([openssl, *map(str, step)], check=True, capture_output=True, timeout=60)
    return ca_crt, crt, key


@pytest.fixture
def tls_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server with a TLS port; the URL trusts only the test CA."""
    ca, crt, key = make_certificates(tmp_path)
    port = free_port()
    args = [
        "--tls-port",
        str(port),
        "--tls-cert-file",
        str(crt),
        "--tls-key-file",
        str(key),
        "--tls-ca-cert-file",
        str(ca),
        "--tls-auth-clients",
        "no",
    ]
    server = require_redis("redis-server with TLS", RedisServer(args=args).start)
    yield f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}&ssl_cert_reqs=required"
    server.stop()


def test_rediss_url(tls_url: str, namespace: str) -> None:
    """Entries go through TLS: shared between two stacks, sync and async."""
    calls: list[int] = []

    def square(x: int) -> int:
        calls.append(x)
        return x * x

    square.__qualname__ = "tls_square"
    stacks = [
        memo.TieredStore(memo.MemoryStore(), memo.RedisStore(tls_url, namespace=namespace))
        for _ in range(2)
    ]
    a, b = (memo.cached(store=s)(square) for s in stacks)
    assert a(4) == 16
    assert b(4) == 16
    assert calls == [4]
    assert b.stats.l2_hits == 1
    assert b.stats.errors == 0


def test_untrusted_certificate_degrades(tls_url: str, namespace: str) -> None:
    """A server whose certificate is not trusted is an L2 failure: counted, never raised."""
    untrusted = tls_url.split("?", maxsplit=1)[0] + "?ssl_cert_reqs=required"
    f = memo.cached(store=memo.RedisStore(untrusted, namespace=namespace))(lambda x: x + 1)
    assert f(1) == 2
    assert f.stats.errors >= 1
