"""Live pages: which topics each one shows and how a change renders on it.

A page's first paint and its live updates come from the same fragment
templates. A change is rendered once per page kind, whatever the number of
sockets showing that page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.changes import Change
from dashboard.flows.pages import FLOWS_PAGE, current_actions, render_call_flow_action
from dashboard.inbox import threads
from dashboard.live import state_version
from dashboard.models import Activeflow, Call, Message, User
from dashboard.queues.pages import AGENTS_PAGE, QUEUES_PAGE
from dashboard.voipbin.topics import format_topic

ENDED_CALLS_SHOWN = 50
ENDED_CALLS_WINDOW = timedelta(hours=12)

CALL_PHASES = {
    "dialing": "ringing",
    "ringing": "ringing",
    "progressing": "answered",
    "terminating": "ending",
    "canceling": "ending",
    "hangup": "ended",
}
PHASE_CHOICES = [("ringing", "Ringing"), ("answered", "Answered"), ("ending", "Ending")]
DIRECTION_CHOICES = [("incoming", "Incoming"), ("outgoing", "Outgoing")]


class LivePage(Protocol):
    """What the browser socket and the relay need of a live page."""

    kind: str
    resources: tuple[str, ...]

    def allows(self, user: User) -> bool: ...
    def topics(self, user: User) -> list[str]: ...
    def filters(self, query: dict[str, list[str]]) -> dict[str, Any]: ...
    def render_change(self, change: Change) -> dict[str, str]: ...

    # (user, **filters) -> html, the filters being what ``filters()`` returned.
    render_lists: Callable[..., str]


def scope_topics(user: User, resources: tuple[str, ...]) -> list[str]:
    """The widest topics the user may see for ``resources`` (what a page may declare)."""
    if user.is_supervisor:
        return [format_topic("customer_id", user.customer_id, r) for r in resources]
    return [format_topic("agent_id", user.agent_id, r) for r in resources]


def agent_names(agent_ids: set[str]) -> dict[str, str]:
    """Display names of agents who have signed in here (the agents board will know them all)."""
    users = User.objects.filter(agent_id__in=agent_ids - {""}).only(
        "agent_id", "username", "first_name", "last_name"
    )
    return {u.agent_id: u.get_full_name() or u.username for u in users}


def decorate(calls: list[Call]) -> list[Call]:
    """Attach what the row template shows beyond the model: phase and agent name."""
    names = agent_names({c.owner_agent_id for c in calls})
    flows = current_actions(calls)
    for call in calls:
        call.activeflow = flows.get(call.pk)
        call.phase = CALL_PHASES.get(call.status, "ringing")
        call.agent_name = names.get(call.owner_agent_id, "")
    return calls


def render_call_row(call: Call, *, can_hang_up: bool = False) -> str:
    """One call's row; ``decorate`` it first (once for every audience it is rendered for)."""
    context = {
        "call": call,
        "phase": call.phase,
        "agent_name": call.agent_name,
        "live": True,
        "can_hang_up": can_hang_up,
        "now": timezone.now(),
    }
    return render_to_string("dashboard/fragments/call_row.html", context)


@dataclass(frozen=True)
class CallsPage:
    kind = "calls"
    resources = ("call", "activeflow")

    def allows(self, user: User) -> bool:
        return True

    def topics(self, user: User) -> list[str]:
        return scope_topics(user, self.resources)

    def render_change(self, change: Change) -> dict[str, str]:
        """The row as every viewer of this page kind gets it, by role (supervisors get the hang-up button)."""
        if isinstance(change.row, Activeflow):
            html = render_call_flow_action(change)
            return {"supervisor": html, "agent": html} if html else {}
        if not isinstance(change.row, Call):
            return {}
        decorate([change.row])
        return {
            "supervisor": render_call_row(change.row, can_hang_up=True),
            "agent": render_call_row(change.row),
        }

    def lists(self, user: User, *, phase: str = "", direction: str = "") -> dict[str, list[Call]]:
        calls = Call.objects.visible_to(user)
        if direction:
            calls = calls.filter(direction=direction)
        active = calls.exclude(status__in=Call.ENDED).order_by("-tm_create")
        if phase:
            active = active.filter(status__in=[s for s, p in CALL_PHASES.items() if p == phase])
        ended = calls.filter(status__in=Call.ENDED, tm_hangup__gte=timezone.now() - ENDED_CALLS_WINDOW)
        return {
            "active": decorate(list(active)),
            "ended": decorate(list(ended.order_by("-tm_hangup")[:ENDED_CALLS_SHOWN])),
        }

    def filters(self, query: dict[str, list[str]]) -> dict[str, str]:
        """The page's filters from a query string, unknown values dropped."""
        phase = (query.get("phase") or [""])[0]
        direction = (query.get("direction") or [""])[0]
        return {
            "phase": phase if phase in dict(PHASE_CHOICES) else "",
            "direction": direction if direction in dict(DIRECTION_CHOICES) else "",
        }

    def render_lists(self, user: User, *, phase: str = "", direction: str = "") -> str:
        """Both lists whole, for a socket that (re)connects: it resyncs from state, then streams.

        What a user sees here depends only on their customer, their role (an agent: its own calls)
        and the filters, so tabs reconnecting together (a server restart: every tab of every
        supervisor) share one render as long as live state did not change meanwhile.
        """
        key = (user.customer_id, "" if user.is_supervisor else f"agent:{user.agent_id}", phase, direction)
        version, now = state_version(), time.monotonic()
        cached = _shared_lists.get(key)
        if cached is not None and cached[0] == version and now - cached[1] < SHARED_LISTS_SECONDS:
            return cached[2]
        lists = self.lists(user, phase=phase, direction=direction)
        common = {"can_hang_up": user.is_supervisor, "live": True, "now": timezone.now()}
        html = "".join(
            render_to_string(
                "dashboard/fragments/call_tbody.html", {**common, "tbody_id": f"calls-{name}", "calls": calls}
            )
            for name, calls in lists.items()
        )
        if len(_shared_lists) >= SHARED_LISTS_KEPT:
            _shared_lists.clear()
        _shared_lists[key] = (version, now, html)
        return html


# Calls lists rendered lately: (customer, audience, filters) → (state version, when, html). Only
# ever read and written on the database thread, where live state is changed too.
_shared_lists: dict[tuple[str, str, str, str], tuple[int, float, str]] = {}
SHARED_LISTS_SECONDS = 1.0  # the times shown ("3 min ago") stay fresh
SHARED_LISTS_KEPT = 256


def _first(query: dict[str, list[str]], name: str) -> str:
    return (query.get(name) or [""])[0].strip()


@dataclass(frozen=True)
class InboxPage:
    """The inbox's thread list and a thread's messages: both pages share this kind and its socket.

    A change is rendered once for every supervisor of the customer, so a pushed thread row
    cannot carry one user's unread count: it carries a "new" marker when the message it brings
    is inbound, and ``static/js/live.js`` keeps the count the row already showed beside it.
    Exact counts come back on every page load and resync (``render_lists``). The pushed message
    item lands only on the page holding its thread's list (``thread-<key>``); elsewhere the
    browser drops it.
    """

    kind = "inbox"
    resources = ("message",)

    def allows(self, user: User) -> bool:
        return user.is_supervisor

    def topics(self, user: User) -> list[str]:
        return scope_topics(user, self.resources)

    def filters(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """``q`` and ``unanswered`` for the thread list; ``our`` and ``remote`` name an open thread."""
        return {
            "q": _first(query, "q")[:200],
            "unanswered": _first(query, "unanswered") == "1",
            "our": _first(query, "our"),
            "remote": _first(query, "remote"),
        }

    def render_change(self, change: Change) -> dict[str, str]:
        """The thread's row (its newest message, wherever this one falls) and the message itself."""
        if not isinstance(change.row, Message):
            return {}
        message = change.row
        head = threads.thread_head(
            customer_id=message.customer_id, our_number=message.our_number, remote=message.remote
        )
        if head is None:
            return {}
        threads.decorate([message])
        new = message.direction == "inbound" and message.pk == head.pk
        html = render_to_string(
            "dashboard/fragments/thread_row.html", {"thread": head, "live": True, "new": new}
        ) + render_to_string("dashboard/fragments/message_item.html", {"message": message, "live": True})
        return {"supervisor": html, "agent": ""}

    def render_lists(
        self, user: User, *, q: str = "", unanswered: bool = False, our: str = "", remote: str = ""
    ) -> str:
        """The open thread's messages, or the filtered thread list, whole (a socket (re)connects)."""
        if not self.allows(user):
            return ""
        if our and remote:
            messages = threads.thread_messages(user, our_number=our, remote=remote)
            context = {"thread_messages": messages, "key": threads.thread_key(our, remote), "live": True}
            return render_to_string("dashboard/fragments/message_list.html", context)
        context = {"threads": threads.threads(user, q=q, unanswered=unanswered), "live": True}
        return render_to_string("dashboard/fragments/thread_list.html", context)


CALLS_PAGE = CallsPage()
INBOX_PAGE = InboxPage()
PAGES: dict[str, LivePage] = {
    page.kind: page for page in (CALLS_PAGE, INBOX_PAGE, FLOWS_PAGE, QUEUES_PAGE, AGENTS_PAGE)
}
