"""The queues page, its thresholds form, the agents board and agent status changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.clients import rest_client
from dashboard.models import User
from dashboard.queues.access import may_change_status, visible_agents, visible_queues
from dashboard.queues.forms import QueueThresholdsForm, save_thresholds
from dashboard.queues.pages import (
    AGENT_STATUS_CHOICES,
    AGENTS_PAGE,
    QUEUES_PAGE,
    queue_summaries,
    render_queue_card,
    render_thresholds,
)
from dashboard.relay import show_answer
from dashboard.views import notice
from dashboard.voipbin.rest import Unauthenticated, VoipbinError


def _socket_query(topics: list[str]) -> str:
    return urlencode({"topics": ",".join(topics)})


@require_GET
@login_required
def queues(request: HttpRequest) -> HttpResponse:
    """Every queue the user may see, first painted from live state, then streamed."""
    user: User = request.user  # type: ignore[assignment]
    context = {**QUEUES_PAGE.list_context(user), "socket_query": _socket_query(QUEUES_PAGE.topics(user))}
    return render(request, "dashboard/queues.html", context)


@require_POST
@login_required
def thresholds(request: HttpRequest, queue_id: str) -> HttpResponse:
    """A supervisor sets a queue's thresholds; the answer is the form again and the card re-rendered."""
    user: User = request.user  # type: ignore[assignment]
    if not user.is_supervisor:
        return notice(request, "Only supervisors set queue thresholds.", error=True, status=403)
    queue = next((q for q in visible_queues(user) if q.pk == queue_id), None)
    if queue is None:
        return notice(request, "That queue is not one of your account's queues.", error=True, status=404)
    form = QueueThresholdsForm(request.POST, instance=queue)
    if not form.is_valid():
        return HttpResponse(render_thresholds(queue, form=form), status=400)
    save_thresholds(queue=form.instance)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("queues:page")
    (summary,) = queue_summaries([queue])
    return HttpResponse(render_thresholds(queue, saved=True) + render_queue_card(summary, live=True))


@require_GET
@login_required
def agents(request: HttpRequest) -> HttpResponse:
    """Supervisors: every agent of the account. Agents: their own row, to set their status."""
    user: User = request.user  # type: ignore[assignment]
    context = {
        **AGENTS_PAGE.lists(user),
        "socket_query": _socket_query(AGENTS_PAGE.topics(user)),
        "status_choices": AGENT_STATUS_CHOICES,
        "now": timezone.now(),
    }
    return render(request, "dashboard/agents.html", context)


@require_POST
@login_required
def set_agent_status(request: HttpRequest, agent_id: str) -> HttpResponse:
    """Ask VoIPBIN to change an agent's status with the user's own token; the change arrives as an event."""
    user: User = request.user  # type: ignore[assignment]
    if not may_change_status(user, agent_id):
        return notice(request, "You can only change your own status.", error=True, status=403)
    agent = visible_agents(user).filter(pk=agent_id).first()
    if agent is None and agent_id != user.agent_id:
        return notice(request, "That agent is not one of your account's agents.", error=True, status=404)
    status = request.POST.get("status", "")
    label = dict(AGENT_STATUS_CHOICES).get(status)
    if label is None:
        return notice(request, "Choose available, busy, away or offline.", error=True, status=400)
    try:
        answer = async_to_sync(_set_status)(user.voipbin_token, agent_id, status)
    except Unauthenticated:
        User.token_refused(user.pk)
        return notice(request, "Your VoIPBIN session expired — sign in again.", error=True, status=401)
    except VoipbinError as exc:
        return notice(request, f"VoIPBIN did not change the status: {exc.message}", error=True, status=502)
    whose = (
        f"the status of {agent.name or agent.username}"
        if agent and agent_id != user.agent_id
        else "your status"
    )
    # VoIPBIN pushes a plain agent no event of their own status change (VOIPBIN.md §3): its answer
    # goes on the user's pages at once.
    show_answer(user, "agent", answer)
    return notice(request, f"VoIPBIN set {whose} to {label}.")


async def _set_status(token: str, agent_id: str, status: str) -> dict[str, Any]:
    """The agent as VoIPBIN now has it."""
    async with rest_client(token=token) as client:
        return await client.set_agent_status(agent_id, status)
