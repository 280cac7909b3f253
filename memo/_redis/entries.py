"""The one place L2 values become bytes and back: the codec above the bytes-level backend.

An entry's bytes carry its value and metadata (created, expiry, compute time δ, soft
deadline, generation) in the codec's envelope; reading one back checks it against the
function's current generation and puts its deadlines on this process's clock
(`_policy/entry.localize`, the soft rule). The backend below never sees a Python value.

A function whose return annotation calls for typed storage (`_codec/returns.py`) registers
its keys' prefix: its entries use its own codec, found from the Redis key's prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memo._clock import CLOCK
from memo._codec.envelope import Codec, Rejected, Stale
from memo._codec.forms import ANNOTATE_HINT
from memo._codec.returns import ReturnType
from memo._errors import SerializationError
from memo._policy.entry import RemoteEntry, localize
from memo._policy.plan import L1Copy
from memo._redis.transport import key_hash

__all__ = ["Entries"]


class Entries:
    """Encodes values for L2 and decodes what L2 returns; counts entries it rejects."""

    def __init__(self, codec: Codec, log: Callable[[str], None]) -> None:
        self.codec = codec
        self.corrupt = 0
        self._log = log
        self.returns: dict[str, ReturnType] = {}  # key prefix -> return type, per function

    def register(self, prefix: str, returns: ReturnType | None) -> None:
        """The function whose Redis keys start with prefix returns this annotated type."""
        if returns is not None:
            self.returns[prefix] = returns

    def codec_for(self, remote: str) -> Codec:
        """The codec of the function that owns Redis key remote (the store's by default)."""
        if not self.returns:
            return self.codec
        returns = self.returns.get(remote[: remote.rfind("{")])
        return self.codec if returns is None else returns.codec(self.codec)

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
        if type(value) is L1Copy:  # l1_copy: L1 keeps the pickle, Redis gets the value itself
            value = value.restore()
        try:
            data = self.codec_for(remote).encode(
                remote,
                value,
                created=now,
                expires=None if ttl is None else now + ttl,
                delta=delta,
                soft=None if soft is None else now + soft,
                generation=generation,
            )
        except SerializationError as exc:
            explained = self._explained(remote, exc)
            if explained is exc:
                raise
            raise explained from exc
        return data, 0 if ttl is None else max(1, int(ttl * 1000))

    def decode(self, remote: str, data: bytes, generation: int) -> RemoteEntry | None:
        """The entry in data, or None: expired, of an older generation (a plain miss) or
        failing a check (counted and logged by key hash, then overwritten by the next write)."""
        try:
            codec = self.codec_for(remote) if self.returns else self.codec
            decoded = codec.decode(remote, data, generation)
        except Stale:
            return None
        except Rejected as exc:
            self.corrupt += 1
            self._log(f"rejected L2 entry {key_hash(remote)} ({exc.reason}); a miss")
            return None
        return localize(
            decoded.value,
            decoded.created,
            decoded.expires,
            decoded.delta,
            decoded.soft,
            now_wall=CLOCK.time(),
            now=CLOCK.monotonic(),
        )

    def _explained(self, remote: str, exc: SerializationError) -> SerializationError:
        """exc, with the reason its function's annotation did not make it typed (if any)."""
        returns = self.returns.get(remote[: remote.rfind("{")]) if self.returns else None
        if returns is None or returns.note is None:
            return exc
        return SerializationError(str(exc).replace(ANNOTATE_HINT, f"{returns.note}."))
