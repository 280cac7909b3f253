"""The error hierarchy: one base, subclasses that also inherit the builtin they resemble."""

from __future__ import annotations

__all__ = ["ConfigurationError", "KeyBuildError", "MemoError", "SerializationError"]


class MemoError(Exception):
    """Base class of every error memo raises."""


class KeyBuildError(MemoError, TypeError):
    """An argument cannot be turned into a stable cache key."""


class ConfigurationError(MemoError, ValueError):
    """A decorator option, store or configuration value is invalid."""


class SerializationError(MemoError, ValueError):
    """A value cannot be encoded or decoded by the configured serializer."""
