"""A Django worker process for the two-process tests: runs the app of `tests/django/app.py`
with MemoCache over the given Redis and namespace, and serves requests read from stdin.

    python -m tests.support.django_worker REDIS_URL NAMESPACE

Each stdin line is JSON `[method, path, data, repeat]`; the answer is one JSON line
`[status, body]` (the last of `repeat` requests). EOF ends the worker.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings


def main(url: str, namespace: str) -> None:
    settings.configure(
        SECRET_KEY="memo-tests-django-secret",
        ROOT_URLCONF="tests.django.app",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        CACHES={
            "default": {
                "BACKEND": "memo.django.MemoCache",
                "LOCATION": url,
                "OPTIONS": {"NAMESPACE": namespace},
            }
        },
    )
    django.setup()
    from django.test import Client

    client = Client()
    print(json.dumps(["ready", ""]), flush=True)
    for line in sys.stdin:
        method, path, data, repeat = json.loads(line)
        for _ in range(repeat):
            response = getattr(client, method)(path, data)
        print(json.dumps([response.status_code, response.content.decode()]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
