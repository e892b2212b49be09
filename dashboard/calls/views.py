"""The calls page and hanging up a call."""

from __future__ import annotations

from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.calls.conversations import PHASE_CHOICES
from dashboard.calls.pages import CALLS_PAGE, DIRECTION_CHOICES
from dashboard.clients import rest_client
from dashboard.models import Call, User
from dashboard.views import notice
from dashboard.voipbin.rest import Unauthenticated, VoipbinError


@require_GET
@login_required
def calls(request: HttpRequest) -> HttpResponse:
    """Active and recently ended calls, first painted from live state, then streamed."""
    user: User = request.user  # type: ignore[assignment]
    page = CALLS_PAGE
    filters = page.filters(dict(request.GET.lists()))
    context = {
        "lists": page.lists(user, **filters),
        "socket_query": urlencode({"topics": ",".join(page.topics(user)), **filters}),
        **filters,
        "phase_choices": PHASE_CHOICES,
        "direction_choices": DIRECTION_CHOICES,
        "can_hang_up": user.is_supervisor,
        "now": timezone.now(),
    }
    return render(request, "dashboard/calls.html", context)


@require_POST
@login_required
def hangup_call(request: HttpRequest, call_id: str) -> HttpResponse:
    """Ask VoIPBIN to hang up; the call's end then arrives as an event like any other."""
    user: User = request.user  # type: ignore[assignment]
    if not user.is_supervisor:
        raise PermissionDenied("Only supervisors can hang up calls")
    call = Call.objects.visible_to(user).filter(pk=call_id).first()
    if call is None:
        return notice(request, "That call is not one of your account's calls.", error=True, status=404)
    try:
        async_to_sync(_hangup)(user.voipbin_token, call_id)
    except Unauthenticated:
        User.token_refused(user.pk)
        return notice(request, "Your VoIPBIN session expired — sign in again.", error=True, status=401)
    except VoipbinError as exc:
        return notice(request, f"VoIPBIN did not hang up the call: {exc.message}", error=True, status=502)
    return notice(request, f"Hang-up requested for the call from {call.source or 'unknown'}.")


async def _hangup(token: str, call_id: str) -> None:
    async with rest_client(token=token) as client:
        await client.hangup_call(call_id)
