"""The flows page and a call's flow timeline: thin views over ``pages`` and ``timeline``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from dashboard.flows.pages import FLOW_ENDED_LINGER, FLOWS_PAGE, current_actions
from dashboard.flows.timeline import timeline
from dashboard.models import Call, User


@require_GET
@login_required
def flows(request: HttpRequest) -> HttpResponse:
    """Running flows grouped by flow, first painted from live state, then streamed."""
    user: User = request.user  # type: ignore[assignment]
    if not FLOWS_PAGE.allows(user):
        raise PermissionDenied("The flows page is for supervisors")
    context = {
        "groups": FLOWS_PAGE.lists(user)["groups"],
        "socket_query": urlencode({"topics": ",".join(FLOWS_PAGE.topics(user))}),
        "linger_seconds": int(FLOW_ENDED_LINGER.total_seconds()),
    }
    return render(request, "dashboard/flows.html", context)


@require_GET
@login_required
def call_flow(request: HttpRequest, call_id: str) -> HttpResponse:
    """The actions a call's flow went through: a fragment for htmx, a page of its own otherwise.

    Only for a call the user may see (an agent: its own); any other is not found.
    """
    user: User = request.user  # type: ignore[assignment]
    call = get_object_or_404(Call.objects.visible_to(user), pk=call_id)
    activeflow = current_actions([call]).get(call.pk)
    context = {
        "call": call,
        "call_id": call.pk,
        "activeflow": activeflow,
        "entries": timeline(activeflow) if activeflow else [],
    }
    template = "dashboard/fragments/flow_timeline.html" if request.htmx else "dashboard/call_flow.html"  # type: ignore[attr-defined]
    return render(request, template, context)
