"""The hit path: the `__call__` of a decorated function, generated per function.

It costs one Python call, a type check per argument (and a call for each argument that is
not an int, str, bytes, None or date: its L1 token), a tuple, a dict lookup and a deadline
comparison; a miss calls the function from the same frame.
"""

from __future__ import annotations

import inspect
import textwrap
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from memo._clock import CLOCK
from memo._keys.builder import FAST_TYPES
from memo._keys.local import (
    CLASS_TOKENS,
    FLOAT_TAG,
    HOOK_NAMES,
    HOOK_TAG,
    LIST_TAG,
    TOKEN_OF,
    local_token,
    local_tokens,
)
from memo._runtime.core import Core
from memo._runtime.declared import IDENTIFIER
from memo._runtime.disabled import ACTIVE
from memo._runtime.hit_source import declared_parameters, path_source
from memo._runtime.key_layout import pos_arity, tail_keys
from memo._runtime.pending import COMPUTE, Pending

__all__ = ["closed_path", "hit_path", "names"]


_LEN = len


def hit_path(
    core: Core, *, bound: bool, variant: tuple[bool, bool] | None = None
) -> Callable[..., Any]:
    """The `__call__` of core's decorated object (bound: of its wrapt-bound methods) for
    variant (l1_copy, L1 looked into; default: the present one); its names are the globals
    it runs in."""
    if inspect.isbuiltin(core.function):
        return _builtin_path(core)
    namespace = names(core)
    tail_keys = namespace["tail_keys"]
    source = path_source(core, bound=bound, params="self, ", tail_keys=tail_keys, variant=variant)
    exec(compile(source, f"<memo hit path of {core.plan.name}>", "exec"), namespace)
    path: Callable[..., Any] = namespace["__call__"]
    return path


def closed_path(core: Core, cells: dict[str, Any], home: dict[str, Any]) -> types.FunctionType:
    """core's hit path without `self`, as a function of the module globals `home` (which
    tools read to resolve annotations, as they would the original's) that closes over
    `cells` (names(core)). Every variant closes over every name that some variant reads,
    so any variant's code can replace this function's (`__code__` must keep its free
    variables); the generated code reads no global."""
    if inspect.isbuiltin(core.function):
        guarded = _miss(core)

        def builtin_path(*args: Any, **kwargs: Any) -> Any:
            return guarded(args, kwargs)

        return builtin_path  # type: ignore[return-value]
    used = _used(core, cells)
    everything = ", ".join(used)
    source = path_source(core, bound=False, params="", tail_keys=cells["tail_keys"])
    source = source.replace(
        "\n    if active[0]:",
        f"\n    if False:  # never runs: names every cell\n        ({everything},)"
        "\n    if active[0]:",
        1,
    )
    body = textwrap.indent(source, "    ")
    maker = f"def make({everything}):\n{body}\n    return __call__\n"
    scope: dict[str, Any] = {}
    exec(compile(maker, f"<memo hit path of {core.plan.name}>", "exec"), scope)
    inner = scope["make"](**{name: cells[name] for name in used})
    path = types.FunctionType(
        inner.__code__, home, inner.__name__, inner.__defaults__, inner.__closure__
    )
    path.__kwdefaults__ = inner.__kwdefaults__  # the declared parameters' (declared.py)
    return path


def _used(core: Core, cells: dict[str, Any]) -> list[str]:
    """The names any variant of core's path reads (each cell costs every call a copy): those
    of the variant that copies from L1 and looks into it, whose source holds every other
    variant's names, found by a scan rather than a compile (decorating stays one compile)."""
    source = path_source(core, params="", tail_keys=cells["tail_keys"], variant=(True, True))
    return sorted(set(IDENTIFIER.findall(source)) & cells.keys())


def names(core: Core) -> dict[str, Any]:
    """The globals of core's hit path: what it reads, bound once."""
    shapes = core.keys.shapes
    made_once = tail_keys(core)
    namespace = {
        "core": core,
        "plan": core.plan,
        "stats": core.plan.stats,
        "miss": core.acall if core.is_async else core.call,
        "len": _LEN,  # a cached builtins.len must not call itself from here
        "start": core.start,
        "resume": core.resume,
        "pending": Pending,
        "compute": COMPUTE,
        "function": core.function,
        "perf_counter": time.perf_counter,
        "raw": FAST_TYPES,
        "local_token": local_token,
        "token_of": TOKEN_OF,
        "float_": float,
        "FLOAT": FLOAT_TAG,
        "LIST": LIST_TAG,
        "list_": list,
        "tuple_": tuple,
        "frozenset_": frozenset,
        "type_": type,
        "class_tokens": CLASS_TOKENS,
        "hook_names": HOOK_NAMES,
        "HOOK": HOOK_TAG,
        "tokens": local_tokens,
        "clock": CLOCK,
        "active": ACTIVE,
        "pos_arity": pos_arity(core),
        "readers": shapes.readers if shapes is not None else None,
        "learn": shapes.learn if shapes is not None else None,
        "tails": shapes.tails if shapes is not None else {},
        "tail_keys": made_once,
        # Builtins too: a closed path runs in its module's globals, which may shadow them.
        "type": type,
        "Exception": Exception,
        "BaseException": BaseException,
    }
    made = declared_parameters(core)
    if made is not None:
        namespace.update(made.cells)
    trailing = core.keys.trailing
    if trailing is not None:  # the defaults the key leaves out (_keys/trailing.py)
        namespace["strip"] = trailing.strip
        for j, token in enumerate(trailing.tokens, start=trailing.start):
            namespace[f"strip_token_{j}"] = token
    for given, tail in made_once.items():
        namespace[f"tail_key_{given}"] = tail
        namespace.update({f"tail_key_{given}_{j}": token for j, token in enumerate(tail)})
    return namespace


def _builtin_path(core: Core) -> Callable[..., Any]:
    """A cached builtin's `__call__`: every call through the guard of `_miss`. The generated
    hit path would build its key with code (the canonical encoder) that may call that very
    builtin (`builtins.len = memo.cached(len)`), and so call itself without end."""
    guarded = _miss(core)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        return guarded(args, kwargs)

    return __call__


def _miss(core: Core) -> Callable[..., Any]:
    """core.call; for a builtin (`builtins.len = memo.cached(len)`), one that memo's own use
    of that builtin while it serves a miss reaches as a plain call, not as another miss."""
    if not inspect.isbuiltin(core.function):
        return core.call
    serving = threading.local()
    function, call = core.function, core.call

    def guarded(*args: Any) -> Any:
        if getattr(serving, "active", False):
            positional, kwargs = args[0], args[1]
            return function(*positional, **kwargs)
        serving.active = True
        try:
            return call(*args)
        finally:
            serving.active = False

    return guarded
