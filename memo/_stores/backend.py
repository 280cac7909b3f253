"""The narrow protocol of an L2 backend: keys and bytes, never Python values.

A backend stores the bytes the entry codec made (`_redis/entries.py`) and hands them back;
`None` is a miss. Beside get / set / delete / close it has only what the strategies and the
tiered store need: tags, pipelined batches, leases, and the functions' shared generations
(the codec checks an entry against its function's current one). Every I/O member has an
awaitable twin. `RedisBackend` (`_redis/backend.py`) implements it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from memo._keys.key import CacheKey
from memo._redis.commands import Write

__all__ = ["L2Backend", "Write"]


@runtime_checkable
class L2Backend(Protocol):
    """get / set / delete / delete_tag, batches, leases and generations, in both colours."""

    def get(self, key: CacheKey) -> bytes | None: ...

    def set(
        self,
        key: CacheKey,
        data: bytes,
        ttl_ms: int,
        *,
        tags: tuple[str, ...] = (),
        token: str = "",
        mode: str = "set",
    ) -> bool: ...

    def delete(self, key: CacheKey) -> bool: ...

    def delete_tag(self, tag: str) -> list[str]: ...

    def get_many(self, keys: list[CacheKey]) -> list[bytes | None]: ...

    def set_many(self, items: list[Write]) -> int: ...

    def claim(
        self, key: CacheKey, token: str, ttl: float | None = None, tags: tuple[str, ...] = ()
    ) -> bool | None: ...

    def fetch(
        self, key: CacheKey, token: str, ttl: float | None = None
    ) -> tuple[bytes | None, bool | None]: ...

    def release(self, key: CacheKey, token: str) -> None: ...

    def wait(self, key: CacheKey, timeout: float) -> None: ...

    def generation_of(self, key: CacheKey) -> int: ...

    def generations_of(self, keys: list[CacheKey]) -> list[int]: ...

    def bump_generation(self, name: str) -> int | None: ...

    def close(self) -> None: ...

    async def aget(self, key: CacheKey) -> bytes | None: ...

    async def aset(
        self,
        key: CacheKey,
        data: bytes,
        ttl_ms: int,
        *,
        tags: tuple[str, ...] = (),
        token: str = "",
        mode: str = "set",
    ) -> bool: ...

    async def adelete(self, key: CacheKey) -> bool: ...

    async def adelete_tag(self, tag: str) -> list[str]: ...

    async def aget_many(self, keys: list[CacheKey]) -> list[bytes | None]: ...

    async def aset_many(self, items: list[Write]) -> int: ...

    async def aclaim(
        self, key: CacheKey, token: str, ttl: float | None = None, tags: tuple[str, ...] = ()
    ) -> bool | None: ...

    async def afetch(
        self, key: CacheKey, token: str, ttl: float | None = None
    ) -> tuple[bytes | None, bool | None]: ...

    async def arelease(self, key: CacheKey, token: str) -> None: ...

    async def await_fill(self, key: CacheKey, timeout: float) -> None: ...

    async def ageneration_of(self, key: CacheKey) -> int: ...

    async def agenerations_of(self, keys: list[CacheKey]) -> list[int]: ...

    async def abump_generation(self, name: str) -> int | None: ...


if TYPE_CHECKING:  # mypy proves the Redis backend has every member, with these signatures
    from memo._redis.backend import RedisBackend

    _REDIS: type[L2Backend] = RedisBackend
