"""`memo.testing.check_keys`: property tests of one cached function's keys, with hypothesis.

Three properties, on calls generated from the given strategies or the annotations:

- call forms agree: a call written positionally, by keyword, or with its defaults left out
  has one key;
- the key is injective: two calls that differ (on a parameter not in `ignore=`) never share
  a key, `key=` callables and templates included;
- the key is stable: a batch of the generated calls has the same keys in a subprocess
  running under another `PYTHONHASHSEED` (the function is imported there by module and
  qualname).

hypothesis is imported when `check_keys` runs, never before.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import subprocess
import sys
import typing
from collections.abc import Callable
from typing import Any

from memo._errors import ConfigurationError
from memo._key_calls import OMITTED, Call, CallForm, core_of, same_call

__all__ = ["check_keys"]

STABILITY_BATCH = 50  # calls sent to the subprocess (first calls of each example)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_CHILD = """\
import importlib, json, pickle, sys
target = importlib.import_module(sys.argv[1])
for part in sys.argv[2].split("."):
    target = getattr(target, part)
calls = pickle.loads(sys.stdin.buffer.read())
print(json.dumps([target.cache_key(*args, **kwargs) for args, kwargs in calls]))
"""


def check_keys(
    f: Callable[..., Any],
    *,
    max_examples: int = 200,
    across_processes: bool = True,
    **strategies: Any,
) -> None:
    """Property-test the keys of the cached function f; AssertionError on the first failure.

    Strategies are given per parameter name (`user_id=st.integers(0, 10)`); a parameter
    without one is drawn from its annotation (`st.from_type`), and a parameter with a
    default is sometimes left to it. `across_processes=False` skips the subprocess check
    (needed for functions that cannot be imported by name: in `__main__`, or local).
    """
    hypothesis, st = _hypothesis()
    core = core_of(f, "check_keys")
    keys = core.keys
    name = keys.display.removesuffix("()")
    signature: inspect.Signature = keys.normaliser.signature
    draws = _parameter_strategies(f, name, signature, strategies, st)
    batch: list[tuple[CallForm, str]] = []

    def keys_hold(data: Any) -> None:
        first = Call(signature, tuple(data.draw(s, label=p) for p, s in draws))
        key = _check_forms(f, name, first)
        twin = [
            data.draw(st.one_of(st.just(v), s), label=f"other {p}")
            for (p, s), v in zip(draws, first.values, strict=True)
        ]
        second = Call(signature, tuple(twin))
        _check_injective(f, keys, name, first.explicit(), second.explicit())
        if len(batch) < STABILITY_BATCH:
            batch.append((first.explicit(), key))

    settings = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    run: Any = settings(hypothesis.given(data=st.data())(keys_hold))
    run()
    if across_processes:
        _check_stable(f, name, batch)


def _hypothesis() -> tuple[Any, Any]:
    try:
        import hypothesis  # noqa: PLC0415 (an optional dependency, loaded on use)
        from hypothesis import strategies  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "memo.testing.check_keys needs hypothesis: pip install 'memo-cache[hypothesis]' "
            "(or pip install hypothesis)."
        ) from exc
    return hypothesis, strategies


def _parameter_strategies(
    f: Callable[..., Any],
    name: str,
    signature: inspect.Signature,
    given: dict[str, Any],
    st: Any,
) -> list[tuple[str, Any]]:
    """(parameter, strategy) in signature order; OMITTED stands for "left to its default"."""
    unknown = sorted(set(given) - set(signature.parameters))
    if unknown:
        raise ConfigurationError(
            f"check_keys({name}): strategies given for {unknown}, which are not parameters; "
            f"the parameters are {list(signature.parameters)}."
        )
    hints = _hints(f)
    draws = []
    for param in signature.parameters.values():
        strategy = given.get(param.name)
        if strategy is None:
            hint = hints.get(param.name, param.annotation)
            strategy = _inferred(name, param, hint, st, tuple(signature.parameters))
        optional = param.default is not param.empty or param.kind in _VARIADIC
        if optional:
            strategy = (
                st.just(OMITTED) if strategy is None else st.one_of(st.just(OMITTED), strategy)
            )
        draws.append((param.name, strategy))
    return draws


def _inferred(
    name: str, param: inspect.Parameter, hint: Any, st: Any, taken: tuple[str, ...]
) -> Any:
    """A strategy from the annotation; None when a default or an empty *args/**kwargs will do."""
    if hint is param.empty or isinstance(hint, str):
        if param.default is not param.empty or param.kind in _VARIADIC:
            return None
        raise ConfigurationError(
            f"check_keys({name}): parameter {param.name!r} has no annotation to draw values "
            f"from; pass {param.name}=<a hypothesis strategy>, e.g. {param.name}=st.integers()."
        )
    values = st.from_type(hint)
    if param.kind is param.VAR_POSITIONAL:
        return st.lists(values, max_size=3).map(tuple)
    if param.kind is param.VAR_KEYWORD:
        names = st.from_regex(r"[a-z]{1,3}", fullmatch=True).filter(lambda n: n not in taken)
        return st.dictionaries(names, values, max_size=3)
    return values


def _hints(f: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(getattr(f, "uncached", f))
    except Exception:  # names only the function's own scope knows: use the raw annotations
        return {}


def _short(f: Callable[..., Any]) -> str:
    """How a call is shown: the function's qualname."""
    return getattr(f, "__qualname__", None) or repr(f)


def _key(f: Callable[..., Any], form: CallForm) -> str:
    key: str = f.cache_key(*form.args, **form.kwargs)  # type: ignore[attr-defined]
    return key


def _check_forms(f: Callable[..., Any], name: str, call: Call) -> str:
    forms = call.forms()
    keys = [_key(f, form) for form in forms]
    if len(set(keys)) > 1:
        shown = "\n".join(
            f"  {form.show(_short(f))} -> {key}" for form, key in zip(forms, keys, strict=True)
        )
        raise AssertionError(
            f"check_keys({name}): one call written three ways has {len(set(keys))} keys:\n"
            f"{shown}\nPositional, keyword and defaults-left-out forms must share a key."
        )
    return keys[0]


def _check_injective(
    f: Callable[..., Any], keys: Any, name: str, first: CallForm, second: CallForm
) -> None:
    key = _key(f, first)
    if key != _key(f, second) or same_call(keys, first, second):
        return
    raise AssertionError(
        f"check_keys({name}): two different calls share the key {key}:\n"
        f"  {first.show(_short(f))}\n  {second.show(_short(f))}\n"
        "Each would be served the other's cached value. If your key= callable or template "
        "leaves out an argument on purpose, list it in ignore=; otherwise make the key "
        "include it (a template field or the callable's return value)."
    )


def _check_stable(f: Callable[..., Any], name: str, batch: list[tuple[CallForm, str]]) -> None:
    module, qualname = _importable(f, name)
    sent = [(form, key) for form, key in batch if _picklable(form)]
    if not sent:
        raise ConfigurationError(
            f"check_keys({name}): none of the generated arguments can be pickled, so none "
            "can be sent to a subprocess to check the keys there; pass across_processes=False."
        )
    seed = _other_seed()
    payload = pickle.dumps([(form.args, form.kwargs) for form, _ in sent])
    there = _child_keys(name, module, qualname, payload, seed)
    for (form, here), other in zip(sent, there, strict=True):
        if _without_namespace(here) != _without_namespace(other):
            raise AssertionError(
                f"check_keys({name}): the key of {form.show(_short(f))} is not stable: {here} in "
                f"this process, {other} in a subprocess with PYTHONHASHSEED={seed}. It "
                "depends on hash(), id() or process state (look at __memo_key__ methods, "
                "key= callables and register_key encoders); every process must compute the "
                "same key, or entries in Redis are never shared and a deploy turns them all "
                "into misses."
            )


def _importable(f: Callable[..., Any], name: str) -> tuple[str, str]:
    module = getattr(f, "__module__", None) or ""
    qualname = getattr(f, "__qualname__", "")
    loaded = sys.modules.get(module)
    spec = getattr(loaded, "__spec__", None)
    if module == "__main__" or "<locals>" in qualname or spec is None:
        raise ConfigurationError(
            f"check_keys({name}): the stability check imports the function in a subprocess "
            f"by module and qualname ({module}.{qualname}), and this one cannot be imported "
            "that way (it is defined in __main__, inside a function, or in a module made at "
            "run time). Move it to an importable module, or pass across_processes=False to "
            "skip the cross-process check."
        )
    return module, qualname


def _picklable(form: CallForm) -> bool:
    try:
        pickle.dumps((form.args, form.kwargs))
    except Exception:  # lambdas, locks, local classes: not sent
        return False
    return True


def _other_seed() -> str:
    current = os.environ.get("PYTHONHASHSEED", "")
    return str((int(current) + 1) % 4_294_967_296) if current.isdigit() else "1"


def _child_keys(name: str, module: str, qualname: str, payload: bytes, seed: str) -> list[str]:
    path = os.pathsep.join(p for p in sys.path if p)
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, module, qualname],
        input=payload,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"check_keys({name}): the subprocess that imports {module}.{qualname} to compare "
            "keys failed:\n  " + "\n  ".join(tail)
        )
    keys: list[str] = json.loads(done.stdout)
    return keys


def _without_namespace(key: str) -> str:
    """The key past `memo:{namespace}:`: the namespace is configuration, not the call."""
    return key.split(":", 2)[-1]
