"""Tag invalidation: drop every entry stored with a tag, whatever function stored it.

Written once in `_async/tags.py`; `invalidate_tag` is generated from it by scripts/unasync.py.
"""

from __future__ import annotations

from memo._runtime._async.tags import ainvalidate_tag
from memo._runtime._sync.tags import invalidate_tag

__all__ = ["ainvalidate_tag", "invalidate_tag"]
