"""A small Django app over `memo.django.MemoCache`: the URLconf of the Django tests and of
the two worker processes (`tests/support/django_worker.py`)."""

from __future__ import annotations

import os
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.cache import cache_page
from django.views.decorators.csrf import csrf_exempt

RENDERS = {"page": 0}  # how often this process rendered the cached page

FRAGMENT = engines["django"].from_string(
    "{% load cache %}[{% cache 60 greeting who %}{{ text }}{% endcache %}]"
)


@csrf_exempt
def greeting(request: HttpRequest) -> HttpResponse:
    """GET: the cached greeting; POST: replace it (every process must see the new one)."""
    if request.method == "POST":
        cache.set("greeting", request.POST["text"], timeout=None)
        return HttpResponse("stored")
    return HttpResponse(cache.get("greeting", "none"))


@cache_page(60)
def page(request: HttpRequest) -> HttpResponse:
    """A whole page cached by Django's cache_page: rendered once for every process."""
    RENDERS["page"] += 1
    return HttpResponse(f"rendered by {os.getpid()} ({RENDERS['page']})")


def fragment(request: HttpRequest) -> HttpResponse:
    """A template fragment cached by `{% cache %}`, per `who`."""
    context: dict[str, Any] = {"text": request.GET["text"], "who": request.GET["who"]}
    return HttpResponse(FRAGMENT.render(context))


@csrf_exempt
def counter(request: HttpRequest) -> HttpResponse:
    """POST: one more hit (incr under memo's lease: none lost across processes)."""
    cache.add("hits", 0, timeout=None)
    return HttpResponse(str(cache.incr("hits")))


@csrf_exempt
def clear(request: HttpRequest) -> HttpResponse:
    """POST: clear the cache (this namespace only, every process)."""
    cache.clear()
    return HttpResponse("cleared")


urlpatterns = [
    path("greeting", greeting),
    path("page", page),
    path("fragment", fragment),
    path("counter", counter),
    path("clear", clear),
]
