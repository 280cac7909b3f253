"""`memo.register_key`: how values of types memo does not know enter a key.

An encoder turns a value into one memo can already encode (a tuple, a dict, bytes, ...). The
registry is searched along the value's MRO as `functools.singledispatch` searches it (ABCs
included): the most specific registration wins, and a user's registration replaces a
built-in one for the same class. The resolution is cached per concrete class (at most
`MAX_RESOLVED` of them) and forgotten whenever anything is registered.

Built-in encoders (numpy, pandas, pydantic, attrs: `memo._keys.libraries`) are installed
lazily, the first time a class is resolved after their library was imported by someone
else: memo never imports them.
"""

from __future__ import annotations

import abc
import datetime
import decimal
import fractions
import functools
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from memo._errors import ConfigurationError
from memo._keys.wire import qualname, utf8

__all__ = ["NATIVE_TYPES", "REGISTRY", "Encoder", "Entry", "Registry", "register_key"]

T = TypeVar("T")
MAX_RESOLVED = 4096  # classes whose resolution is kept (a plain dict: faster than weak keys)
_UNKNOWN: Any = object()
Encoder = Callable[[Any], object]

# Types the canonical encoding handles itself, before any registry lookup.
NATIVE_TYPES: frozenset[type] = frozenset(
    {
        *(type(None), bool, int, float, complex, str, bytes, bytearray),
        *(tuple, list, dict, set, frozenset, type),
        *(datetime.datetime, datetime.date, datetime.time, datetime.timedelta),
        *(uuid.UUID, decimal.Decimal, fractions.Fraction),
    }
)


class Entry:
    """How one concrete class is keyed: the tag and names that lead its bytes, its encoder."""

    __slots__ = ("encoder", "prefix", "registered")

    def __init__(self, registered: type, concrete: type, encoder: Encoder) -> None:
        self.registered = registered
        self.encoder = encoder
        # Both names: the key stays typed even when two classes' encoders return equal values.
        self.prefix = b"R" + utf8(qualname(registered)) + utf8(qualname(concrete))

    def describe(self) -> str:
        """How error messages name the encoder."""
        name = getattr(self.encoder, "__qualname__", None) or repr(self.encoder)
        return f"its key encoder {name} (registered for {self.registered.__qualname__})"


def _owner(registry: Mapping[type, Encoder], cls: type, encoder: Encoder) -> type:
    """The class the winning encoder was registered for (first in cls's MRO, else an ABC)."""
    for base in cls.__mro__:
        if registry.get(base) is encoder:
            return base
    owner: type = next(k for k, v in registry.items() if v is encoder and issubclass(cls, k))
    return owner


def _unregistered(value: object) -> object:
    raise NotImplementedError  # the dispatcher's default: never called, only compared


class Registry:
    """Registrations by class, resolved along the MRO; built-ins installed on first need."""

    def __init__(self, providers: dict[str, Callable[[Registry], bool]]) -> None:
        """providers: top-level module name -> installer, run once that module is imported."""
        self._user: dict[type, Encoder] = {}
        self._builtin: dict[type, Encoder] = {}
        self._pending = dict(providers)  # top-level module name -> installer
        self._fallbacks: list[Callable[[type], Encoder | None]] = []
        self._resolved: dict[type, Entry | None] = {}
        self._token: object = None
        self._dispatch = functools.singledispatch(_unregistered)
        # Called whenever resolutions are dropped: caches built on them (the L1 tokens of
        # memo._keys.local) must drop theirs too, or a class keyed before a registration
        # would keep its old L1 key.
        self.on_change: list[Callable[[], None]] = []

    def register(self, cls: type, encoder: Encoder) -> None:
        """A user's registration: replaces any earlier one (and any built-in) for cls."""
        self._user[cls] = encoder
        self._rebuild()

    def unregister(self, cls: type) -> None:
        """Forget a user's registration for cls (tests put the registry back with it)."""
        self._user.pop(cls, None)
        self._rebuild()

    def builtin(self, cls: type, encoder: Encoder) -> None:
        """A built-in registration; a user's registration for the same class stays first."""
        self._builtin[cls] = encoder
        self._rebuild()

    def provide(self, module: str, install: Callable[[Registry], bool]) -> None:
        """Run install(self) once module is in sys.modules (checked when a class is resolved)."""
        self._pending[module] = install
        self._forget()

    def fallback(self, find: Callable[[type], Encoder | None]) -> None:
        """A built-in found by inspecting a class (attrs has no base class to register)."""
        self._fallbacks.append(find)

    def resolve(self, cls: type) -> Entry | None:
        """The entry keying instances of cls, or None when nothing is registered for it."""
        if self._token is not None and self._token != abc.get_cache_token():
            self._forget()
        entry: Entry | None = self._resolved.get(cls, _UNKNOWN)
        if entry is not _UNKNOWN:
            return entry
        self._install_pending()
        # One snapshot: a registration made meanwhile replaces both, and this entry is dropped.
        resolved, dispatch = self._resolved, self._dispatch
        entry = self._find(dispatch, cls)
        if len(resolved) >= MAX_RESOLVED:  # classes made at run time: stay bounded
            resolved.clear()
        resolved[cls] = entry
        return entry

    def _find(self, dispatch: Any, cls: type) -> Entry | None:
        encoder = dispatch.dispatch(cls)
        if encoder is not _unregistered:
            return Entry(_owner(dispatch.registry, cls, encoder), cls, encoder)
        for find in self._fallbacks:
            found = find(cls)
            if found is not None:
                return Entry(cls, cls, found)
        return None

    def _install_pending(self) -> None:
        for name in [n for n in self._pending if sys.modules.get(n) is not None]:
            if self._pending[name](self):  # False: the module is still being imported
                self._pending.pop(name, None)  # another thread may have installed it too

    def _rebuild(self) -> None:
        dispatch = functools.singledispatch(_unregistered)
        for table in (self._builtin, self._user):  # the user's last: it wins on a tie
            for cls, encoder in table.items():
                dispatch.register(cls, encoder)
        self._dispatch = dispatch
        self._forget()

    def _forget(self) -> None:
        self._resolved = {}
        for listener in self.on_change:
            listener()
        registered = (*self._builtin, *self._user)
        has_abc = any(hasattr(cls, "__abstractmethods__") for cls in registered)
        self._token = abc.get_cache_token() if has_abc else None


REGISTRY = Registry({})  # built-ins are added by memo._keys.libraries


@overload
def register_key(cls: type[T], encoder: Callable[[T], object]) -> Callable[[T], object]: ...
@overload
def register_key(
    cls: type[T], encoder: None = None
) -> Callable[[Callable[[T], object]], Callable[[T], object]]: ...
def register_key(cls: type[T], encoder: Callable[[T], object] | None = None) -> Any:
    """Key every instance of ``cls`` (and of its subclasses) by ``encoder(value)``.

    The encoder returns a value memo can already encode (str, int, bytes, tuples, dicts, ...,
    or another registered type). The key holds both the registered class and the value's
    own class, so two types whose encoders return equal values never share a key. A later
    registration for the same class replaces the earlier one, including memo's built-ins
    (numpy, pandas, pydantic, attrs). Used bare, it is a decorator:
    ``@memo.register_key(Money)`` over ``def money_key(m): ...``.
    """
    _check_class(cls)
    if encoder is None:

        def decorate(function: Callable[[T], object]) -> Callable[[T], object]:
            return register_key(cls, function)

        return decorate
    if not callable(encoder):
        raise ConfigurationError(
            f"memo.register_key({cls.__qualname__}, {encoder!r}): the encoder must be a "
            "callable taking one value and returning a value memo can key on."
        )
    REGISTRY.register(cls, encoder)
    return encoder


def _check_class(cls: object) -> None:
    if not isinstance(cls, type):
        raise ConfigurationError(
            f"memo.register_key({cls!r}, ...): the first argument must be a class, "
            f"not {type(cls).__qualname__}."
        )
    if cls in NATIVE_TYPES or issubclass(cls, type):
        raise ConfigurationError(
            f"memo.register_key({cls.__qualname__}, ...): memo keys {cls.__qualname__} "
            "values itself, canonically; register a subclass of it instead."
        )
    if callable(getattr(cls, "__memo_key__", None)):
        raise ConfigurationError(
            f"memo.register_key({cls.__qualname__}, ...): {cls.__qualname__} defines "
            "__memo_key__(), which memo uses first; change that method instead."
        )
