"""The one place L2 values become bytes and back: the codec above the bytes-level backend.

An entry's bytes carry its value and metadata (created, expiry, compute time δ, soft
deadline, generation) in the codec's envelope; reading one back checks it against the
function's current generation and puts its deadlines on this process's clock
(`_policy/entry.localize`, the soft rule). The backend below never sees a Python value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memo._clock import CLOCK
from memo._codec.envelope import Codec, Rejected, Stale
from memo._policy.entry import RemoteEntry, localize
from memo._redis.transport import key_hash

__all__ = ["Entries"]


class Entries:
    """Encodes values for L2 and decodes what L2 returns; counts entries it rejects."""

    def __init__(self, codec: Codec, log: Callable[[str], None]) -> None:
        self.codec = codec
        self.corrupt = 0
        self._log = log

    def encode(
        self,
        remote: str,
        value: Any,
        ttl: float | None,
        *,
        delta: float,
        soft: float | None,
        generation: int,
    ) -> tuple[bytes, int]:
        """The entry's bytes (stamped with its soft deadline and generation) and its PX."""
        now = CLOCK.time()
        data = self.codec.encode(
            remote,
            value,
            created=now,
            expires=None if ttl is None else now + ttl,
            delta=delta,
            soft=None if soft is None else now + soft,
            generation=generation,
        )
        return data, 0 if ttl is None else max(1, int(ttl * 1000))

    def decode(self, remote: str, data: bytes, generation: int) -> RemoteEntry | None:
        """The entry in data, or None: expired, of an older generation (a plain miss) or
        failing a check (counted and logged by key hash, then overwritten by the next write)."""
        try:
            decoded = self.codec.decode(remote, data, generation)
        except Stale:
            return None
        except Rejected as exc:
            self.corrupt += 1
            self._log(f"memo: rejected L2 entry {key_hash(remote)} ({exc.reason}); a miss")
            return None
        return localize(
            decoded.value,
            created=decoded.created,
            expires=decoded.expires,
            delta=decoded.delta,
            soft=decoded.soft,
            now_wall=CLOCK.time(),
            now=CLOCK.monotonic(),
        )
