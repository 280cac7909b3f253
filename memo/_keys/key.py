"""The key of one cached call: its L1 key and its Redis key, and nothing else.

A `CacheKey` is immutable. Its Redis key is a pure function of the namespace, the function,
its version and the call's values (`KeyBuilder.remote`): computing it never reads Redis, so
`f.cache_key()` needs no server and equals the key the next call uses. The Redis key may be
handed over ready (`CacheKey`), or as a pure callable computed on first use and then kept
(`LazyCacheKey`: L1-only stores never need it); either way the key reads the same every time.

What happens to a call on its way through the tiers (a failure, an outage, the generation
its lookup saw) is not the key's business: see `memo._policy.trace`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

__all__ = ["CacheKey", "LazyCacheKey"]


class CacheKey:
    """Both names of one cached call: `local` (the L1 key) and `remote` (the Redis key).

    Read-only: both are properties over private slots, and there is no other attribute to
    set (no `__dict__`). A plain `__init__` keeps building one as cheap as a small tuple.
    The Redis key is handed over ready here; `LazyCacheKey` computes it on first use.
    """

    __slots__ = ("_local", "_remote")

    def __init__(self, local: Hashable, remote: str) -> None:
        self._local = local
        self._remote: str | None = remote

    # Both are read several times per call that reaches a tier: C-level getters keep them
    # off the Python call stack (no frame per read).
    local: Hashable = property(attrgetter("_local"), doc="The key of the in-process tier.")
    if TYPE_CHECKING:  # read-only for the type checker, as LazyCacheKey's property

        @property
        def remote(self) -> str:
            """The Redis key: `memo:{namespace}:{module.qualname}:v{version}:{<digest>}`."""
    else:
        remote = property(
            attrgetter("_remote"),
            doc="The Redis key: `memo:{namespace}:{module.qualname}:v{version}:{<digest>}`.",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._local!r})"


class LazyCacheKey(CacheKey):
    """A key whose Redis key is computed (hashing the canonical encoding, no I/O) the first
    time it is read, then kept: for L1-only stores, which never read it on most calls."""

    __slots__ = ("_make", "_values")

    def __init__(
        self,
        local: Hashable,
        make: Callable[[Hashable, tuple[Any, ...]], str],
        values: tuple[Any, ...],
    ) -> None:
        # make(local, values) is the Redis key: the maker and its arguments are kept apart,
        # not bound in a partial, so a key that is never asked for costs no allocation more.
        self._local = local
        self._remote = None
        self._make: Callable[[Hashable, tuple[Any, ...]], str] | None = make
        self._values = values

    @property
    def remote(self) -> str:
        """The Redis key, computed on first use: a pure function of the call, so it reads
        the same every time."""
        remote = self._remote
        if remote is None:
            make = self._make
            assert make is not None
            remote = self._remote = make(self._local, self._values)
            self._make = None
            self._values = ()
        return remote
