"""The entry codec: the one place that turns a cached value into L2 bytes and checks them back.

An entry is a fixed header, the payload (the serializer's bytes, maybe zlib-compressed) and
a check over both: a 32-byte HMAC-SHA256 tag when the codec has a secret, else an 8-byte
xxh3-64 checksum, so a flipped bit is a miss even unsigned. All integers big-endian.

======  ====  =========================================================================
offset  size  field
======  ====  =========================================================================
0       2     magic ``b"\\xcdM"``
2       1     format version (3; entries of any other version are refused, so a miss)
3       1     serializer id: 1 pickle, 2 json, 3 msgpack, 4 typed json, 5 typed msgpack,
              200 a user serializer
4       1     flags: bit 0 zlib-compressed, bit 1 signed; any other bit set is rejected
5       4     serializer tag: 0 for the untyped built-ins; typed: xxh32 of the annotated type's
              shape (class and field names, nesting); else xxh32 of the user serializer's name
9       8     key id: xxh3-64 of the Redis key (UTF-8), so an entry moved to another key is
              caught even unsigned
17      8     created: wall-clock seconds (f64)
25      8     expires: wall-clock seconds (f64); NaN means "no expiry" (it equals no instant)
33      8     delta: compute time in seconds (f64)
41      8     soft: wall-clock seconds (f64) after which a hit starts a background refresh,
              as the writer's policy decided; NaN means never
49      8     generation: the function's generation when the value was computed (u64); a
              reader that knows a newer one (an ``invalidate_all()``) treats it as a miss
57      4     payload length (u32)
61      n     payload
61+n    32    tag (signed entries): HMAC-SHA256 over key + ``b"\\0"`` + header + payload
61+n    8     checksum (unsigned entries): xxh3-64 over the same bytes
======  ====  =========================================================================

:meth:`Codec.decode` checks, in order: magic, version, flags, serializer, key id, payload
length, signature or checksum, generation (against the function's current one), then decompresses
(never past ``max_size``) and deserializes. Any failure is :class:`Rejected` with a reason;
nothing is decompressed or deserialized before the tag is verified, and an unsigned codec
never has pickle (entries claiming it are refused unread).
"""

from __future__ import annotations

import hmac
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import isnan
from typing import Any, NamedTuple

import xxhash

from memo._codec.serializers import USER_SERIALIZER_ID, Serializer, resolve, serializer_id
from memo._codec.signing import Hmac as _Hmac
from memo._codec.signing import secret_keys as _secret_keys
from memo._errors import ConfigurationError, SerializationError

__all__ = [
    "CHECKSUM_SIZE",
    "COMPRESSED",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "SIGNED",
    "TAG_SIZE",
    "Codec",
    "Decoded",
    "Header",
    "Rejected",
    "Stale",
]

MAGIC = b"\xcdM"
FORMAT_VERSION = 3
COMPRESSED = 0x01
SIGNED = 0x02
_KNOWN_FLAGS = COMPRESSED | SIGNED
# zlib's fastest level: on 100 KB payloads it compressed 2.4-2.6x faster than the default (6)
# for a ratio within 2% (1.70 against 1.74 on hex text, 7.03 against 7.16 on JSON records);
# inflating is as fast either way, and any level's stream reads the same.
_ZLIB_LEVEL = 1
_HEADER = struct.Struct(">2sBBBI8sddddQI")
HEADER_SIZE = _HEADER.size
TAG_SIZE = 32
CHECKSUM_SIZE = 8
_MAX_PAYLOAD = 2**32 - 1  # the u32 length field
_MAX_GENERATION = 2**64 - 1  # the u64 generation field
_NO_EXPIRY = float("nan")
_key_id = xxhash.xxh3_64_digest


class Rejected(Exception):
    """An L2 entry failed a check; the caller treats it as a miss (and overwrites it).

    ``reason``: "magic", "version", "flags", "serializer", "key", "truncated", "size",
    "signature", "checksum", "generation" (`Stale`), "decompress" or "decode".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stale(Rejected):
    """A sound entry of an older generation of its function: a plain miss, not a fault."""

    def __init__(self, generation: int) -> None:
        super().__init__("generation")
        self.generation = generation


class Decoded(NamedTuple):
    """A checked entry: the value and its metadata (``size`` is the whole entry's bytes).

    A named tuple: built by one C call on every L2 hit (a dataclass runs a Python
    `__init__` line per field).
    """

    value: Any
    created: float
    expires: float | None
    delta: float
    serializer: str
    signed: bool
    size: int
    soft: float | None = None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Header:
    """The header fields as stored, for ``memo inspect``; nothing past them is checked."""

    format_version: int
    serializer_id: int
    serializer_tag: int
    flags: int
    key_id: bytes
    created: float
    expires: float | None
    delta: float
    soft: float | None
    generation: int
    payload_length: int

    @property
    def compressed(self) -> bool:
        """Whether the payload is zlib-compressed."""
        return bool(self.flags & COMPRESSED)

    @property
    def signed(self) -> bool:
        """Whether the entry carries an HMAC tag after the payload."""
        return bool(self.flags & SIGNED)


def _checksum(kb: bytes, *parts: bytes | memoryview) -> bytes:
    """xxh3-64 over key + b"\\0" + parts: an unsigned entry's check against flipped bits."""
    h = xxhash.xxh3_64(kb)
    h.update(b"\0")
    for part in parts:
        h.update(part)
    return h.digest()


def _reader(s: Serializer) -> Callable[[Any], Any]:
    """`s.loads`, fed without a copy when `s` is a built-in (they all read memoryviews)."""
    if serializer_id(s) != USER_SERIALIZER_ID:
        return s.loads
    return lambda payload: s.loads(bytes(payload))  # the Serializer protocol promises bytes


def _serializer_tag(s: Serializer) -> int:
    # Tells user serializers apart: an entry written by another one is refused, not misread.
    return xxhash.xxh32_intdigest(s.name.encode()) if serializer_id(s) == USER_SERIALIZER_ID else 0


class Codec:
    """Makes and checks L2 entries for one store: serializer, secrets, compression, size cap.

    ``secret``: one secret, or a sequence for rotation. The last element is the newest and
    signs; every element verifies (newest first). ``compress_over``: zlib-compress payloads
    longer than this many bytes (``None``: never); kept only when it makes them smaller.
    ``max_size``: the largest serialized value, before and after compression.
    """

    __slots__ = (
        "_compress_over",
        "_flags",
        "_macs",
        "_read",
        "_sid",
        "_tag",
        "max_size",
        "serializer",
    )

    def __init__(
        self,
        serializer: str | Serializer | None = None,
        secret: str | bytes | Sequence[str | bytes] | None = None,
        *,
        compress_over: int | None = 16_384,
        max_size: int = 16 * 1024 * 1024,
    ) -> None:
        keys = _secret_keys(secret)
        if compress_over is not None and compress_over < 0:
            raise ConfigurationError(f"compress_over={compress_over!r} must be >= 0 or None")
        if not 0 < max_size <= _MAX_PAYLOAD:
            raise ConfigurationError(f"max_size={max_size!r} must be in 1..{_MAX_PAYLOAD}")
        self.serializer = resolve(serializer, signed=bool(keys))
        self._macs = tuple(_Hmac(k) for k in reversed(keys))  # newest first: it signs
        self._flags = SIGNED if keys else 0
        self._sid = serializer_id(self.serializer)
        self._tag = _serializer_tag(self.serializer)
        self._read = _reader(self.serializer)
        self._compress_over = compress_over
        self.max_size = max_size

    @property
    def signed(self) -> bool:
        """Whether entries are signed (and pickle therefore allowed)."""
        return bool(self._macs)

    def __repr__(self) -> str:
        return f"Codec(serializer={self.serializer.name!r}, signed={self.signed})"

    def retyped(self, serializer: Any, sid: int, tag: int) -> Codec:
        """This codec (secrets, compression, size cap) writing one function's typed payloads.

        `sid` and `tag` go into every header it writes and must match in every entry it
        reads: an entry of another type or serializer is Rejected("serializer"), unread.
        """
        typed = object.__new__(Codec)
        typed._macs, typed._flags = self._macs, self._flags
        typed._compress_over, typed.max_size = self._compress_over, self.max_size
        typed.serializer, typed._sid, typed._tag = serializer, sid, tag
        typed._read = serializer.loads
        return typed

    def encode(
        self,
        key: str,
        value: Any,
        *,
        created: float,
        expires: float | None,
        delta: float,
        soft: float | None = None,
        generation: int = 0,
    ) -> bytes:
        """The entry for `value` under Redis key `key`; SerializationError if it cannot be.

        soft: wall-clock time after which a hit should refresh (None: never); generation:
        the function's generation the value belongs to.
        """
        if not 0 <= generation <= _MAX_GENERATION:
            raise SerializationError(f"generation {generation!r} is out of range")
        payload = self._dumps(value)
        flags = self._flags
        if self._compress_over is not None and len(payload) > self._compress_over:
            packed = zlib.compress(payload, _ZLIB_LEVEL)
            if len(packed) < len(payload):
                payload, flags = packed, flags | COMPRESSED
        kb = key.encode("utf-8", "surrogatepass")
        expiry = _NO_EXPIRY if expires is None else expires
        head = _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            self._sid,
            flags,
            self._tag,
            _key_id(kb),
            created,
            expiry,
            delta,
            _NO_EXPIRY if soft is None else soft,
            generation,
            len(payload),
        )
        if not self._macs:
            return b"".join((head, payload, _checksum(kb, head, payload)))
        return b"".join((head, payload, self._sign(kb, head, payload)))

    def _dumps(self, value: Any) -> bytes:
        try:
            payload = self.serializer.dumps(value)
        except SerializationError:
            raise
        except Exception as exc:  # a user serializer's own error type
            raise SerializationError(
                f"serializer {self.serializer.name!r} failed on {type(value).__qualname__}: {exc}"
            ) from exc
        if not isinstance(payload, bytes):
            raise SerializationError(
                f"serializer {self.serializer.name!r}.dumps() returned "
                f"{type(payload).__qualname__}, not bytes"
            )
        if len(payload) > self.max_size:
            raise SerializationError(
                f"{type(value).__qualname__} serializes to {len(payload)} bytes, over "
                f"max_size={self.max_size}; it stays out of L2"
            )
        return payload

    def _sign(self, kb: bytes, head: bytes, payload: bytes) -> bytes:
        return self._macs[0].tag(kb + b"\0", head, payload)

    def header(self, data: bytes) -> Header:
        """The header of `data`, checked for magic, version and flags only."""
        f = self._fields(data)
        expires = None if isnan(f[7]) else f[7]
        soft = None if isnan(f[9]) else f[9]
        return Header(f[1], f[2], f[4], f[3], f[5], f[6], expires, f[8], soft, f[10], f[11])

    def _fields(self, data: bytes) -> tuple[Any, ...]:
        if data[:2] != MAGIC:
            raise Rejected("magic")
        if len(data) < HEADER_SIZE:
            raise Rejected("truncated")
        f = _HEADER.unpack_from(data)
        if f[1] != FORMAT_VERSION:
            raise Rejected("version")
        if f[3] & ~_KNOWN_FLAGS:
            raise Rejected("flags")
        return f

    def decode(self, key: str, data: bytes, generation: int = 0) -> Decoded:
        """The value stored in `data` under `key`; Rejected(reason) on any failure, only that.

        An entry of a generation older than `generation` (the function's current one) is
        Stale: checked like any entry, but never decompressed nor deserialized.
        """
        f = self._fields(data)
        _, _, sid, flags, tag, key_id, created, expires, delta, soft, stamped, length = f
        if sid != self._sid or tag != self._tag:
            raise Rejected("serializer")  # also every pickle entry when unsigned: never read
        kb = key.encode("utf-8", "surrogatepass")
        if key_id != _key_id(kb):
            raise Rejected("key")
        end = HEADER_SIZE + length
        self._check_size(len(data), end, flags)
        view = memoryview(data)
        if self._macs:
            self._verify(kb, view, end)
        elif _checksum(kb, view[:end]) != view[end:]:
            raise Rejected("checksum")
        if stamped < generation:
            raise Stale(stamped)
        payload: bytes | memoryview = view[HEADER_SIZE:end]
        if flags & COMPRESSED:
            payload = self._inflate(payload)
        return Decoded(
            self._loads(payload),
            created,
            None if isnan(expires) else expires,
            delta,
            self.serializer.name,
            bool(self._macs),
            len(data),
            None if isnan(soft) else soft,
            stamped,
        )

    def _check_size(self, actual: int, end: int, flags: int) -> None:
        if end - HEADER_SIZE > self.max_size:
            raise Rejected("size")
        expected = end + (TAG_SIZE if flags & SIGNED else CHECKSUM_SIZE)
        if actual != expected:
            raise Rejected("truncated" if actual < expected else "size")
        if bool(flags & SIGNED) != bool(self._macs):
            raise Rejected("signature")  # a signed codec never trusts an unsigned entry

    def _verify(self, kb: bytes, view: memoryview, end: int) -> None:
        signed, tag = view[:end], view[end:]
        prefix = kb + b"\0"
        for mac in self._macs:
            if hmac.compare_digest(mac.tag(prefix, signed), tag):
                return
        raise Rejected("signature")

    def _inflate(self, payload: bytes | memoryview) -> bytes:
        # The output cap bounds memory: a bomb stops at max_size + 1 bytes, never inflates.
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(payload, self.max_size + 1)
        except zlib.error:
            raise Rejected("decompress") from None
        if len(out) > self.max_size or inflater.unconsumed_tail:
            raise Rejected("size")
        if not inflater.eof or inflater.unused_data:
            raise Rejected("decompress")
        return out

    def _loads(self, payload: bytes | memoryview) -> Any:
        try:
            return self._read(payload)
        except Exception as exc:  # hostile or stale bytes: any failure means "not a value"
            raise Rejected("decode") from exc
