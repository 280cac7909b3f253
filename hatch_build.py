"""Builds memo's optional C accelerator, memo/_runtime/_descriptor.c, into the wheel.

One small type (the method descriptor, see the C file) that lets CPython call a cached
method as it calls a function. Optional: where it cannot be built (no C compiler, or
MEMO_PURE_PYTHON=1 at install) the wheel is pure Python and methods bind in Python
(memo/_runtime/methods.py), the same behaviour at about 250 ns more per method call.
setuptools compiles it because it knows each platform's compiler and flags.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSION = "memo._runtime._descriptor"
SOURCE = Path("memo", "_runtime", "_descriptor.c")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("MEMO_PURE_PYTHON"):
            return
        try:
            built = _compile(Path(self.root))
        except Exception as error:  # any failure leaves the pure-Python build
            self.app.display_warning(
                f"memo: the C accelerator was not built ({error}); methods bind in Python"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from the source tree
            build_data["force_include"][str(built)] = str(built.relative_to(self.root))


def _compile(root: Path) -> Path:
    """Compiles the extension in place (next to its source) and returns its path."""
    # Imported here: a failing import is one more reason to build pure Python.
    from setuptools import Distribution, Extension  # noqa: PLC0415
    from setuptools.command.build_ext import build_ext  # noqa: PLC0415

    extension = Extension(EXTENSION, [str(SOURCE)])
    command = build_ext(Distribution({"name": "memo-cache", "ext_modules": [extension]}))
    command.inplace = True
    previous = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        command.build_temp = command.build_lib = scratch  # nothing left behind but the module
        os.chdir(root)  # in place: setuptools places the module relative to the cwd
        try:
            command.ensure_finalized()
            command.run()
            return root / command.get_ext_fullpath(EXTENSION)
        finally:
            os.chdir(previous)
