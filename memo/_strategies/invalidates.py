"""`@memo.invalidates(*readers)`: the writer runs, then the readers' matching entries go.

The writer (a database write, say) runs first; only if it returns are the readers' entries
for the call its arguments map to removed, from L1, L2 and every process's L1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from memo._errors import ConfigurationError
from memo._keys.mapping import ArgumentMap, core_of
from memo._runtime.core import Core
from memo._strategies.writers import WriterDecorator, WriterKeywords, WriterOptions, wrap_writer

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["InvalidatesKeywords", "InvalidatesOptions", "invalidates"]


class InvalidatesKeywords(WriterKeywords, total=False):
    """`@memo.invalidates`'s keyword options: `InvalidatesOptions`'s fields."""


@dataclass(frozen=True, kw_only=True)
class InvalidatesOptions(WriterOptions):
    """`@memo.invalidates`'s options ([table](write-through.md#options))."""

    decorator: ClassVar[str] = "invalidates"


def invalidates(*readers: Any, **options: Unpack[InvalidatesKeywords]) -> WriterDecorator:
    """Remove each reader's entry for the call the writer's arguments map to.

    The [options](write-through.md#options) say how the writer's arguments map to the readers'.
    """
    checked = InvalidatesOptions.of(options)
    if not readers:
        raise ConfigurationError(
            "@memo.invalidates() needs at least one @memo.cached reader: "
            "@memo.invalidates(get_user)."
        )

    def decorate(writer: Any) -> Any:
        targets: list[tuple[Core, ArgumentMap]] = []
        for reader in readers:
            core = core_of(reader, writer, checked.decorator)
            targets.append((core, checked.mapping(writer, core)))

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            for core, mapping in targets:
                core.invalidate(*mapping(args, kwargs))

        async def aafter(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            for core, mapping in targets:
                await core.ainvalidate(*mapping(args, kwargs))

        return wrap_writer(writer, after, aafter)

    return decorate
