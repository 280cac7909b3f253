"""The error of the canonical encoding, and the internal failure that builds its path."""

from __future__ import annotations

from memo._keys.wire import qualname

__all__ = ["MAX_DEPTH", "RECURSIVE", "TOO_DEEP", "Failure", "Unencodable"]

RECURSIVE = "recursive container"
MAX_DEPTH = 100  # how deep the encoder follows nested values
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class Unencodable(Exception):
    """A value, or a part of it, has no canonical encoding.

    ``path`` locates the part inside the value ("" for the value itself, ``[2]``, ``['k']``,
    ``.field``, ``{...}`` for a set element, ``{key}`` for a dict key, ``.__memo_key__()``);
    ``argument`` is its position when raised by :func:`encode_arguments`, else ``None``.
    """

    def __init__(
        self, path: str, value_type: type, reason: str, argument: int | None = None
    ) -> None:
        self.path = path
        self.value_type = value_type
        self.reason = reason
        self.argument = argument
        where = f" at {path}" if path else ""
        super().__init__(f"cannot encode {qualname(value_type)}{where}: {reason}")

    def __reduce__(self) -> tuple[type[Unencodable], tuple[str, type, str, int | None]]:
        return Unencodable, (self.path, self.value_type, self.reason, self.argument)


class Failure(Exception):
    """Internal: collects the path while unwinding, so the success path pays nothing."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        self.segments: list[str] = []  # innermost first
        self.containers: list[object] = []

    def add(self, segment: str, container: object) -> None:
        self.segments.append(segment)
        self.containers.append(container)

    def public(self, argument: int | None = None) -> Unencodable:
        segments = self.segments[::-1]
        value_type: type = type(self.value)
        reason = self.reason
        if reason == TOO_DEEP:
            # Deep nesting that revisits a container is a cycle: report where it closes.
            seen: set[int] = set()
            for depth, obj in enumerate([*self.containers[::-1], self.value]):
                if id(obj) in seen:
                    segments, value_type, reason = segments[:depth], type(obj), RECURSIVE
                    break
                seen.add(id(obj))
        return Unencodable("".join(segments), value_type, reason, argument)
