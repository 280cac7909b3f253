"""Typed payloads at the codec: chosen from the return annotation, decoded only into the
annotated types, refused (with the reason) when an annotation cannot be stored typed."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Any

import pytest

import memo
from memo._codec.envelope import Codec, Rejected
from memo._codec.returns import ReturnType
from memo._errors import ConfigurationError, SerializationError
from tests.support import typed_values as tv
from tests.support.python import run_python

ROOT = Path(__file__).resolve().parents[2]
KEY = "memo:t:app.f:v1:{0123456789abcdef0123456789abcdef}"


def typed_codec(function: Any, base: Codec | None = None) -> Codec:
    """The codec a store whose codec is base (unsigned json by default) uses for function."""
    return ReturnType(function, "app.f()").codec(base or Codec())


def roundtrip(codec: Codec, value: Any) -> Any:
    data = codec.encode(KEY, value, created=1.0, expires=None, delta=0.0)
    return codec.decode(KEY, data).value


def returns_user() -> tv.User:
    raise AssertionError("never called")


def returns_point() -> tv.Point:
    raise AssertionError("never called")


def returns_plain() -> dict[str, list[int]]:
    raise AssertionError("never called")


def returns_ambiguous() -> tv.User | tv.Point:
    raise AssertionError("never called")


@dataclasses.dataclass
class Loose:
    """A dataclass with an Any field: its value cannot be decoded back to a type."""

    id: int
    extra: Any


def returns_loose() -> Loose:
    raise AssertionError("never called")


def returns_unknown() -> NotDefinedAnywhere:  # type: ignore[name-defined]  # noqa: F821
    raise AssertionError("never called")


def returns_later() -> Later:
    raise AssertionError("never called")


@dataclasses.dataclass
class Later:
    """Defined after the function that returns it: a forward reference."""

    at: datetime.date


def returns_nothing_said():  # type: ignore[no-untyped-def]
    raise AssertionError("never called")


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
@pytest.mark.parametrize("case", tv.CASES)
def test_every_covered_type_round_trips(serializer: str, case: str) -> None:
    """Each covered annotation gets a typed codec whose entries decode equal and same-typed."""
    codec = typed_codec(tv.CASES[case].uncached, Codec(serializer))
    assert codec.serializer.name == f"typed {serializer}"
    for i in tv.ARGUMENTS:
        value = tv.expected(case, i)
        got = roundtrip(codec, value)
        assert got == value and type(got) is type(value)


def test_plain_annotation_keeps_the_store_codec() -> None:
    """An annotation of plain data (already exact untyped) and no annotation: the store's codec."""
    base = Codec()
    assert ReturnType(returns_plain, "app.f()").codec(base) is base
    assert ReturnType(returns_nothing_said, "app.f()").codec(base) is base


def test_signed_pickle_store_keeps_pickle() -> None:
    """With a secret and pickle (the signed default), typed storage is not needed: unchanged."""
    base = Codec(secret="s3cret")
    assert ReturnType(returns_user, "app.f()").codec(base) is base


def test_signed_json_store_signs_typed_entries() -> None:
    """With a secret and serializer='json', typed entries are signed like the rest."""
    codec = typed_codec(returns_user, Codec("json", secret="s3cret"))
    value = tv.expected("dataclass", 2)
    data = codec.encode(KEY, value, created=1.0, expires=None, delta=0.0)
    assert codec.header(data).signed and codec.decode(KEY, data).value == value


def test_entry_for_another_type_is_rejected_unread() -> None:
    """An entry written for another annotated type carries another type tag: refused."""
    points, users = typed_codec(returns_point), typed_codec(returns_user)
    data = points.encode(KEY, tv.Point(1, 2.0), created=1.0, expires=None, delta=0.0)
    with pytest.raises(Rejected) as caught:
        users.decode(KEY, data)
    assert caught.value.reason == "serializer"


def test_untyped_entry_is_rejected_by_a_typed_reader() -> None:
    """An untyped json entry (another serializer id) is refused by a typed reader, unread."""
    data = Codec().encode(KEY, {"id": 1}, created=1.0, expires=None, delta=0.0)
    with pytest.raises(Rejected) as caught:
        typed_codec(returns_user).decode(KEY, data)
    assert caught.value.reason == "serializer"


@dataclasses.dataclass
class Forger:
    """A serializer that writes the payload an attacker chose."""

    payload: bytes
    name: str = "forger"

    def dumps(self, value: Any) -> bytes:
        return self.payload

    def loads(self, data: bytes) -> Any:
        raise AssertionError("never read")


def _forged(codec: Codec, payload: bytes) -> bytes:
    """An entry with a sound header (the typed codec's id and type tag) and checksum around a
    payload an attacker chose: the unsigned checksum is no secret, anyone who can write to
    Redis can compute it."""
    forger = codec.retyped(Forger(payload), codec._sid, codec._tag)
    return forger.encode(KEY, None, created=1.0, expires=None, delta=0.0)


def test_payload_naming_another_class_builds_only_the_annotation() -> None:
    """A forged payload that names another class builds the annotated type or nothing:
    extra members are ignored, a wrong shape is a decode failure (a miss)."""
    codec = typed_codec(returns_point)
    shaped = {"x": 1, "y": 2.0, "__class__": "os.system", "py/object": "subprocess.Popen"}
    got = codec.decode(KEY, _forged(codec, json.dumps(shaped).encode())).value
    assert type(got) is tv.Point and got == tv.Point(1, 2.0)
    for hostile in (b'{"py/object": "subprocess.Popen", "args": ["id"]}', b"[1, 2.0]", b'"x"'):
        with pytest.raises(Rejected) as caught:
            codec.decode(KEY, _forged(codec, hostile))
        assert caught.value.reason == "decode"


def test_result_of_another_type_is_refused_at_write() -> None:
    """A function annotated -> User that returns something else is refused, not stored as
    something a reader would decode into a User."""
    codec = typed_codec(returns_user)
    for wrong in ({"id": 1}, tv.Point(1, 2.0)):
        with pytest.raises(SerializationError, match=r"annotated -> User but returned"):
            codec.encode(KEY, wrong, created=1.0, expires=None, delta=0.0)


def test_l1_copy_result_is_stored_typed_and_copied(redis_url: str, namespace: str) -> None:
    """With l1_copy=True, L1 keeps a pickled copy but Redis gets the value itself, stored
    typed (no pickle without a signature); another process's store reads a Point back."""
    writer = memo.RedisStore(redis_url, namespace=namespace)
    reader = memo.RedisStore(redis_url, namespace=namespace)
    body = _with_body(returns_point, tv.Point(1, 2.0))
    cached = memo.cached(store=memo.TieredStore(memo.MemoryStore(), writer), l1_copy=True)(body)
    elsewhere = memo.cached(store=reader, l1_copy=True)(body)
    first = cached()
    assert first == tv.Point(1, 2.0)
    assert cached() == first and cached() is not first  # L1 hands each caller a copy
    got = elsewhere()
    assert type(got) is tv.Point and got == first
    assert elsewhere.stats.l2_hits == 1


def test_result_whose_parts_do_not_fit_is_refused_at_write() -> None:
    """A result whose nested parts break the annotation (None where it says int) is refused
    when written, once, instead of being stored and rejected by every reader."""
    value = dataclasses.replace(tv.expected("dataclass", 2), id=None)
    with pytest.raises(SerializationError, match=r"does not fit its annotation -> User"):
        typed_codec(returns_user).encode(KEY, value, created=1.0, expires=None, delta=0.0)


def returns_maybe_profile() -> tv.Profile | None:
    raise AssertionError("never called")


def test_optional_pydantic_model_round_trips() -> None:
    """A pydantic model or None: both come back as they went in."""
    codec = typed_codec(returns_maybe_profile)
    assert roundtrip(codec, None) is None
    profile = tv.expected("pydantic", 2)
    got = roundtrip(codec, profile)
    assert type(got) is tv.Profile and got == profile


def test_nan_under_json_is_refused_and_exact_under_msgpack() -> None:
    """JSON has no NaN: a typed json result holding one is refused naming msgpack; under
    msgpack the bits come back."""
    value = dataclasses.replace(tv.expected("dataclass", 2), score=math.nan)
    with pytest.raises(SerializationError, match="serializer='msgpack'"):
        typed_codec(returns_user).encode(KEY, value, created=1.0, expires=None, delta=0.0)
    got = roundtrip(typed_codec(returns_user, Codec("msgpack")), value)
    assert math.isnan(got.score) and type(got) is tv.User


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        (returns_ambiguous, "cannot tell its members apart"),
        (returns_loose, "Loose.extra is Any"),
    ],
)
def test_annotation_that_cannot_go_typed_explains_why(
    function: Any, reason: str, redis_url: str, namespace: str
) -> None:
    """An ambiguous union or an Any field keeps today's behaviour (L1 only, one warning), and
    the warning says why the annotation could not be used."""
    store = memo.TieredStore(memo.MemoryStore(), memo.RedisStore(redis_url, namespace=namespace))
    body = tv.expected("dataclass", 2) if function is returns_ambiguous else Loose(1, (1, 2))
    cached = memo.cached(store=store)(_with_body(function, body))
    with pytest.warns(RuntimeWarning, match=reason):
        assert cached() == body
    store.memory.clear()
    assert cached.stats.l2_hits == 0


def _with_body(function: Any, body: Any) -> Any:
    def f() -> Any:
        return body

    f.__annotations__ = {"return": function.__annotations__["return"]}
    f.__globals__.update(function.__globals__)
    f.__qualname__ = function.__qualname__
    return f


def test_unannotated_result_warns_naming_the_annotation(redis_url: str, namespace: str) -> None:
    """No annotation: today's behaviour, and the one warning names the fix (annotate)."""
    store = memo.RedisStore(redis_url, namespace=namespace)

    @memo.cached(store=store)
    def f():  # type: ignore[no-untyped-def]
        return tv.Point(1, 2.0)

    with pytest.warns(RuntimeWarning, match=r"Annotate the function's return type"):
        assert f() == tv.Point(1, 2.0)


def test_unresolvable_annotation_stays_untyped_and_says_why(redis_url: str, namespace: str) -> None:
    """A return annotation naming an undefined class: today's behaviour. A plain-data result
    still reaches Redis, silently; one the serializer cannot hold brings the one warning,
    which says the annotation could not be resolved and how to fix it."""
    store = memo.RedisStore(redis_url, namespace=namespace)
    plain = memo.cached(store=store)(_with_body(returns_unknown, {"a": 1}))
    assert plain() == {"a": 1}
    assert plain() == {"a": 1} and plain.stats.l2_hits == 1
    with_point = _with_body(returns_unknown, tv.Point(1, 2.0))
    with_point.__qualname__ = "returns_unknown_point"
    rich = memo.cached(store=store)(with_point)
    with pytest.warns(
        RuntimeWarning, match=r"NotDefinedAnywhere.*cannot be resolved.*module level"
    ):
        assert rich() == tv.Point(1, 2.0)
    assert rich() == tv.Point(1, 2.0)  # L1; no second warning (warnings are errors here)


def test_forward_reference_resolves_at_first_use() -> None:
    """A return annotation naming a class defined after the function resolves at first use."""
    value = Later(datetime.date(2024, 1, 1))
    assert roundtrip(typed_codec(returns_later), value) == value


def test_without_msgspec_the_reason_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without msgspec installed, the annotation stays untyped and the reason names the extra."""

    def missing() -> Any:
        raise ConfigurationError("typed storage needs the msgspec package: pip install x")

    monkeypatch.setattr("memo._codec.returns.import_msgspec", missing)
    returns = ReturnType(returns_user, "app.f()")
    base = Codec()
    assert returns.codec(base) is base
    assert returns.note is not None and "msgspec" in returns.note


def test_import_memo_imports_no_typed_dependency() -> None:
    """`import memo` (and decorating an annotated function) imports neither msgspec, pydantic
    nor attrs: they load only when a typed entry is first written or read."""
    code = (
        "import sys, dataclasses, memo\n"
        "@dataclasses.dataclass\nclass U:\n    a: int\n"
        "@memo.cached\ndef f() -> U:\n    return U(1)\n"
        "f()\n"
        "print(sorted(m for m in ('msgspec', 'pydantic', 'attrs', 'attr') if m in sys.modules))\n"
    )
    assert run_python(code) == "[]"


def test_plain_annotation_over_redis_imports_no_msgspec(redis_url: str, namespace: str) -> None:
    """A function annotated with plain data (-> dict[str, int]) reaches Redis through the
    untyped serializer without importing msgspec: its first call pays no import."""
    code = (
        "import sys, memo\n"
        f"store = memo.RedisStore({redis_url!r}, namespace={namespace!r})\n"
        "@memo.cached(store=store)\ndef f(i: int) -> dict[str, int] | None:\n    return {'i': i}\n"
        "assert f(1) == f(1) == {'i': 1} and f.stats.l2_hits == 1, f.stats\n"
        "print('msgspec' in sys.modules)\n"
        "store.close()\n"
    )
    assert run_python(code) == "False"
