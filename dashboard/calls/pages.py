"""The calls page: one row per conversation (``dashboard.calls.conversations``), its legs inside it.

Supervisors see every conversation of the account, agents those they are on. A change to any part
of a conversation (either leg, the queue stay, the flow) re-renders its whole row, once per change
for every viewer of the page; the change's topics (``dashboard.calls.state.routed``) say who.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.calls.conversations import (
    PHASE_CHOICES,
    Conversation,
    Phase,
    gather,
    roots,
    visible_roots,
)
from dashboard.changes import AUDIENCES, Change
from dashboard.flows.pages import render_call_flow_action
from dashboard.live import state_version
from dashboard.models import Activeflow, Call, User

ENDED_SHOWN = 50
ENDED_WINDOW = timedelta(hours=12)
DIRECTION_CHOICES = [("incoming", "Incoming"), ("outgoing", "Outgoing")]


def render_row(conversation: Conversation, *, can_hang_up: bool = False, live: bool = True) -> str:
    context = {"c": conversation, "live": live, "can_hang_up": can_hang_up, "now": timezone.now()}
    return render_to_string("dashboard/fragments/call_row.html", context)


def render_status(conversation: Conversation) -> str:
    context = {"c": conversation, "live": True}
    return render_to_string("dashboard/fragments/call_status.html", context)


def _removed_rows(change: Change, conversation: Conversation) -> str:
    """A customer call heard of after its agent legs: the legs' own rows (shown while we did not
    know whose they were) go, the conversation's row holds them now."""
    if not (change.created and change.resource == "call" and change.row.pk == conversation.pk):
        return ""
    return "".join(f'<tr id="call-{leg.pk}" hx-swap-oob="delete"></tr>' for leg in conversation.legs)


@dataclass(frozen=True)
class CallsPage:
    kind = "calls"
    resources = ("call", "activeflow")

    def allows(self, user: User) -> bool:
        return True

    def topics(self, user: User) -> list[str]:
        """The customer's calls for supervisors; an agent's own scope, where the conversations they are
        on arrive (``agent_id:<own>:call:<customer call>``)."""
        return user.scope_topics(self.resources)

    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        """The rows of the conversations the change is part of, as supervisors (with the hang-up button)
        and agents see them; only for ``audiences`` (a row is two renders)."""
        conversations = list(change.conversations)
        if not conversations:
            if isinstance(change.row, Activeflow):  # a flow whose call we do not know yet
                html = render_call_flow_action(change)
                return {"supervisor": html, "agent": html} if html else {}
            return {}
        if isinstance(change.row, Activeflow):
            # Only its flow moved: the phase cell and the flow cell, so an open timeline stays open.
            html = render_status(conversations[0]) + render_call_flow_action(change)
            return {"supervisor": html, "agent": html}
        removed = "".join(_removed_rows(change, conversation) for conversation in conversations)
        return {
            audience: "".join(render_row(c, can_hang_up=audience == "supervisor") for c in conversations)
            + removed
            for audience in AUDIENCES
            if audience in audiences
        }

    def lists(self, user: User, *, phase: str = "", direction: str = "") -> dict[str, list[Conversation]]:
        calls = Call.objects.filter(visible_roots(user)).filter(roots())
        if direction:
            calls = calls.filter(direction=direction)
        active = gather(list(calls.exclude(status__in=Call.ENDED).order_by("-tm_create")))
        recent = calls.filter(status__in=Call.ENDED, tm_hangup__gte=timezone.now() - ENDED_WINDOW)
        ended = gather(list(recent.order_by("-tm_hangup")[:ENDED_SHOWN]))
        # A conversation whose customer call ended may still go on (a leg), or be wrapped up.
        active += [c for c in ended if c.phase is not Phase.ENDED]
        ended = [c for c in ended if c.phase is Phase.ENDED]
        if phase:
            active = [c for c in active if c.phase == phase]
        return {"active": active, "ended": ended}

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

        What a user sees here depends only on their customer, their role (an agent: the conversations
        they are on) and the filters, so tabs reconnecting together (a server restart: every tab of
        every supervisor) share one render as long as live state did not change meanwhile.
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
                "dashboard/fragments/call_tbody.html",
                {**common, "tbody_id": f"calls-{name}", "conversations": conversations},
            )
            for name, conversations in lists.items()
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

CALLS_PAGE = CallsPage()
