"""memo: memoize sync and async functions over a tiered cache (L1 in-process, L2 in Redis)."""

from memo._codec.serializers import Serializer
from memo._errors import ConfigurationError, KeyBuildError, MemoError, SerializationError
from memo._keys.registry import register_key
from memo._policy.adaptive import adaptive
from memo._policy.stats import CacheInfo, Stats
from memo._redis.store import RedisStore
from memo._runtime.configure import configure
from memo._runtime.disabled import disabled
from memo._runtime.tags import ainvalidate_tag, invalidate_tag
from memo._stores.memory import MemoryStore
from memo._stores.tiered import TieredStore
from memo._strategies.cached import cached, stats
from memo._strategies.invalidates import invalidates
from memo._strategies.refresh_ahead import refresh_ahead
from memo._strategies.types import AsyncMemoized, Memoized
from memo._strategies.write_behind import Write, flush, write_behind
from memo._strategies.write_through import write_through

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncMemoized",
    "CacheInfo",
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
    "register_key",
    "stats",
    "write_behind",
    "write_through",
]
