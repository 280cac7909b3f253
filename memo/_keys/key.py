"""The key of one cached call: its L1 key and its Redis key, and nothing else.

A `CacheKey` is immutable. Its Redis key is a pure function of the namespace, the function,
its version and the call's values (`KeyBuilder.remote`): computing it never reads Redis, so
`f.cache_key()` needs no server and equals the key the next call uses. The Redis key may be
handed over ready, or as a pure callable computed on first use (L1-only stores never need
it) and then kept; either way the key reads the same every time.

What happens to a call on its way through the tiers (a failure, an outage, the generation
its lookup saw) is not the key's business: see `memo._policy.trace`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter

__all__ = ["CacheKey"]


class CacheKey:
    """Both names of one cached call: `local` (the L1 key) and `remote` (the Redis key).

    Read-only: both are properties over private slots, and there is no other attribute to
    set (no `__dict__`). A plain `__init__` keeps building one as cheap as a small tuple.
    """

    __slots__ = ("_local", "_make", "_remote")

    def __init__(self, local: Hashable, remote: str | Callable[[], str]) -> None:
        self._local = local
        if isinstance(remote, str):
            self._remote: str | None = remote
            self._make: Callable[[], str] | None = None
        else:
            self._remote = None
            self._make = remote

    # The key of the in-process tier (it carries the function's token). Read several times
    # per miss: a C-level getter keeps it off the Python call stack (no frame per read).
    local: Hashable = property(attrgetter("_local"), doc="The key of the in-process tier.")

    @property
    def remote(self) -> str:
        """The Redis key: `memo:{namespace}:{module.qualname}:v{version}:{<digest>}`.

        Computed (hashing the canonical encoding, no I/O) the first time it is read, then
        kept: a pure function of the call, so it reads the same every time.
        """
        remote = self._remote
        if remote is None:
            make = self._make
            assert make is not None
            remote = self._remote = make()
            self._make = None
        return remote

    def __repr__(self) -> str:
        return f"CacheKey({self._local!r})"
