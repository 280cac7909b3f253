"""What `@memo.cached` returns: a plain function for a plain function (called by
vectorcall, handles as attributes), a binding proxy for whatever a class may bind."""

from __future__ import annotations

import asyncio
import copy
import inspect
import pickle
import types
from typing import Any

import memo


@memo.cached
def area(width: int, height: int = 2) -> int:
    """width x height."""
    return width * height


@memo.cached
async def aarea(width: int) -> int:
    return width * 3


def test_a_plain_function_stays_a_function() -> None:
    """Module-level functions come back as functions: named, documented, signed and pickled
    as the original, with every handle as an attribute."""
    assert type(area) is types.FunctionType and inspect.isfunction(area)
    assert (area.__name__, area.__qualname__, area.__doc__) == ("area", "area", "width x height.")
    assert area.__module__ == __name__ and area.__wrapped__ is area.uncached
    assert str(inspect.signature(area)) == "(width: 'int', height: 'int' = 2) -> 'int'"
    assert pickle.loads(pickle.dumps(area)) is area and copy.deepcopy(area) is area
    assert area(3) == 6 and area(3, height=2) == 6 and area.stats.l1_hits >= 1
    assert area.cache_key(3) == area.cache_key(width=3, height=2)
    assert area.invalidate(3) is True and area.invalidate(3) is False
    assert area.refresh(4) == 8 and area.cache_info().currsize >= 1
    area.cache_clear()
    info = area.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 0, 0)
    assert inspect.iscoroutinefunction(aarea) and type(aarea) is types.FunctionType
    assert asyncio.run(aarea(2)) == 6 and asyncio.run(aarea.invalidate(2)) is True


def test_a_held_plain_function_follows_the_configured_store() -> None:
    """configure() regenerates the hit path in place: the same function object, the new
    behaviour (here: L1 hands out copies)."""

    @memo.cached
    def items(n: int) -> list[int]:
        return [n]

    held = items
    assert held(1) is held(1)
    memo.configure(l1_copy=True)
    try:
        first = held(1)
        assert first == [1] and held(1) == first and held(1) is not first
    finally:
        memo.configure()
    assert held(1) is held(1)


def test_what_a_class_may_bind_stays_a_binding_proxy() -> None:
    """A function made in a function but taking self, set on a class afterwards, binds its
    handles to the instance as a method defined in the class body does."""

    def make() -> Any:
        @memo.cached
        def describe(self: Any, x: int) -> str:
            return f"{self.name}:{x}"

        return describe

    class Named:
        describe = make()

        def __init__(self, name: str) -> None:
            self.name = name

        def __memo_key__(self) -> str:
            return self.name

    ann = Named("ann")
    assert type(Named.__dict__["describe"]) is not types.FunctionType
    assert ann.describe(1) == "ann:1" and ann.describe.invalidate(1) is True
    assert ann.describe.cache_key(1) == Named.describe.cache_key(ann, 1)


def test_the_command_line_finds_a_plain_functions_runtime() -> None:
    """`memo invalidate/warm MODULE:FUNCTION` read a plain function's handles."""
    from memo._cli.app import load_function

    target, core = load_function(f"{__name__}:area")
    assert target is area and core is area._self_core  # type: ignore[attr-defined]


def test_a_plain_function_keeps_its_modules_globals() -> None:
    """Tools that resolve string annotations in `f.__globals__` without unwrapping (FastAPI
    does) find the module's names, as they would on the undecorated function."""
    assert area.__globals__ is globals()
    assert aarea.__globals__ is globals()
    hints = {name: eval(text, area.__globals__) for name, text in area.__annotations__.items()}
    assert hints == {"width": int, "height": int, "return": int}


def test_a_module_that_shadows_builtins_does_not_break_the_hit_path() -> None:
    """The hit path runs in the function's module globals but reads none of them: a module
    whose globals shadow `type`, `len` or `Exception` still gets hits and misses right."""
    import builtins

    module: dict[str, Any] = {"__builtins__": builtins, "memo": memo, "__name__": "shadowing"}
    module.update(type=None, len=None, Exception=None, BaseException=None)
    exec("@memo.cached\ndef double(x, y=1.5):\n    return x * 2\n", module)
    double = module["double"]
    assert double.__globals__ is module
    assert double(2) == 4 and double(2) == 4 and double(2.5, y=1.5) == 5.0
    assert double.stats.l1_hits == 1 and double.stats.misses == 2


def test_a_proxys_own_path_compiles_on_first_call_for_the_variant_then_current() -> None:
    """A proxy's own hit path (a staticmethod object here) is compiled when first called,
    for the configuration of that moment, not the one it was decorated under."""

    class Box:
        @memo.cached
        @staticmethod
        def items(n: int) -> list[int]:
            return [n]

    memo.configure(l1_copy=True)
    try:
        first = Box.items(1)
        assert first == [1] and Box.items(1) == first and Box.items(1) is not first
    finally:
        memo.configure()
    assert Box.items(2) is Box.items(2)
