"""`key=` templates: each `{field}` enters the key as the value it names, not as text.

`key="{a}:{b}"` used to format one string, so `f("x:y", "z")` and `f("x", "y:z")` shared an
entry. A template now resolves each field (`{user.id}`, `{items[0]}`) to its value, and the
key is made of those values, canonically encoded like any argument: as collision-free as the
default key. A field with a conversion or a format spec (`{price:.2f}`, `{obj!r}`) enters as
the formatted text, which is what its author asked for.
"""

from __future__ import annotations

import string
import typing
from collections.abc import Callable, Mapping
from typing import Any

from memo._errors import ConfigurationError, KeyBuildError

__all__ = ["Template"]

_FORMATTER = string.Formatter()


class Template:
    """A parsed `key=` template: its fields, resolved against one call's arguments."""

    __slots__ = ("display", "fields", "text")

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.text = text
        self.fields = tuple(
            (field, conversion, spec)
            for _, field, spec, conversion in _FORMATTER.parse(text)
            if field is not None
        )

    def values(self, arguments: Mapping[str, Any]) -> tuple[Any, ...]:
        """The value of every field, in template order; KeyBuildError naming the field."""
        return tuple(
            self._value(field, conversion, spec, arguments)
            for field, conversion, spec in self.fields
        )

    def _value(
        self, field: str, conversion: str | None, spec: str | None, arguments: Mapping[str, Any]
    ) -> Any:
        try:
            value, _ = _FORMATTER.get_field(field, (), arguments)
            if conversion or spec:
                if spec and "{" in spec:
                    spec = _FORMATTER.vformat(spec, (), arguments)
                value = _FORMATTER.format_field(
                    _FORMATTER.convert_field(value, conversion), spec or ""
                )
        except Exception as exc:
            raise KeyBuildError(
                f"{self.display}: key= template {self.text!r} could not read {{{field}}} "
                f"({type(exc).__name__}: {exc}); name an attribute or item every argument "
                "has, or pass key= a callable."
            ) from exc
        return value

    def check_annotations(self, function: Callable[..., Any]) -> None:
        """Refuse, at decoration, `{param.attr}` on a parameter annotated with a class whose
        instances cannot have attr (they have no `__dict__` and the class lacks attr)."""
        hints = _hints(function)
        for field, _, _ in self.fields:
            name, dot, rest = field.partition(".")
            cls = hints.get(name.partition("[")[0])
            if not dot or not isinstance(cls, type) or cls is object:
                continue
            attr = rest.split(".", 1)[0].split("[", 1)[0]
            if not _instances_have_dict(cls) and not hasattr(cls, attr):
                raise ConfigurationError(
                    f"{self.display}: key= template {self.text!r} reads {{{field}}}, but "
                    f"{name!r} is annotated {cls.__qualname__}, which has no attribute "
                    f"{attr!r}; name one of its attributes, or pass key= a callable."
                )


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The function's resolved annotations; none when they cannot be resolved here."""
    try:
        return typing.get_type_hints(function)
    except Exception:  # names only its module's scope knows, or not a plain function
        return {}


def _instances_have_dict(cls: type) -> bool:
    """Whether instances of cls can carry attributes the class does not declare."""
    return any("__dict__" in vars(base) for base in cls.__mro__ if base is not object) or (
        getattr(cls, "__dictoffset__", 0) != 0
    )
