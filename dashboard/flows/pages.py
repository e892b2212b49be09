"""Flows on live pages: the supervisors' flows page, and each call's current action on the calls page.

``FlowsPage`` has the interface of ``dashboard.pages.CallsPage`` (the relay and
the browser socket use it the same way). It is kept out of ``dashboard.pages``,
which imports it, so it imports nothing from there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.changes import AUDIENCES, Change
from dashboard.flows.labels import Action, describe
from dashboard.flows.timeline import timeline
from dashboard.models import Activeflow, Call, Flow, User
from dashboard.voipbin.topics import format_topic

# An ended flow stays on the flows page, greyed, this long: long enough to see it go.
FLOW_ENDED_LINGER = timedelta(seconds=60)
# Flows listed one by one per group; the counts always cover all of them.
FLOWS_LISTED = 50


@dataclass
class FlowGroup:
    """The running (and just ended) flows of one VoIPBIN flow."""

    flow_id: str
    flows: list[Activeflow] = field(default_factory=list)
    name: str = ""  # as VoIPBIN lists it; empty until the flow list is fetched

    @property
    def running(self) -> list[Activeflow]:
        return [flow for flow in self.flows if flow.status not in Activeflow.ENDED]

    @property
    def counts(self) -> list[tuple[Action, int]]:
        """Running flows by current action, the busiest action first."""
        counted = Counter(flow.current_action_type for flow in self.running)
        busiest = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
        return [(describe(kind), n) for kind, n in busiest]

    @property
    def listed(self) -> list[Activeflow]:
        return self.flows[:FLOWS_LISTED]

    @property
    def unlisted(self) -> int:
        return max(0, len(self.flows) - FLOWS_LISTED)


def flow_groups(*, customer_id: str, now: datetime, flow_id: str | None = None) -> list[FlowGroup]:
    """The customer's running flows, and those ended within the linger, grouped by flow.

    Each flow gets ``call`` (its call, if known) and, once ended, ``drop_in``: the
    seconds left before the page lets it go.
    """
    cutoff = now - FLOW_ENDED_LINGER
    rows = Activeflow.objects.filter(customer_id=customer_id).filter(
        ~Q(status__in=Activeflow.ENDED) | Q(tm_end__gte=cutoff)
    )
    if flow_id is not None:
        rows = rows.filter(flow_id=flow_id)
    flows = sorted(rows, key=lambda f: (f.status in Activeflow.ENDED, f.tm_create or now, f.pk))
    calls = Call.objects.filter(customer_id=customer_id).in_bulk(
        [f.reference_id for f in flows if f.reference_type == "call"]
    )
    groups: dict[str, FlowGroup] = {}
    for flow in flows:
        flow.call = calls.get(flow.reference_id) if flow.reference_type == "call" else None
        flow.drop_in = int((flow.tm_end - cutoff).total_seconds()) if flow.tm_end else None
        groups.setdefault(flow.flow_id, FlowGroup(flow.flow_id)).flows.append(flow)
    if flow_id is not None and flow_id not in groups:
        groups[flow_id] = FlowGroup(flow_id)  # empty: the page removes it
    names = dict(Flow.objects.filter(customer_id=customer_id, pk__in=list(groups)).values_list("pk", "name"))
    for key, group in groups.items():
        group.name = names.get(key, "")
    return sorted(groups.values(), key=lambda group: (not group.name, group.name.lower(), group.flow_id))


def render_group(group: FlowGroup, *, live: bool) -> str:
    return render_to_string("dashboard/fragments/flow_group.html", {"group": group, "live": live})


@dataclass(frozen=True)
class FlowsPage:
    """Supervisors watch every running flow of the account, grouped by flow, counted by action."""

    kind = "flows"
    resources = ("activeflow",)

    def allows(self, user: User) -> bool:
        return user.is_supervisor

    def topics(self, user: User) -> list[str]:
        """The customer's activeflows: the page is the supervisors' (``allows``), so customer scope."""
        if not self.allows(user):
            return []
        return [format_topic("customer_id", user.customer_id, resource) for resource in self.resources]

    def filters(self, query: dict[str, list[str]]) -> dict[str, Any]:
        return {}

    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        """The changed flow's whole group: its counts move with every flow in it."""
        if not isinstance(change.row, Activeflow):
            return {}
        row = change.row
        (group,) = flow_groups(customer_id=row.customer_id, now=timezone.now(), flow_id=row.flow_id)
        return {"supervisor": render_group(group, live=True), "agent": ""}

    def lists(self, user: User) -> dict[str, list[FlowGroup]]:
        if not self.allows(user):
            return {"groups": []}
        return {"groups": flow_groups(customer_id=user.customer_id, now=timezone.now())}

    def render_lists(self, user: User) -> str:
        """Every group whole, for a socket that (re)connects; ended flows past the linger are gone."""
        context = {"groups": self.lists(user)["groups"], "live": True}
        return render_to_string("dashboard/fragments/flow_groups.html", context)


FLOWS_PAGE = FlowsPage()


def current_actions(calls: Iterable[Call]) -> dict[str, Activeflow]:
    """Each call's activeflow (the newest, if it had several), in one query whatever the count.

    A flow names its call (``reference_id``); a flow first heard of before its call,
    from a tutorial frame that names no call, is found the other way round, from the
    ``activeflow_id`` the call's own data carries.
    """
    ids = {call.pk for call in calls if call.pk}
    if not ids:
        return {}
    by_flow = {flow_id: call.pk for call in calls if (flow_id := (call.data or {}).get("activeflow_id"))}
    rows = Activeflow.objects.filter(
        Q(reference_type="call", reference_id__in=ids) | Q(pk__in=list(by_flow))
    ).order_by("tm_update", "pk")
    return {row.reference_id if row.reference_id in ids else by_flow[row.pk]: row for row in rows}


def render_call_flow_action(change: Change) -> str:
    """The call's current action, and its timeline if open, as out-of-band swaps for the calls page.

    Empty when the flow is not a call's (or its call is not known yet: the call's row
    shows the action when it arrives).
    """
    row = change.row
    if not isinstance(row, Activeflow) or row.reference_type != "call" or not row.reference_id:
        return ""
    context = {"call_id": row.reference_id, "activeflow": row, "live": True}
    return render_to_string("dashboard/fragments/flow_action.html", context) + render_to_string(
        "dashboard/fragments/flow_timeline.html", {**context, "entries": timeline(row)}
    )
