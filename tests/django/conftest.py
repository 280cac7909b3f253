"""Django configured once for the backend's tests; each test's caches get a namespace of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="memo-tests-django-secret",
        ROOT_URLCONF="tests.django.app",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        # docs/recipes.md reads a table when this module configured Django first
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        USE_TZ=True,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    )
    django.setup()


def custom_key_func(key: str, key_prefix: str, version: int) -> str:
    """A customized cache key function (as Django's cache tests define it)."""
    return "CUSTOM-" + "-".join([key_prefix, str(version), key])


def caches_setting(redis_url: str, namespace: str, **params: Any) -> dict[str, Any]:
    """Django's `caches_setting_for_tests` over MemoCache: the aliases BaseCacheTests uses."""
    base = {
        "BACKEND": "memo.django.MemoCache",
        "LOCATION": redis_url,
        "OPTIONS": {"NAMESPACE": namespace},
        **params,
    }
    return {
        "default": dict(base),
        "prefix": {**base, "KEY_PREFIX": "cacheprefix"},
        "v2": {**base, "VERSION": 2},
        "custom_key": {**base, "KEY_FUNCTION": custom_key_func},
        "custom_key2": {**base, "KEY_FUNCTION": "tests.django.conftest.custom_key_func"},
    }


@pytest.fixture
def caches(redis_url: str, namespace: str) -> Iterator[Any]:
    """Django's `caches`, every alias a MemoCache over the test Redis in this test's namespace."""
    from django.core.cache import caches as handler
    from django.test import override_settings

    with override_settings(CACHES=caches_setting(redis_url, namespace)):
        yield handler


@pytest.fixture
def cache(caches: Any) -> Any:
    """The default alias."""
    return caches["default"]
