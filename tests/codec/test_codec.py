"""The entry codec: round-trips, signing and rotation, and a tamper suite that never gets in."""

from __future__ import annotations

import hmac
import math
import os
import pathlib
import pickle
import random
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memo._codec.envelope import (
    _HEADER,
    COMPRESSED,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    SIGNED,
    TAG_SIZE,
    Codec,
    Decoded,
    Rejected,
    _Hmac,
)
from memo._errors import ConfigurationError, SerializationError

KEY = "memo:default:app.users.get_user:v1:{9f2c0123456789abcdef0123456789ab}"
OTHER = "memo:default:app.users.get_user:v1:{00000000000000000000000000000000}"
VALUE = {"id": 42, "name": "Ann", "tags": ["a", "b"], "score": 3.25, "ok": True, "n": None}
NOW = 1_700_000_000.25
CODECS = {  # codecs hold no per-entry state, so the tests share them
    "pickle-signed": Codec(secret="s3cret"),
    "json-signed": Codec("json", secret=b"s3cret"),
    "msgpack-signed": Codec("msgpack", secret=["s3cret"]),
    "json-unsigned": Codec(),
    "msgpack-unsigned": Codec("msgpack"),
}


def entry(
    codec: Codec, value: Any = VALUE, key: str = KEY, expires: float | None = NOW + 300
) -> bytes:
    return codec.encode(key, value, created=NOW, expires=expires, delta=0.125)


def forge(
    payload: bytes,
    *,
    key: str = KEY,
    sid: int = 1,
    flags: int = 0,
    tag: bytes = b"",
    version: int = FORMAT_VERSION,
    stag: int = 0,
) -> bytes:
    """An entry built by hand, the way someone with write access to Redis could."""
    key_id = xxhash.xxh3_64_digest(key.encode())
    head = _HEADER.pack(
        MAGIC, version, sid, flags, stag, key_id, NOW, NOW + 9, 0.0, math.nan, 0, len(payload)
    )
    if flags & SIGNED or tag:
        return head + payload + tag
    # Unsigned: the checksum anyone can compute (it catches corruption, not forgery).
    return head + payload + xxhash.xxh3_64_digest(key.encode() + b"\0" + head + payload)


def sign(secret: bytes, key: str, unsigned: bytes) -> bytes:
    """`unsigned` (header + payload, signed flag set) with the tag a holder of `secret` makes."""
    return unsigned + hmac.digest(secret, key.encode() + b"\0" + unsigned, "sha256")


def reason(codec: Codec, data: bytes, key: str = KEY) -> str:
    with pytest.raises(Rejected) as info:
        codec.decode(key, data)
    return info.value.reason


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CODECS)
def test_round_trip_keeps_value_and_metadata(name: str) -> None:
    """decode(encode(v)) gives v with created, expires, delta, serializer, signed and size."""
    codec = CODECS[name]
    data = entry(codec)
    assert codec.decode(KEY, data) == Decoded(
        VALUE, NOW, NOW + 300, 0.125, codec.serializer.name, codec.signed, len(data)
    )


def test_no_expiry_round_trips_as_none() -> None:
    """expires=None is stored as NaN and read back as None, in decode and header alike."""
    codec = Codec()
    data = entry(codec, expires=None)
    assert codec.decode(KEY, data).expires is None
    assert codec.header(data).expires is None
    assert math.isnan(struct.unpack_from(">d", data, 25)[0])


def test_header_fields() -> None:
    """header() reports version, serializer, flags, key id, times and payload length."""
    codec = Codec(secret="s")
    data = entry(codec)
    head = codec.header(data)
    assert (head.format_version, head.serializer_id, head.serializer_tag) == (FORMAT_VERSION, 1, 0)
    assert head.flags == SIGNED and head.signed and not head.compressed
    assert head.key_id == xxhash.xxh3_64_digest(KEY.encode())
    assert (head.created, head.expires, head.delta) == (NOW, NOW + 300, 0.125)
    assert (head.soft, head.generation) == (None, 0)
    assert head.payload_length == len(data) - HEADER_SIZE - TAG_SIZE == len(pickle.dumps(VALUE, 5))


def test_large_values_are_compressed() -> None:
    """A payload over compress_over is zlib-compressed, smaller, and decodes to the value."""
    codec = Codec(secret="s")
    big = {"rows": ["the same row again"] * 10_000}
    data = entry(codec, big)
    assert codec.header(data).compressed
    assert len(data) < len(pickle.dumps(big, 5)) // 10
    assert codec.decode(KEY, data).value == big


def test_compression_is_kept_only_when_it_helps_and_can_be_off() -> None:
    """Incompressible payloads stay raw; compress_over=None never compresses."""
    noise = random.Random(7).randbytes(50_000)
    assert not Codec(secret="s").header(entry(Codec(secret="s"), noise)).compressed
    plain = Codec(compress_over=None)
    data = entry(plain, "x" * 100_000)
    assert not plain.header(data).compressed
    assert plain.decode(KEY, data).value == "x" * 100_000


def test_max_size_bounds_encode_and_decode() -> None:
    """A value serializing past max_size is refused on encode; a bigger stored one is rejected."""
    small = Codec(max_size=100, compress_over=None)
    at_limit = "x" * 98  # JSON adds two quotes
    assert small.decode(KEY, entry(small, at_limit)).value == at_limit
    with pytest.raises(SerializationError, match="max_size=100"):
        entry(small, at_limit + "x")
    assert reason(small, entry(Codec(), at_limit + "x")) == "size"


def test_compressed_entry_is_bounded_by_its_inflated_size() -> None:
    """max_size caps the inflated payload, not just the stored bytes."""
    writer, reader = Codec(compress_over=0), Codec(max_size=1000)
    data = entry(writer, "x" * 5000)
    assert len(data) < 1000 and writer.header(data).compressed
    assert reason(reader, data) == "size"


# --- secrets and rotation ----------------------------------------------------------------------


def test_rotation_old_secret_verifies_while_listed() -> None:
    """An entry signed with the old secret verifies while the old secret is still in the list."""
    old = entry(Codec(secret=["old"]))
    assert Codec(secret=["old", "new"]).decode(KEY, old).value == VALUE
    assert reason(Codec(secret=["new"]), old) == "signature"


def test_rotation_newest_secret_signs() -> None:
    """The last secret in the list signs: a codec holding only it verifies the entry."""
    data = entry(Codec(secret=["old", "new"]))
    assert Codec(secret="new").decode(KEY, data).value == VALUE
    assert reason(Codec(secret="old"), data) == "signature"


def test_secret_as_str_or_bytes_is_the_same_key() -> None:
    """secret='k' and secret=b'k' sign alike (str is UTF-8 encoded)."""
    assert Codec(secret="ké").decode(KEY, entry(Codec(secret="ké".encode()))).value == VALUE


@settings(deadline=None, max_examples=50)
@given(key=st.binary(min_size=1, max_size=200), parts=st.lists(st.binary(max_size=300)))
def test_hmac_matches_the_standard_library(key: bytes, parts: list[bytes]) -> None:
    """The precomputed-pad HMAC equals hmac.digest(key, msg, 'sha256') for any key length."""
    assert _Hmac(key).tag(*parts) == hmac.digest(key, b"".join(parts), "sha256")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"serializer": "pickle"}, "MEMO_SECRET"),
        ({"secret": []}, "no secret"),
        ({"secret": ["ok", ""]}, "non-empty"),
        ({"secret": [1]}, "non-empty"),
        ({"compress_over": -1}, "compress_over"),
        ({"max_size": 0}, "max_size"),
        ({"max_size": 2**32}, "max_size"),
    ],
    ids=[
        "unsigned-pickle",
        "empty-list",
        "empty-secret",
        "int-secret",
        "compress",
        "size0",
        "size",
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, Any], match: str) -> None:
    """Unsigned pickle, empty secrets and impossible sizes raise ConfigurationError."""
    with pytest.raises(ConfigurationError, match=match):
        Codec(**kwargs)


def test_repr_hides_the_secret() -> None:
    """The codec's repr shows serializer and signing, never the secret."""
    assert repr(Codec(secret="hunter2")) == "Codec(serializer='pickle', signed=True)"


# --- user serializers ------------------------------------------------------------------------


class Rot:
    """A user serializer: str values, stored rotated by one byte."""

    def __init__(self, name: str = "rot") -> None:
        self.name = name

    def dumps(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise TypeError("str only")
        return bytes((b + 1) % 256 for b in value.encode())

    def loads(self, data: bytes) -> Any:
        assert type(data) is bytes
        return bytes((b - 1) % 256 for b in data).decode()


def test_user_serializer_round_trips_with_bytes() -> None:
    """A user serializer gets bytes (not a memoryview) and its header id is 200."""
    codec = Codec(Rot())
    data = entry(codec, "héllo")
    assert codec.header(data).serializer_id == 200
    assert codec.decode(KEY, data).value == "héllo"


def test_user_serializers_are_told_apart_by_name() -> None:
    """An entry from a user serializer with another name is rejected, not misread."""
    assert reason(Codec(Rot("rot2")), entry(Codec(Rot("rot1")), "x")) == "serializer"


def test_user_serializer_errors_become_serialization_errors() -> None:
    """A user dumps() raising its own error, or returning non-bytes, raises SerializationError."""
    with pytest.raises(SerializationError, match="str only"):
        entry(Codec(Rot()), 1)
    broken = Rot()
    broken.dumps = lambda value: "text"  # type: ignore[assignment,return-value,method-assign]
    with pytest.raises(SerializationError, match="not bytes"):
        entry(Codec(broken), "x")


def test_user_serializer_load_failure_is_rejected() -> None:
    """A user loads() that raises makes the entry Rejected('decode')."""
    codec = Codec(Rot())
    stag = codec.header(entry(codec, "x")).serializer_tag
    assert reason(codec, forge(b"\x00\xff", sid=200, stag=stag)) == "decode"  # not UTF-8


# --- tamper suite ------------------------------------------------------------------------------


class Canary:
    """Unpickling this creates a file: the proof that pickle.loads ran on hostile bytes."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.path,))


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """A path that must still not exist after the test; the test fails if it was created."""
    path = tmp_path_factory.mktemp("canary") / "pwned"
    yield path
    assert not path.exists(), "hostile pickle was loaded"


@pytest.fixture(scope="module")
def evil(canary: pathlib.Path) -> bytes:
    """A pickle payload that creates the canary file when loaded."""
    return pickle.dumps(Canary(canary))


def test_canary_payload_is_live(tmp_path: pathlib.Path) -> None:
    """Sanity: loading the hostile payload really creates its file (so its absence means safety)."""
    target = tmp_path / "live"
    pickle.loads(pickle.dumps(Canary(target)))
    assert target.exists()


@pytest.mark.parametrize("name", ["json-unsigned", "msgpack-unsigned"])
def test_unsigned_codec_never_unpickles(name: str, evil: bytes, canary: pathlib.Path) -> None:
    """An unsigned entry claiming pickle is Rejected('serializer') without pickle.loads."""
    assert reason(CODECS[name], forge(evil)) == "serializer"
    assert reason(CODECS[name], forge(evil, flags=SIGNED, tag=bytes(32))) == "serializer"
    assert not canary.exists()


def test_signed_codec_refuses_forged_pickle(evil: bytes, canary: pathlib.Path) -> None:
    """A forged pickle entry is rejected by a signed codec, with a bogus tag or with none."""
    codec = Codec(secret="s3cret")
    assert reason(codec, forge(evil, flags=SIGNED, tag=os.urandom(32))) == "signature"
    assert reason(codec, forge(evil, flags=SIGNED, tag=bytes(32))) == "signature"
    assert reason(codec, forge(evil)) == "signature"  # unsigned entry, signed codec
    assert reason(codec, forge(evil, flags=SIGNED)) == "truncated"  # flag set, tag missing
    assert reason(codec, sign(b"wrong", KEY, forge(evil, flags=SIGNED))) == "signature"
    assert not canary.exists()


def test_entry_moved_to_another_key_is_rejected() -> None:
    """An entry copied under another key fails its key id, or its tag if the id was rewritten."""
    for codec in (Codec(secret="s"), Codec()):
        assert reason(codec, entry(codec), key=OTHER) == "key"
    codec = Codec(secret="s")
    data = bytearray(entry(codec))
    data[9:17] = xxhash.xxh3_64_digest(OTHER.encode())
    assert reason(codec, bytes(data), key=OTHER) == "signature"


@pytest.mark.parametrize("name", ["pickle-signed", "json-signed", "msgpack-signed"])
def test_every_single_bit_flip_is_rejected(name: str) -> None:
    """Flipping any one bit of a signed entry (header, payload or tag) makes it Rejected."""
    codec = CODECS[name]
    data = entry(codec, {"a": 1})
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(Rejected):
            codec.decode(KEY, bytes(flipped))


@pytest.mark.parametrize("name", CODECS)
def test_every_truncation_and_extension_is_rejected(name: str) -> None:
    """Every proper prefix of an entry, and the entry plus a byte, is Rejected."""
    codec = CODECS[name]
    data = entry(codec)
    for n in range(len(data)):
        with pytest.raises(Rejected):
            codec.decode(KEY, data[:n])
    assert reason(codec, data + b"\0") == "size"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A ~64 KB zlib stream that inflates to 64 MB of zeros."""
    squeeze, chunk = zlib.compressobj(9), bytes(1 << 20)
    return b"".join(squeeze.compress(chunk) for _ in range(64)) + squeeze.flush()


def test_decompression_bomb_is_rejected_with_bounded_memory(bomb: bytes) -> None:
    """A bomb is Rejected('size') having allocated about max_size, never the inflated size."""
    codec = Codec(max_size=1 << 20)
    data = forge(bomb, sid=2, flags=COMPRESSED)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        assert reason(codec, data) == "size"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - baseline < 8 << 20


def test_signed_bomb_is_still_capped(bomb: bytes) -> None:
    """A bomb signed with the right secret (a compromised writer) is still Rejected('size')."""
    codec = Codec(secret=b"s", max_size=1 << 20)
    assert reason(codec, sign(b"s", KEY, forge(bomb, flags=COMPRESSED | SIGNED))) == "size"


def test_broken_zlib_streams_are_rejected() -> None:
    """Garbage, a cut stream, or data after the stream end: Rejected('decompress')."""
    codec = Codec()
    stream = zlib.compress(b'"' + b"x" * 1000 + b'"')
    for payload in (b"not zlib", stream[:-5], stream + b"junk"):
        assert reason(codec, forge(payload, sid=2, flags=COMPRESSED)) == "decompress"
    assert codec.decode(KEY, forge(stream, sid=2, flags=COMPRESSED)).value == "x" * 1000


FOREIGN = {
    "hello": b"hello",
    "empty": b"",
    "random": random.Random(1).randbytes(200),
    "json-string": b'"just a json string"',
    "json-object": b'{"a": 1}',
    "redis-cli-set": b"42",
    "plain-pickle": pickle.dumps({"a": 1}),
    "magic-only": MAGIC,
}


@pytest.mark.parametrize("data", FOREIGN.values(), ids=FOREIGN.keys())
@pytest.mark.parametrize("name", CODECS)
def test_foreign_values_are_rejected(name: str, data: bytes) -> None:
    """Bytes that memo did not write (a redis-cli SET, JSON, raw pickle, noise) are Rejected."""
    with pytest.raises(Rejected):
        CODECS[name].decode(KEY, data)


def test_header_checks_have_their_reasons() -> None:
    """Bad magic, a future version, unknown flag bits, another serializer: each named."""
    codec = Codec()
    good = entry(codec)
    assert reason(codec, b"XX" + good[2:]) == "magic"
    assert reason(codec, forge(b"1", sid=2, version=FORMAT_VERSION + 1)) == "version"
    assert reason(codec, forge(b"1", sid=2, flags=0x04)) == "flags"
    assert reason(codec, entry(Codec("msgpack"))) == "serializer"
    assert reason(codec, good[: HEADER_SIZE - 1]) == "truncated"
    assert reason(codec, forge(b"1", sid=2, flags=SIGNED, tag=bytes(32))) == "signature"
    with pytest.raises(Rejected, match="version"):
        codec.header(forge(b"", version=0))


# --- fuzz ------------------------------------------------------------------------------------

FUZZ = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=300), name=st.sampled_from(list(CODECS)))
def test_fuzz_arbitrary_bytes(data: bytes, name: str) -> None:
    """Arbitrary bytes, bare or behind a valid magic and version, only ever raise Rejected."""
    codec = CODECS[name]
    for candidate in (data, MAGIC + bytes([FORMAT_VERSION]) + data):
        with pytest.raises(Rejected):
            codec.decode(KEY, candidate)


@FUZZ
@given(payload=st.binary(max_size=200), sid=st.sampled_from([2, 3]), zipped=st.booleans())
def test_fuzz_payloads_behind_a_valid_header(payload: bytes, sid: int, zipped: bool) -> None:
    """Any payload under a well-formed unsigned header gives a value or Rejected, nothing else."""
    codec = Codec("json" if sid == 2 else "msgpack")
    body = zlib.compress(payload) if zipped else payload
    try:
        codec.decode(KEY, forge(body, sid=sid, flags=COMPRESSED if zipped else 0))
    except Rejected as exc:
        assert exc.reason == "decode"


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for at, byte in edits:
        out[at % len(out)] = byte
    return bytes(out[:cut])


@FUZZ
@given(
    name=st.sampled_from(list(CODECS)),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(0, 400),
)
def test_fuzz_mutations_of_valid_entries(
    name: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    """A mutated entry is Rejected (always, when signed) or, if unchanged, decodes to its value."""
    codec = CODECS[name]
    data = entry(codec, {"a": [1, 2.5, "x"]})
    mutated = mutate(data, edits, cut)
    if mutated == data:
        assert codec.decode(KEY, mutated).value == {"a": [1, 2.5, "x"]}
        return
    try:
        codec.decode(KEY, mutated)
    except Rejected:
        return
    assert not codec.signed, "a changed signed entry was accepted"


@FUZZ
@given(
    name=st.sampled_from(list(CODECS)),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    signed=st.booleans(),
)
def test_fuzz_mutations_of_a_forged_pickle(
    name: str, edits: list[tuple[int, int]], signed: bool, evil: bytes, canary: pathlib.Path
) -> None:
    """No mutation of a forged hostile pickle entry gets it unpickled, signed codec or not."""
    codec = CODECS[name]
    forged = forge(evil, flags=SIGNED, tag=bytes(32)) if signed else forge(evil)
    try:
        codec.decode(KEY, mutate(forged, edits, None))
    except Rejected:
        pass
    else:  # only conceivable as json/msgpack reading the bytes; never for a signed codec
        assert not codec.signed
    assert not canary.exists()
