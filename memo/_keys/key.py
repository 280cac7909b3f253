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

__all__ = ["CacheKey"]


class CacheKey:
    """Both names of one cached call: `local` (the L1 key) and `remote` (the Redis key)."""

    __slots__ = ("_local", "_make", "_remote")

    _local: Hashable
    _remote: str | None
    _make: Callable[[], str] | None

    def __init__(self, local: Hashable, remote: str | Callable[[], str]) -> None:
        set_slot = object.__setattr__
        set_slot(self, "_local", local)
        if isinstance(remote, str):
            set_slot(self, "_remote", remote)
            set_slot(self, "_make", None)
        else:
            set_slot(self, "_remote", None)
            set_slot(self, "_make", remote)

    @property
    def local(self) -> Hashable:
        """The key of the in-process tier (it carries the function's token)."""
        return self._local

    @property
    def remote(self) -> str:
        """The Redis key: `memo:{namespace}:{module.qualname}:v{version}:{<digest>}`.

        Computed (hashing the canonical encoding, no I/O) the first time it is read.
        """
        remote = self._remote
        if remote is None:
            make = self._make
            assert make is not None
            remote = make()
            object.__setattr__(self, "_remote", remote)
            object.__setattr__(self, "_make", None)
        return remote

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"CacheKey is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"CacheKey is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"CacheKey({self._local!r})"
