"""`@memo.write_through(reader)`: the writer runs, then its result becomes reader's value.

The writer (a database write, say) runs first; only if it returns is its result stored as
the reader's value for the call the writer's arguments map to, in L1, L2 and every
process's L1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from memo._keys.mapping import core_of
from memo._strategies.writers import WriterDecorator, WriterKeywords, WriterOptions, wrap_writer

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["WriteThroughKeywords", "WriteThroughOptions", "write_through"]


class WriteThroughKeywords(WriterKeywords, total=False):
    """`@memo.write_through`'s keyword options: `WriteThroughOptions`'s fields."""


@dataclass(frozen=True, kw_only=True)
class WriteThroughOptions(WriterOptions):
    """`@memo.write_through`'s options ([table](write-through.md#options))."""

    decorator: ClassVar[str] = "write_through"


def write_through(reader: Any, **options: Unpack[WriteThroughKeywords]) -> WriterDecorator:
    """Store the writer's result as reader's value for the call its arguments map to.

    The [options](write-through.md#options) say how the writer's arguments map to the reader's.
    """
    checked = WriteThroughOptions.of(options)

    def decorate(writer: Any) -> Any:
        core = core_of(reader, writer, checked.decorator)
        mapping = checked.mapping(writer, core)

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            core.write(*mapping(args, kwargs), value)

        async def aafter(args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
            await core.awrite(*mapping(args, kwargs), value)

        return wrap_writer(writer, after, aafter)

    return decorate
