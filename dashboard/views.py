"""The status page, the health check, and the notice fragment other views answer with."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.monitor import current_monitor


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """Upstream connection state and live event counts; the fragment streams over /ws/status/."""
    monitor = current_monitor()
    context = {"voipbin_url": settings.VOIPBIN_BASE_URL, "panel": monitor.render() if monitor else ""}
    return render(request, "dashboard/status.html", context)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose healthchecks: the process answers HTTP."""
    return JsonResponse({"ok": True})


def notice(request: HttpRequest, message: str, *, error: bool = False, status: int = 200) -> HttpResponse:
    return render(request, "includes/notice.html", {"message": message, "error": error}, status=status)
