"""Inbox pages: thin views over ``dashboard.inbox.threads``, for supervisors and admins only.

VoIPBIN lets only admins and managers read an account's messages (``GET /messages``), so those
are exactly the users who get the inbox; agents get a 403 page saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard import views as pages_views
from dashboard.clients import rest_client
from dashboard.inbox import threads
from dashboard.inbox.export import BadRange, exported, parse_range, stream_messages
from dashboard.inbox.forms import MAX_REPLY_LENGTH, ReplyForm
from dashboard.models import Message, User
from dashboard.pages import INBOX_PAGE
from dashboard.voipbin.rest import (
    BadRequest,
    PaymentRequired,
    Unauthenticated,
    VoipbinError,
    VoipbinTimeout,
)

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

INBOX_REFUSAL = "The inbox is for supervisors and admins: VoIPBIN lets only them read messages"


def supervisor_only(view: View) -> View:
    """Signed in, and a VoIPBIN admin or manager; anyone else gets a 403 that says why."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        if user.is_supervisor:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            return pages_views.notice(
                request, "Only supervisors and admins can reply from the inbox.", error=True, status=403
            )
        raise PermissionDenied(INBOX_REFUSAL)  # the site's 403 page (dashboard/errors.py)

    return login_required(wrapper)


def _query(**params: Any) -> str:
    return urlencode({name: value for name, value in params.items() if value})


@require_GET
@supervisor_only
def inbox(request: HttpRequest) -> HttpResponse:
    """Every conversation of the account, newest first; first painted from state, then streamed."""
    user: User = request.user  # type: ignore[assignment]
    filters = INBOX_PAGE.filters(dict(request.GET.lists()))
    q, unanswered = filters["q"], filters["unanswered"]
    list_query = _query(q=q, unanswered="1" if unanswered else "")
    context = {
        "threads": threads.threads(user, q=q, unanswered=unanswered),
        "threads_shown": threads.THREADS_SHOWN,
        "q": q,
        "unanswered": unanswered,
        "export_query": list_query,
        "socket_query": _query(
            topics=",".join(INBOX_PAGE.topics(user)), q=q, unanswered="1" if unanswered else ""
        ),
    }
    return render(request, "dashboard/inbox.html", context)


def _thread_context(user: User, *, our: str, remote: str) -> dict[str, Any]:
    return {
        "our": our,
        "remote": remote,
        "key": threads.thread_key(our, remote),
        "thread_messages": threads.thread_messages(user, our_number=our, remote=remote),
        "messages_shown": threads.MESSAGES_SHOWN,
        "socket_query": _query(topics=",".join(INBOX_PAGE.topics(user)), our=our, remote=remote),
        "max_length": MAX_REPLY_LENGTH,
    }


@require_GET
@supervisor_only
def thread(request: HttpRequest) -> HttpResponse:
    """One conversation in VoIPBIN's time order; opening it marks it read for this user."""
    user: User = request.user  # type: ignore[assignment]
    our, remote = request.GET.get("our", "").strip(), request.GET.get("remote", "").strip()
    if not threads.thread_exists(user, our_number=our, remote=remote):
        raise Http404("No such conversation in your account")
    threads.mark_read(user, our_number=our, remote=remote)
    return render(request, "dashboard/thread.html", _thread_context(user, our=our, remote=remote))


@require_POST
@supervisor_only
def reply(request: HttpRequest) -> HttpResponse:
    """Send a reply with the user's own VoIPBIN session, store it as sent by them, show the outcome.

    VoIPBIN's ``POST /messages`` is never repeated here: after a timeout the message may have gone
    out, so the page says so instead of inviting a second send.
    """
    user: User = request.user  # type: ignore[assignment]
    our, remote = request.POST.get("our", "").strip(), request.POST.get("remote", "").strip()
    text = request.POST.get("text", "")
    if not threads.thread_exists(user, our_number=our, remote=remote):
        return pages_views.notice(
            request, "That conversation is not one of your account's.", error=True, status=404
        )
    form = ReplyForm(request.POST)
    if not form.is_valid():
        error = form.errors.get("text", ["Check the message and send again."])[0]
        return _reply_answer(request, user, our=our, remote=remote, text=text, field_error=error, status=400)
    text = form.cleaned_data["text"]
    if user.voipbin_session_expired:
        return _expired(request, user, our=our, remote=remote, text=text)
    try:
        result = async_to_sync(_send)(user.voipbin_token, our=our, remote=remote, text=text)
    except Unauthenticated:
        return _expired(request, user, our=our, remote=remote, text=text)
    except VoipbinError as exc:
        notice, status = _failure(exc)
        return _reply_answer(request, user, our=our, remote=remote, text=text, notice=notice, status=status)
    message = threads.record_reply(result, user=user)
    if not request.htmx:
        return redirect(f"{reverse('inbox:thread')}?{_query(our=our, remote=remote)}")
    return _reply_answer(request, user, our=our, remote=remote, notice=f"Sent to {remote}.", message=message)


async def _send(token: str, *, our: str, remote: str, text: str) -> dict[str, Any]:
    async with rest_client(token=token) as client:
        return await client.send_message(source=our, destinations=[remote], text=text)


def _failure(exc: VoipbinError) -> tuple[str, int]:
    """What to tell the user about a send VoIPBIN refused or left unanswered, and our status code."""
    if isinstance(exc, VoipbinTimeout) or getattr(exc, "outcome_unknown", False):
        return (
            "VoIPBIN did not answer in time, so the outcome is unknown: the message may have been "
            "sent. Check the thread before sending it again.",
            504,
        )
    if isinstance(exc, PaymentRequired):
        return (
            f"Not sent: the VoIPBIN account balance is too low (VoIPBIN says: {exc.message}). "
            "Top up the balance, then send again.",
            402,
        )
    if isinstance(exc, BadRequest):
        return f"Not sent: VoIPBIN rejected the message (VoIPBIN says: {exc.message}).", 400
    return f"Not sent: {exc.message}.", 502


def _expired(request: HttpRequest, user: User, *, our: str, remote: str, text: str) -> HttpResponse:
    """VoIPBIN refused the token: every page says so from now on, as after a refused hang-up."""
    User.token_refused(user.pk)
    notice = "Not sent: your VoIPBIN session expired — sign in again."
    return _reply_answer(request, user, our=our, remote=remote, text=text, notice=notice, status=401)


def _reply_answer(
    request: HttpRequest,
    user: User,
    *,
    our: str,
    remote: str,
    text: str = "",
    notice: str = "",
    field_error: str = "",
    status: int = 200,
    message: Message | None = None,
) -> HttpResponse:
    """The reply form again (text kept after a failure) with the outcome, for htmx or a plain post.

    After a send, the new message rides along out of band; the thread's socket brings it to every
    other tab, and replaces this copy when its delivery status moves on.
    """
    context = {
        "our": our,
        "remote": remote,
        "text": text,
        "notice": notice,
        "error": status >= 400,
        "field_error": field_error,
        "max_length": MAX_REPLY_LENGTH,
    }
    if not request.htmx:
        full = {**_thread_context(user, our=our, remote=remote), **context}
        return render(request, "dashboard/thread.html", full, status=status)
    html = render_to_string("dashboard/fragments/reply_form.html", context, request=request)
    if message is not None:
        threads.decorate([message])
        html += render_to_string("dashboard/fragments/message_item.html", {"message": message, "live": True})
    return HttpResponse(html, status=status)


@require_GET
@supervisor_only
def export_csv(request: HttpRequest) -> HttpResponse:
    """The messages of the listed threads (same ``q``/``unanswered``), or of a ``from``/``to`` day range."""
    user: User = request.user  # type: ignore[assignment]
    filters = INBOX_PAGE.filters(dict(request.GET.lists()))
    try:
        within = parse_range(request.GET.get("from", ""), request.GET.get("to", ""))
    except BadRange as exc:
        return HttpResponseBadRequest(f"{exc}\n", content_type="text/plain; charset=utf-8")
    messages = exported(user, q=filters["q"], unanswered=filters["unanswered"], within=within)
    response = StreamingHttpResponse(stream_messages(messages), content_type="text/csv; charset=utf-8")
    filename = f"inbox-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
