"""Error answers (``handler403``/``handler404``/``handler500`` in config/urls.py).

A refused or missing page says why and what to do (templates/403.html, 404.html). An htmx request
(a hang-up button, a status picker) swaps its answer into a small region of the page, usually
#notices, so it gets the one-line notice fragment instead of a whole page. The 500 page is static:
rendered without the request, context processors or the database, which may be what failed.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

from dashboard.views import notice

# get_object_or_404's message names a model ("No Call matches the given query."): not for users.
_MODEL_NOT_FOUND = re.compile(r"^No \w+ matches the given query\.?$")

SERVER_ERROR_NOTICE = (
    "Something went wrong on the dashboard's side. Try again; if it keeps happening, "
    "tell whoever runs this dashboard for your team."
)


def _htmx(request: HttpRequest) -> bool:
    """A request htmx swaps into part of a page (a boosted link or form would want the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else f"{text}."


def _reason(exception: Exception | None) -> str:
    """The exception's own message when it was written for people (``PermissionDenied("…")``)."""
    message = exception.args[0] if exception is not None and exception.args else ""
    if not isinstance(message, str) or _MODEL_NOT_FOUND.match(message):
        return ""  # Resolver404 carries a dict of the patterns tried
    return _sentence(message)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = _reason(exception)
    if _htmx(request):
        return notice(request, reason or "You are not allowed to do that.", error=True, status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = _reason(exception)
    if _htmx(request):
        message = reason or "That is not here any more: reload the page."
        return notice(request, message, error=True, status=404)
    return render(request, "404.html", {"reason": reason, "request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _htmx(request):
        # No request passed: no context processors, no session or database lookup.
        notice = render_to_string("includes/notice.html", {"message": SERVER_ERROR_NOTICE, "error": True})
        return HttpResponseServerError(notice)
    return defaults.server_error(request)
