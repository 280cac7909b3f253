"""Typed payloads: a result stored as plain data and decoded back into its annotated type.

Built by `memo._codec.returns` for one function whose return annotation names structured types
(dataclasses, attrs classes, msgspec Structs, NamedTuples, TypedDicts, Enums, pydantic v2
models, in any nesting of list/dict/tuple/set/Optional/unions). msgspec does the work: its
decoders are driven by the annotation, so they build only the annotated types, whatever the
bytes say; a payload of another shape fails to decode (a miss). pydantic models, which msgspec
does not know, go through their own ``model_dump(mode="json", by_alias=True)`` and
``model_validate`` hooks. The wire format follows the store's serializer: ``msgspec.json``
under ``"json"``, ``msgspec.msgpack`` under ``"msgpack"``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from memo._errors import ConfigurationError, SerializationError

__all__ = ["TYPED_IDS", "PlainReader", "TypedSerializer", "import_msgspec"]

# Header serializer ids of typed payloads (the untyped built-ins use 1-3).
TYPED_IDS = {"json": 4, "msgpack": 5}


def import_msgspec() -> Any:
    """msgspec, or ConfigurationError naming the extra that installs it."""
    try:
        return importlib.import_module("msgspec")
    except ImportError as exc:
        raise ConfigurationError(
            "typed storage needs the msgspec package: pip install 'memo-cache[typed]'"
        ) from exc


def _pydantic_model() -> type | None:
    # A value or an annotation can be a pydantic model only once pydantic is imported:
    # looking in sys.modules never imports it.
    module = sys.modules.get("pydantic")
    return None if module is None else module.BaseModel


def is_pydantic_model(cls: object) -> bool:
    """Whether cls is a pydantic v2 model class (without importing pydantic)."""
    base = _pydantic_model()
    return base is not None and isinstance(cls, type) and issubclass(cls, base)


def _enc_hook(value: Any) -> Any:
    base = _pydantic_model()
    if base is not None and isinstance(value, base):
        model: Any = value
        return model.model_dump(mode="json", by_alias=True)
    raise NotImplementedError(f"{type(value).__qualname__} is not in the return annotation")


def _dec_hook(cls: type, data: Any) -> Any:
    if is_pydantic_model(cls):
        return cls.model_validate(data, strict=False)  # type: ignore[attr-defined]
    raise NotImplementedError(f"cannot build {cls.__qualname__}")  # never an unannotated type


class TypedSerializer:
    """dumps/loads of one annotated type, in the store's format (``json`` or ``msgpack``).

    ``top`` is the tuple of Python types a result may have at the top level (None: not
    checked): a function annotated ``-> User`` that returns an ``Admin`` or a dict is refused
    rather than stored as something a reader would decode into another type. Every payload is
    decoded once before it is stored (on a miss, beside the function's own cost): a result
    whose parts do not fit the annotation (``None`` where it says ``int``, a NaN under JSON,
    which writes it ``null``) is refused once, with a warning, instead of being written and
    then rejected by every reader.
    """

    __slots__ = ("_decode", "_encode", "_label", "loads", "name", "top")

    def __init__(self, annotation: Any, label: str, fmt: str, *, top: tuple[type, ...] | None):
        msgspec = import_msgspec()
        codec = msgspec.json if fmt == "json" else msgspec.msgpack
        self.name = f"typed {fmt}"
        self._label = label
        self._encode: Callable[[Any], bytes] = codec.Encoder(enc_hook=_enc_hook).encode
        # TypeError here (an ambiguous union) is the caller's to explain.
        self._decode: Callable[[Any], Any] = codec.Decoder(annotation, dec_hook=_dec_hook).decode
        self.loads = self._decode  # the codec's reader: hostile bytes raise, meaning a miss
        self.top = top

    def dumps(self, value: Any) -> bytes:
        """The payload of value, or SerializationError naming what does not fit."""
        top = self.top
        if top is not None and type(value) not in top:
            raise SerializationError(self._mismatch(value))
        try:
            payload = self._encode(value)
        except Exception as exc:  # TypeError, OverflowError, a pydantic error, RecursionError
            raise SerializationError(
                f"typed storage of {self._label} cannot encode {type(value).__qualname__}: {exc}"
            ) from exc
        self._check_decodes(payload)
        return payload

    def _mismatch(self, value: Any) -> str:
        return (
            f"the function is annotated -> {self._label} but returned a "
            f"{type(value).__module__}.{type(value).__qualname__}; a reader would decode it "
            "as the annotation says. Return what the annotation names, or fix the annotation"
        )

    def _check_decodes(self, payload: bytes) -> None:
        try:
            self._decode(payload)
        except Exception as exc:
            hint = (
                " (JSON has no NaN or infinity: use serializer='msgpack')"
                if b"null" in payload
                else ""
            )
            raise SerializationError(
                f"the result does not fit its annotation -> {self._label} ({exc}){hint}. "
                "Return what the annotation names, or fix the annotation"
            ) from exc


class PlainReader:
    """Reads a typed payload as plain data (dicts, lists, strings), for ``memo inspect``:
    without the function's annotation, no class is built."""

    __slots__ = ("loads", "name")

    def __init__(self, fmt: str) -> None:
        msgspec = import_msgspec()
        self.name = f"typed {fmt}"
        self.loads: Callable[[Any], Any] = (
            msgspec.json if fmt == "json" else msgspec.msgpack
        ).decode

    def dumps(self, value: Any) -> bytes:
        """Never called: this reader only reads."""
        raise SerializationError("PlainReader only reads typed payloads")
