"""A cached function's return annotation, read once, and the codec it calls for.

Decoration keeps the function; the annotation is resolved (``typing.get_type_hints``) the first
time one of its entries is written or read, so forward references to classes defined later
in the module work. Three outcomes:

- *typed*: the annotation names structured types (dataclass, attrs, msgspec Struct,
  NamedTuple, TypedDict, Enum, pydantic model) built only of types msgspec decodes exactly:
  the store's codec with a `TypedSerializer` for this type, its header tagged with the type's
  shape, so an entry written for another type or by another serializer is a miss;
- *plain*: no annotation, or one of only the types the untyped serializer already
  round-trips exactly (``dict[str, int]``, ``list[tuple[int, str]]``): the store's codec;
- *untyped with a reason* (``Any`` inside a dataclass, a plain class, an ambiguous union,
  msgspec missing): the store's codec, and the reason joins the message of the one warning
  a result it cannot represent brings.

An annotation that cannot be resolved (a class defined inside a function, under
``from __future__ import annotations``) stays untyped too, its reason kept the same way: a
result the untyped serializer holds is stored as before, silently; one it cannot hold brings
the one warning, which now says why the annotation did not help.
"""

from __future__ import annotations

import datetime
import decimal
import threading
import typing
import uuid
from typing import Any

import xxhash

from memo._codec.envelope import Codec
from memo._codec.serializers import JSON, MSGPACK
from memo._codec.typed import TYPED_IDS, TypedSerializer, import_msgspec, is_pydantic_model
from memo._errors import ConfigurationError

__all__ = ["ReturnType", "Shape", "shape_of"]

_PLAIN_LEAVES = frozenset(
    {
        "NoneType",
        "BoolType",
        "IntType",
        "FloatType",
        "StrType",
        "BytesType",
        "DateTimeType",
        "DateType",
        "TimeType",
        "TimeDeltaType",
        "UUIDType",
        "DecimalType",
        "AnyType",
    }
)
_CONTAINERS = {
    "ListType": list,
    "SetType": set,
    "FrozenSetType": frozenset,
    "VarTupleType": tuple,
    "TupleType": tuple,
    "DictType": dict,
}
_CODECS_KEPT = 8
_LEAVES: dict[str, tuple[type, ...]] = {
    "NoneType": (type(None),),
    "BoolType": (bool,),
    "IntType": (int,),
    "FloatType": (float, int),  # as a type checker allows; an int comes back a float
    "StrType": (str,),
    "BytesType": (bytes,),
    "DateTimeType": (datetime.datetime,),
    "DateType": (datetime.date,),
    "TimeType": (datetime.time,),
    "TimeDeltaType": (datetime.timedelta,),
    "UUIDType": (uuid.UUID,),
    "DecimalType": (decimal.Decimal,),
}
_CLASSES = frozenset({"DataclassType", "StructType", "NamedTupleType", "TypedDictType", "EnumType"})
_MESSAGE_UNION = (
    "msgspec cannot tell its members apart from the bytes ({error}); return one type, a "
    "union of msgspec Structs with tag=True, or a pydantic model holding a discriminated union"
)


class Shape:
    """What a walk of an annotation found: its fingerprint, and why it cannot go typed."""

    def __init__(self) -> None:
        self.structured = False
        self.problem: str | None = None
        self.seen: set[type] = set()


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def shape_of(info: Any, shape: Shape, path: str) -> str:
    """The canonical text of a msgspec type node (class names, field names, nesting)."""
    kind = type(info).__name__
    if kind in _PLAIN_LEAVES:
        if kind == "AnyType" and shape.problem is None:
            shape.problem = f"{path} is Any, which cannot be decoded back to a type"
        return kind[:-4]
    if kind in _CONTAINERS:
        return _container(kind, info, shape, path)
    if kind == "UnionType":
        return "|".join(shape_of(t, shape, path) for t in info.types)
    if kind == "LiteralType":
        return f"Literal{sorted(map(repr, info.values))}"
    if kind in _CLASSES or (kind == "CustomType" and is_pydantic_model(info.cls)):
        return _class(kind, info, shape, path)
    if shape.problem is None:
        what = _name(info.cls) if kind == "CustomType" else kind
        shape.problem = f"{path} is {what}, which typed storage does not cover"
    return kind


def _container(kind: str, info: Any, shape: Shape, path: str) -> str:
    if kind == "DictType":
        key = shape_of(info.key_type, shape, f"{path}'s keys")
        return f"dict[{key},{shape_of(info.value_type, shape, f'{path}[...]')}]"
    if kind == "TupleType":
        items = ",".join(shape_of(t, shape, f"{path}[{i}]") for i, t in enumerate(info.item_types))
        return f"tuple[{items}]"
    return f"{kind[:-4].lower()}[{shape_of(info.item_type, shape, f'{path}[...]')}]"


def _class(kind: str, info: Any, shape: Shape, path: str) -> str:
    shape.structured = True
    cls = info.cls
    if cls in shape.seen:
        return f"@{_name(cls)}"  # a recursive type: named once, then referred to
    shape.seen.add(cls)
    if kind == "EnumType":
        return f"enum {_name(cls)}"
    if kind == "CustomType":  # a pydantic model: pydantic checks its own fields
        return f"pydantic {_name(cls)}({','.join(sorted(cls.model_fields))})"
    fields = ",".join(
        f"{f.encode_name}:{shape_of(f.type, shape, f'{cls.__qualname__}.{f.name}')}"
        for f in info.fields
    )
    return f"{_name(cls)}({fields})"


def _top_types(info: Any) -> tuple[type, ...] | None:
    """The Python types a value of this node has at the top level (None: not checked)."""
    kind = type(info).__name__
    if kind in _LEAVES:
        return _LEAVES[kind]
    if kind in _CONTAINERS:
        return (_CONTAINERS[kind],)
    if kind == "TypedDictType":
        return (dict,)
    if kind in _CLASSES or kind == "CustomType":
        return (info.cls,)
    if kind == "UnionType":
        members = [_top_types(t) for t in info.types]
        if any(m is None for m in members):
            return None
        return tuple(t for m in members if m is not None for t in m)
    return None


class ReturnType:
    """One function's return annotation and, per store codec, the codec its entries use."""

    __slots__ = ("_codecs", "_lock", "_resolved", "display", "function", "note")

    def __init__(self, function: Any, display: str) -> None:
        self.function = function
        self.display = display
        self.note: str | None = None  # why results are not stored typed, for the warning
        self._resolved: tuple[Any] | None = None  # (the annotation or None,) once resolved
        self._codecs: dict[int, tuple[Codec, Codec]] = {}  # id(store codec) -> (it, chosen)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, function: Any, display: str) -> ReturnType | None:
        """The function's ReturnType, or None when it has no return annotation (then its
        entries take the store's codec without a lookup)."""
        annotations = getattr(function, "__annotations__", None)
        if not isinstance(annotations, dict) or "return" not in annotations:
            return None
        return cls(function, display)

    def codec(self, base: Codec) -> Codec:
        """The codec for this function's entries in a store whose codec is base."""
        found = self._codecs.get(id(base))
        if found is not None and found[0] is base:
            return found[1]
        with self._lock:  # resolved once: one warning, one msgspec decoder per store codec
            chosen = self._choose(base)
            if len(self._codecs) >= _CODECS_KEPT:  # stores replaced by configure() over time
                self._codecs.clear()
            self._codecs[id(base)] = (base, chosen)
        return chosen

    def _choose(self, base: Codec) -> Codec:
        fmt = _format(base)
        if fmt is None:
            return base  # pickle (signed) or a user serializer: theirs to represent
        annotation = self._annotation()
        if annotation is None:
            return base
        try:
            serializer, tag = self._serializer(annotation, fmt)
        except _Untyped as exc:
            self.note = f"{self.display} is annotated -> {_label(annotation)}, but {exc}"
            return base
        return base.retyped(serializer, TYPED_IDS[fmt], tag) if serializer else base

    def _annotation(self) -> Any:
        if self._resolved is None:
            self._resolved = (self._resolve(),)
        return self._resolved[0]

    def _resolve(self) -> Any:
        raw = getattr(self.function, "__annotations__", None) or {}
        if "return" not in raw:
            return None
        try:
            return typing.get_type_hints(self.function, include_extras=True)["return"]
        except Exception as exc:  # NameError of a forward reference, a bad string...
            self.note = (
                f"{self.display}'s return annotation {raw['return']!r} cannot be resolved "
                f"({exc!r}), so memo cannot store its results typed: define the classes it "
                "names at module level, before the function is first called"
            )
            return None

    def _serializer(self, annotation: Any, fmt: str) -> tuple[TypedSerializer | None, int]:
        if _plain(annotation):
            return None, 0  # -> int, -> dict[str, list[int]]: no msgspec import on a call
        try:
            msgspec = import_msgspec()
        except ConfigurationError as exc:
            raise _Untyped(str(exc)) from None
        try:
            info = msgspec.inspect.type_info(annotation)
        except Exception as exc:  # msgspec refuses the annotation itself
            if "union" in str(exc).lower():
                raise _Untyped(_MESSAGE_UNION.format(error=exc)) from None
            raise _Untyped(f"msgspec cannot read it ({exc})") from None
        shape = Shape()
        text = shape_of(info, shape, "the result")
        if not shape.structured:
            return None, 0  # plain data: the store's serializer round-trips it exactly
        if shape.problem is not None:
            raise _Untyped(shape.problem)
        label = _label(annotation)
        try:
            serializer = TypedSerializer(annotation, label, fmt, top=_top_types(info))
        except TypeError as exc:
            raise _Untyped(_MESSAGE_UNION.format(error=exc)) from None
        return serializer, xxhash.xxh32_intdigest(text.encode("utf-8")) or 1


_PLAIN_TYPES = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        str,
        bytes,
        list,
        tuple,
        dict,
        set,
        frozenset,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
        decimal.Decimal,
    }
)


def _plain(annotation: Any) -> bool:
    """Whether an annotation names only the untyped serializer's types (and Any, Optional,
    unions and containers of them), checked without msgspec."""
    if annotation is typing.Any or annotation is None or annotation is Ellipsis:
        return True
    origin = typing.get_origin(annotation)
    if origin is None:
        return isinstance(annotation, type) and annotation in _PLAIN_TYPES
    if origin is not typing.Union and origin not in _PLAIN_TYPES and origin is not _UNION_TYPE:
        return False
    return all(_plain(arg) for arg in typing.get_args(annotation))


_UNION_TYPE = type(int | None)


class _Untyped(Exception):
    """Why an annotation cannot be stored typed (joins the store's refusal)."""


def _format(base: Codec) -> str | None:
    if base.serializer is JSON:
        return "json"
    if base.serializer is MSGPACK:
        return "msgpack"
    return None


def _label(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
