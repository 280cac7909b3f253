"""Cache keys: the in-process L1 key and the Redis key, both from a call's normalised values.

The L1 key of a call is the tuple `(token, *local tokens of its values)` (`_keys/local.py`):
values are their own tokens when they are exact `int`, `str`, `bytes` or `None`, and
type-tagged tuples otherwise, equal exactly when the canonical encodings are. No hashing is
needed for it. The Redis key is the digest form, computed only when a tier asks for it:
`memo:{namespace}:{module.qualname}:v{version}:{<digest>}`, braces being the Cluster hash tag.
"""

from __future__ import annotations

import functools
import inspect
import re
import string
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from memo._errors import ConfigurationError, KeyBuildError
from memo._keys import canonical as _canonical
from memo._keys.local import RAW, local_tokens
from memo._keys.shapes import Shapes
from memo._keys.signature import Normaliser
from memo._keys.template import Template
from memo._keys.trailing import trailing_defaults
from memo._keys.unencodable import explain as _explain

__all__ = [
    "FAST_TYPES",
    "GENERATION_FLOOR",
    "KeyBuilder",
    "function_name",
    "qualified_name",
    "valid_segment",
]

# Types whose values are their own L1 token (see _keys/local.py).
FAST_TYPES = RAW
MAX_KEY_LENGTH = 200
# The field of the generations hash below which every function's generation counts as stale
# (set when memo repairs a hash someone overwrote); no function name starts with "~".
GENERATION_FLOOR = "~floor"
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


KeyFunction = Callable[..., Any]


def valid_segment(text: str) -> bool:
    """Whether text can stand as one ':'-separated part of a Redis key."""
    return bool(_SEGMENT.match(text))


def function_name(function: Callable[..., Any]) -> str:
    """`module.qualname`, with characters Redis keys should not carry replaced by '_'."""
    return _UNSAFE.sub("_", qualified_name(function))


def qualified_name(function: Callable[..., Any]) -> str:
    """`module.qualname` of function. A `functools.partial` has neither: it is named by the
    function it calls and a digest of what it binds, so `partial(f, 2)` and `partial(f, 8)`
    never share keys, and the name is the same in every process."""
    if isinstance(function, functools.partial):
        return f"{qualified_name(function.func)}.partial_{_bound_digest(function)}"
    module = getattr(function, "__module__", None) or "__unknown__"
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", "fn")
    return f"{module}.{qualname}"


def _bound_digest(partial: functools.partial[Any]) -> str:
    try:
        data = _canonical.encode_arguments((partial.args, partial.keywords))
    except _canonical.Unencodable as exc:
        raise ConfigurationError(
            f"memo cannot name {partial!r}: a cached functools.partial is named by what it "
            f"binds, and {exc.value_type.__qualname__} cannot be part of a key. Decorate a "
            "def that calls the function with those arguments instead."
        ) from None
    return _canonical.digest(data)[:16]


class KeyBuilder:
    """Builds the keys of one decorated function; validated at decoration."""

    __slots__ = (
        "display",
        "fast",
        "keep",
        "key",
        "name",
        "normaliser",
        "prefixes",
        "shapes",
        "template",
        "trailing",
        "version",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        normaliser: Normaliser,
        *,
        ignore: tuple[str, ...] = (),
        key: str | KeyFunction | None = None,
        version: int | str = 1,
    ) -> None:
        self.display = f"{qualified_name(function)}()"
        self.name = function_name(function)
        self.normaliser = normaliser
        self.prefixes: dict[str, str] = {}
        self.version = _check_version(self.display, version)
        self.keep = _kept_indices(self.display, normaliser.names, ignore)
        self.template = _check_template(self.display, function, normaliser, key)
        self.key = _check_key_function(self.display, normaliser, key)
        # The positional fast path: plain signature, values are the call's own arguments.
        self.fast = normaliser.arity >= 0 and self.keep is None and key is None
        # Other call shapes of a plain signature are read by per-shape readers.
        plain = normaliser.arity >= 0 and key is None
        self.shapes = Shapes(normaliser, self.keep) if plain else None
        # The L1 key leaves out trailing values equal to their defaults (trailing.py).
        self.trailing = trailing_defaults(normaliser.defaults, self.keep) if plain else None

    def split(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """(all normalised arguments, the values the key is made of)."""
        normalised = self.normaliser(args, kwargs)
        if self.key is not None:
            return normalised, (self._call_key(self.key, args, kwargs),)
        if self.template is not None:
            return normalised, self.template.values(self.normaliser.arguments(normalised))
        if self.keep is not None:
            return normalised, tuple(normalised[i] for i in self.keep)
        return normalised, normalised

    def _call_key(self, key: KeyFunction, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        try:
            return key(*args, **kwargs)
        except Exception as exc:
            raise KeyBuildError(
                f"{self.display}: its key= callable {getattr(key, '__qualname__', key)!r} "
                f"raised {type(exc).__name__}: {exc}; make it accept the function's arguments "
                "and return a value memo can key on."
            ) from exc

    def values(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values the key is made of: normalised arguments less `ignore`, or `key=`."""
        return self.split(args, kwargs)[1]

    def local(self, prefix: tuple[int], values: tuple[Any, ...]) -> Hashable:
        """The L1 key for these values under the function's current token, `(token,)`:
        equal for two calls exactly when their Redis keys are."""
        try:
            key = prefix + local_tokens(values)
        except (_canonical.Unencodable, RecursionError):  # nested too deep: the encoder says so
            raise self._key_error(values) from None
        return key if self.trailing is None else self.trailing.strip(key)

    def digest(self, values: tuple[Any, ...]) -> str:
        """xxh3-128 of the canonical encoding; KeyBuildError naming the parameter if none."""
        try:
            data = _canonical.encode_arguments(values)
        except _canonical.Unencodable:
            raise self._key_error(values) from None
        return _canonical.digest(data)

    def remote(self, namespace: str, values: tuple[Any, ...]) -> str:
        """The Redis key: `memo:{namespace}:{module.qualname}:v{version}:{<digest>}`.

        A pure function of namespace, function, version and values: no generation enters
        it (`invalidate_all()` stamps a new generation into entries instead), so the key a
        handle computes is the key every later call uses.
        """
        return self.prefix(namespace) + "{" + self.digest(values) + "}"

    @property
    def generation_name(self) -> str:
        """The name under which this function's generation is shared: module.qualname:vN.

        Entries carry the generation they were computed in; one older than the function's
        current generation is a miss everywhere.
        """
        return f"{self.name}:v{self.version}"

    def prefix(self, namespace: str) -> str:
        """Every key of this function starts with this text."""
        prefix = self.prefixes.get(namespace)
        if prefix is None:
            prefix = self.prefixes[namespace] = self._prefix(namespace)
        return prefix

    def _prefix(self, namespace: str) -> str:
        prefix = f"memo:{namespace}:{self.name}:v{self.version}:"
        room = MAX_KEY_LENGTH - 34  # braces and 32 hex digits
        if len(prefix) > room:
            tail = _canonical.digest(self.name.encode())[:8]
            name = self.name[: room - len(prefix) + len(self.name) - 9] + "-" + tail
            prefix = f"memo:{namespace}:{name}:v{self.version}:"
        return prefix

    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters whose values make the key, in key order."""
        if self.key is not None or self.template is not None:
            return ("key=",)
        names = self.normaliser.names
        return tuple(names[i] for i in self.keep) if self.keep is not None else names

    def _key_error(self, values: tuple[Any, ...]) -> KeyBuildError:
        for name, value in zip(self.parameter_names(), values, strict=True):
            try:
                _canonical.encode(value)
            except _canonical.Unencodable as exc:
                return KeyBuildError(_explain(self.display, name, value, exc))
        return KeyBuildError(f"cannot build a cache key for {self.display}")


def _check_version(display: str, version: int | str) -> str:
    text = str(version)
    if isinstance(version, bool) or not valid_segment(text) or len(text) > 32:
        raise ConfigurationError(
            f"{display}: version={version!r} must be an int or a string of at most 32 "
            "letters, digits, '.', '_' or '-' (it becomes part of every Redis key)."
        )
    return text


def _kept_indices(
    display: str, names: tuple[str, ...], ignore: tuple[str, ...]
) -> tuple[int, ...] | None:
    unknown = [n for n in ignore if n not in names]
    if unknown:
        raise ConfigurationError(
            f"{display}: ignore= names {unknown} which are not parameters; "
            f"the parameters are {list(names)}."
        )
    if not ignore:
        return None
    return tuple(i for i, n in enumerate(names) if n not in ignore)


def _check_key_function(
    display: str, normaliser: Normaliser, key: str | KeyFunction | None
) -> KeyFunction | None:
    """A key= callable must accept the function's arguments: checked on its signature."""
    if not callable(key):
        return None
    try:
        wanted = inspect.signature(key)
    except (TypeError, ValueError):  # a builtin without a signature: checked at the call
        return key
    positional, keywords = _sample_call(normaliser.signature)
    try:
        wanted.bind(*positional, **keywords)
    except TypeError as exc:
        raise ConfigurationError(
            f"{display}: key= {getattr(key, '__qualname__', key)!r} cannot take the "
            f"function's arguments {list(normaliser.names)} ({exc}); give it the same "
            "parameters as the function (or *args, **kwargs)."
        ) from None
    return key


def _sample_call(signature: inspect.Signature) -> tuple[list[Any], dict[str, Any]]:
    """A call of the function with its required parameters only, as a caller would make it."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.default is not param.empty or param.kind in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            continue
        if param.kind is param.KEYWORD_ONLY:
            keywords[param.name] = None
        else:
            positional.append(None)
    return positional, keywords


def _check_template(
    display: str,
    function: Callable[..., Any],
    normaliser: Normaliser,
    key: str | KeyFunction | None,
) -> Template | None:
    if key is None or callable(key):
        return None
    names = normaliser.names
    if not isinstance(key, str):
        raise ConfigurationError(
            f"{display}: key= must be a callable taking the function's arguments or a "
            f"template string such as '{{{names[0] if names else 'arg'}}}', "
            f"not {type(key).__qualname__}."
        )
    check_template(display, "key=", key, names)
    template = Template(display, key)
    template.check_annotations(function)
    return template


def check_template(display: str, option: str, template: str, names: tuple[str, ...]) -> None:
    """Raise ConfigurationError unless every `{field}` of template names a parameter."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigurationError(f"{display}: {option} template {template!r}: {exc}") from exc
    for field in fields:
        base = re.split(r"[.\[]", field, maxsplit=1)[0]
        if base not in names:
            raise ConfigurationError(
                f"{display}: {option} template {template!r} refers to {{{field}}}, but "
                f"{base or 'a positional field'!r} is not a parameter; use one of "
                f"{list(names)} by name, e.g. '{{{names[0] if names else 'arg'}}}'."
            )
