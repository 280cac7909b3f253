"""Tag invalidation: drop every entry stored with a tag, whatever function stored it."""

from __future__ import annotations

from memo._errors import ConfigurationError
from memo._runtime.settings import settings

__all__ = ["ainvalidate_tag"]


async def ainvalidate_tag(tag: str) -> int:
    """Remove every entry tagged `tag` from every store in use; how many were removed."""
    _check(tag)
    removed = 0
    for store in settings.stores():
        removed += await store.adelete_tag(tag)
    return removed


def _check(tag: object) -> None:
    if not isinstance(tag, str) or not tag:
        raise ConfigurationError(
            f"invalidate_tag({tag!r}): a tag is a non-empty string such as 'user:42', "
            "as rendered from the tags= templates of @memo.cached."
        )
