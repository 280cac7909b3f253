"""The error of the canonical encoding, and the internal failure that builds its path."""

from __future__ import annotations

from memo._keys.wire import qualname

__all__ = ["MAX_DEPTH", "RECURSIVE", "TOO_DEEP", "Failure", "Unencodable", "article", "explain"]

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


# Two-consonant starts an English word can have; any other is read letter by letter ("nd").
_PAIRS = "blbrchclcrdrdwflfrglgngrknkrphplprpsquscshskslsmsnspstswthtrtwwhwr"
_ONSETS = frozenset(_PAIRS[i : i + 2] for i in range(0, len(_PAIRS), 2))
_VOWEL_LETTERS = "AEFHILMNORSX"  # letters whose name starts with a vowel sound: "an F"


def article(word: str) -> str:
    """'a' or 'an' before a type name as it is read aloud: an int64, an ndarray, a UUID."""
    if len(word) > 1 and word[:2].isupper():  # an acronym: UUID, RLock, SSLSocket
        return "an" if word[0] in _VOWEL_LETTERS else "a"
    lower = word.lower()
    if lower.startswith(("uni", "use", "usa", "uu", "eu", "one")):
        return "a"
    if lower[:1] in tuple("aeiou"):
        return "an"
    start = lower[:2]
    unspoken = len(start) == 2 and start.isalpha() and not set(start) & set("aeiouy")
    if unspoken and start not in _ONSETS:  # read letter by letter: "an nd-array"
        return "an" if start[0].upper() in _VOWEL_LETTERS else "a"
    return "a"


def explain(display: str, name: str, value: object, exc: Unencodable) -> str:
    """The KeyBuildError message: the function, the parameter, the part, and the ways out."""
    kind = _readable(exc.value_type)
    what = f"{article(kind)} {kind}"
    if name == "key=":
        where = f" at {exc.path}" if exc.path else ""
        return (
            f"cannot build a cache key for {display}: the key= function returned a value "
            f"holding {what}{where}, which cannot be part of a key: {exc.reason}. "
            "Return str, int, bytes, tuples of them, or an object memo can key "
            "(__memo_key__() or memo.register_key)."
        )
    held = f"is {what}" if not exc.path else f"holds {what} at {name}{exc.path}"
    return (
        f"cannot build a cache key for {display}: parameter {name!r} {held}, which cannot "
        f"be part of a key: {exc.reason}. Leave it out with ignore=({name!r},), pass key= "
        f"to build the key yourself, or {_way_out(exc.value_type)}."
    )


def _readable(cls: type) -> str:
    """The class's qualname without the function that defines it (`f.<locals>.Item`: Item)."""
    return cls.__qualname__.rsplit("<locals>.", 1)[-1]


def _way_out(cls: type) -> str:
    if cls.__module__ == "builtins":
        return "convert it to a supported value (str, int, tuple…)"
    kind = _readable(cls)
    return (
        f"say how {kind} is keyed: a __memo_key__() method on {kind} that returns a stable "
        f"value (str, int, tuple…), or memo.register_key({kind}, encoder) for a class you "
        "do not own"
    )
