"""`memo.testing.pin_keys`: a golden file of keys, so a key that changes fails a test.

A key that changes silently (a new memo, a renamed class, an edited `__memo_key__`) turns
every entry already in Redis into a miss on the next deploy. Pinning a few calls' keys in a
file kept in version control makes that change a failing test with a diff instead.

The file is JSON: the function and, per call, its key with the namespace left out
(`memo:*:app.get_user:v1:{…}`; the namespace is configuration, not the call). A missing file
or a different key fails; set `MEMO_PIN_KEYS=write` (or pass `write=True`) to write the file,
then review and commit it.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from memo._errors import ConfigurationError
from memo._key_calls import CallForm, core_of

__all__ = ["WRITE_VARIABLE", "pin_keys"]

WRITE_VARIABLE = "MEMO_PIN_KEYS"


def pin_keys(
    f: Callable[..., Any],
    calls: Iterable[Any] | Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    write: bool | None = None,
) -> None:
    """Compare the keys of calls with those pinned in path; AssertionError with a diff if not.

    Each call is `memo.testing.call(*args, **kwargs)`, a tuple (positional arguments), a
    dict (keyword arguments) or any other value (the one positional argument). Calls are
    named by how they print (`get_user(42)`); pass a mapping `{name: call}` to name them
    yourself. With `write=True`, or `MEMO_PIN_KEYS=write` in the environment when `write`
    is None, the file is (re)written instead, and nothing is compared.
    """
    core = core_of(f, "pin_keys")
    name = core.keys.display.removesuffix("()")
    pinned = {"function": name, "keys": _keys(f, name, calls)}
    text = json.dumps(pinned, indent=1, ensure_ascii=False) + "\n"
    target = Path(path)
    if write if write is not None else os.environ.get(WRITE_VARIABLE) == "write":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return
    if not target.exists():
        raise AssertionError(
            f"pin_keys({name}): no pinned keys at {target}. Write them once with "
            f"{WRITE_VARIABLE}=write in the environment (or write=True), review the file "
            "and commit it."
        )
    before = target.read_text(encoding="utf-8")
    if before != text:
        diff = difflib.unified_diff(
            before.splitlines(), text.splitlines(), str(target), "now", lineterm=""
        )
        raise AssertionError(
            f"pin_keys({name}): keys changed since they were pinned in {target}; entries "
            "stored under the old keys would all be misses after a deploy. If the change is "
            f"meant (a new version=, say), rewrite the file with {WRITE_VARIABLE}=write.\n"
            + "\n".join(diff)
        )


def _keys(
    f: Callable[..., Any], name: str, calls: Iterable[Any] | Mapping[str, Any]
) -> dict[str, str]:
    named = calls.items() if isinstance(calls, Mapping) else ((None, c) for c in calls)
    keys: dict[str, str] = {}
    for given, spec in named:
        form = _form(spec)
        label = given if given is not None else form.show(getattr(f, "__qualname__", name))
        if label in keys:
            raise ConfigurationError(
                f"pin_keys({name}): two calls print as {label}; name them with a mapping "
                "{name: call} instead of a list."
            )
        key: str = f.cache_key(*form.args, **form.kwargs)  # type: ignore[attr-defined]
        keys[label] = _masked(key)
    return keys


def _form(spec: Any) -> CallForm:
    if isinstance(spec, CallForm):
        return spec
    if isinstance(spec, tuple):
        return CallForm(spec, {})
    if isinstance(spec, dict):
        return CallForm((), dict(spec))
    return CallForm((spec,), {})


def _masked(key: str) -> str:
    """`memo:shop:app.f:v1:{…}` -> `memo:*:app.f:v1:{…}`."""
    head, _, rest = key.partition(":")
    return f"{head}:*:{rest.partition(':')[2]}"
