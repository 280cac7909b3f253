#!/usr/bin/env bash
# Make sure redis-server and redis-cli are on this machine. The test suite starts its own
# servers on free loopback ports and stops them afterwards; this only installs the binaries.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "redis-server missing: installing Debian's redis-server package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
    # The package starts a system service on :6379; the tests use their own servers.
    (service redis-server stop || true) >/dev/null 2>&1
    exit 0
fi
echo "redis-server is not installed. Install it with: sudo apt-get install redis-server" >&2
echo "(or brew install redis on macOS), then run make test again." >&2
exit 1
