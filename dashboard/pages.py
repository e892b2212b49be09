"""Live pages: which topics each one shows and how a change renders on it.

A page's first paint and its live updates come from the same fragment
templates. A change is rendered once per page kind, whatever the number of
sockets showing that page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.live import Change
from dashboard.models import Call, User
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
    for call in calls:
        call.phase = CALL_PHASES.get(call.status, "ringing")
        call.agent_name = names.get(call.owner_agent_id, "")
    return calls


def render_call_row(call: Call, *, can_hang_up: bool = False) -> str:
    decorate([call])
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
    resources = ("call",)

    def topics(self, user: User) -> list[str]:
        return scope_topics(user, self.resources)

    def render_change(self, change: Change) -> dict[str, str]:
        """The row as every viewer of this page kind gets it, by role (supervisors get the hang-up button)."""
        if change.resource != "call":
            return {}
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
        """Both lists whole, for a socket that (re)connects: it resyncs from state, then streams."""
        lists = self.lists(user, phase=phase, direction=direction)
        common = {"can_hang_up": user.is_supervisor, "live": True, "now": timezone.now()}
        return "".join(
            render_to_string(
                "dashboard/fragments/call_tbody.html", {**common, "tbody_id": f"calls-{name}", "calls": calls}
            )
            for name, calls in lists.items()
        )


PAGES: dict[str, CallsPage] = {CallsPage.kind: CallsPage()}
