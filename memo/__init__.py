"""memo: memoize sync and async functions over a tiered cache (L1 in-process, L2 in Redis)."""

from memo._adaptive import adaptive
from memo._api import cached, refresh_ahead, stats
from memo._config import configure
from memo._disabled import disabled
from memo._errors import ConfigurationError, KeyBuildError, MemoError, SerializationError
from memo._memory import MemoryStore
from memo._patterns import invalidates, write_through
from memo._redis import RedisStore
from memo._serializers import Serializer
from memo._stats import Stats
from memo._tags import ainvalidate_tag, invalidate_tag
from memo._tiered import TieredStore
from memo._types import AsyncMemoized, Memoized
from memo._write_behind import Write, flush, write_behind

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncMemoized",
    "ConfigurationError",
    "KeyBuildError",
    "MemoError",
    "Memoized",
    "MemoryStore",
    "RedisStore",
    "SerializationError",
    "Serializer",
    "Stats",
    "TieredStore",
    "Write",
    "adaptive",
    "ainvalidate_tag",
    "cached",
    "configure",
    "disabled",
    "flush",
    "invalidate_tag",
    "invalidates",
    "refresh_ahead",
    "stats",
    "write_behind",
    "write_through",
]
