"""The narrow protocol every store implements, whatever its tiers."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, MutableMapping
from typing import Any, Protocol, runtime_checkable

from memo._keys.key import CacheKey
from memo._policy.entry import Entry

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """get / set / delete / delete_tag, leases and generations, each with an awaitable twin.

    `l1` is the store's in-process dict (L1 key → Entry) that the hit path reads directly,
    or None when the store has no in-process tier. A store whose every lookup is that dict
    and nothing else may say so with a class attribute `in_process_only = True` (MemoryStore
    does): its functions then skip a repeated lookup and never hash a Redis key unasked.
    """

    @property
    def l1(self) -> MutableMapping[Hashable, Entry] | None: ...

    def get(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None: ...

    def set(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float = 0.0,
        tags: Iterable[str] = (),
        token: str = "",
        mode: str = "set",
        soft: float | None = None,
    ) -> bool: ...

    def delete(self, key: CacheKey) -> bool: ...

    def delete_tag(self, tag: str) -> int: ...

    async def aget(
        self, key: CacheKey, *, local_only: bool = False, fresh: bool = False
    ) -> Entry | None: ...

    async def aset(
        self,
        key: CacheKey,
        value: Any,
        ttl: float | None,
        *,
        delta: float = 0.0,
        tags: Iterable[str] = (),
        token: str = "",
        mode: str = "set",
        soft: float | None = None,
    ) -> bool: ...

    async def adelete(self, key: CacheKey) -> bool: ...

    async def adelete_tag(self, tag: str) -> int: ...

    def get_many(self, keys: list[CacheKey]) -> list[Entry | None]: ...

    def set_many(self, items: list[Any]) -> int: ...

    async def aget_many(self, keys: list[CacheKey]) -> list[Entry | None]: ...

    async def aset_many(self, items: list[Any]) -> int: ...

    def claim(self, key: CacheKey, token: str, *, tags: tuple[str, ...] = ()) -> bool | None: ...

    async def aclaim(
        self, key: CacheKey, token: str, *, tags: tuple[str, ...] = ()
    ) -> bool | None: ...

    def fetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]: ...

    async def afetch(self, key: CacheKey, token: str) -> tuple[Entry | None, bool | None]: ...

    def release(self, key: CacheKey, token: str) -> None: ...

    async def arelease(self, key: CacheKey, token: str) -> None: ...

    def wait(self, key: CacheKey, timeout: float) -> None: ...

    async def await_fill(self, key: CacheKey, timeout: float) -> None: ...

    def generation(self, name: str) -> int: ...

    def bump_generation(self, name: str) -> int | None: ...

    async def abump_generation(self, name: str) -> int | None: ...

    def close(self) -> None: ...
