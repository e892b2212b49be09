"""The queues page and the agents board as live pages (the interface of ``dashboard.pages.CallsPage``).

``render_change`` runs once per change for every viewer of the page kind in the process, so what
it renders depends only on the audience: supervisors get queue cards and agent rows as any
supervisor of the account sees them; the "agent" audience gets only what every agent its
topics can reach may see (``QueueChange`` sends queue cards under members' agent topics only,
and an agent's change or call under that agent's own).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.calls.conversations import agents_wrapping_up, gather
from dashboard.changes import AUDIENCES, Change
from dashboard.models import Agent, Call, Queue, User
from dashboard.queues.access import visible_agents, visible_queues
from dashboard.queues.forms import QueueThresholdsForm
from dashboard.queues.state import QueueChange
from dashboard.queues.stats import QueueSummary, account_time_zone, agent_bucket, summarize

AGENT_STATUS_CHOICES = [
    ("available", "Available"),
    ("busy", "Busy"),
    ("away", "Away"),
    ("offline", "Offline"),
]
"""What VoIPBIN's ``PUT /agents/{id}/status`` accepts (``ringing`` is VoIPBIN's own doing)."""


def queue_summaries(queues: list[Queue]) -> list[QueueSummary]:
    if not queues:
        return []
    return summarize(queues, now=timezone.now(), tz=account_time_zone(queues[0].customer_id))


def render_queue_card(summary: QueueSummary, *, live: bool) -> str:
    context = {"summary": summary, "live": live, "now": timezone.now()}
    return render_to_string("dashboard/fragments/queue_card.html", context)


def render_thresholds(queue: Queue, *, form: QueueThresholdsForm | None = None, saved: bool = False) -> str:
    context = {"queue": queue, "form": form or QueueThresholdsForm(instance=queue), "saved": saved}
    return render_to_string("dashboard/fragments/queue_thresholds.html", context)


@dataclass(frozen=True)
class QueuesPage:
    kind = "queues"
    resources = ("queue", "queuecall", "agent")

    def allows(self, user: User) -> bool:
        return True  # supervisors see every queue, an agent those it belongs to

    def topics(self, user: User) -> list[str]:
        """Supervisors: the customer's queues, queuecalls, agents. Agents: their own agent scope only.

        An agent's queue cards arrive under ``agent_id:<own>:queue:<id>`` (the queues it belongs
        to), its own status under ``agent_id:<own>:agent``; not queuecall topics, which would
        reach it for calls it serves whatever queue they are in.
        """
        return user.scope_topics(self.resources if user.is_supervisor else ("queue", "agent"))

    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        if not isinstance(change, QueueChange):
            return {}
        touched = set(change.queue_ids) | set(change.former_queue_ids)
        if not touched:
            return {}
        queues = list(
            Queue.objects.filter(customer_id=change.row.customer_id, pk__in=touched).order_by("name", "pk")
        )
        cards = [(s.queue.pk, render_queue_card(s, live=True)) for s in queue_summaries(queues)]
        return {
            "supervisor": "".join(html for _, html in cards),
            "agent": "".join(html for pk, html in cards if pk in change.queue_ids),
        }

    def lists(self, user: User) -> dict[str, list[QueueSummary]]:
        return {"queues": queue_summaries(visible_queues(user))}

    def filters(self, query: dict[str, list[str]]) -> dict[str, str]:
        return {}

    def list_context(self, user: User) -> dict[str, Any]:
        """The cards, and a thresholds form beside each for supervisors (first paint and resync)."""
        can_edit = user.is_supervisor
        entries = [
            {"summary": summary, "form": QueueThresholdsForm(instance=summary.queue) if can_edit else None}
            for summary in self.lists(user)["queues"]
        ]
        return {"entries": entries, "can_edit": can_edit, "now": timezone.now()}

    def render_lists(self, user: User) -> str:
        """Every card whole, for a socket that (re)connects: it resyncs from state, then streams."""
        context = {**self.list_context(user), "live": True}
        return render_to_string("dashboard/fragments/queue_list.html", context)


def decorate_agents(agents: Iterable[Agent]) -> list[Agent]:
    """Attach what a row shows beyond the model: its status bucket, the conversation it is on (the
    caller, the phase and its clock) or, busy after one, since when it wraps it up. A few queries
    whatever the number of agents."""
    agents = list(agents)
    legs: dict[str, Call] = {}
    if agents:
        active = (
            Call.objects.filter(
                customer_id=agents[0].customer_id, owner_agent_id__in=[agent.pk for agent in agents]
            )
            .exclude(status__in=Call.ENDED)
            .order_by("tm_create")
        )
        legs = {call.owner_agent_id: call for call in active}  # the newest wins
    masters = Call.objects.in_bulk([leg.master_call_id for leg in legs.values() if leg.master_call_id])
    root_of = {agent_id: masters.get(leg.master_call_id, leg) for agent_id, leg in legs.items()}
    conversations = {c.pk: c for c in gather(list(root_of.values()))}
    wrapping = agents_wrapping_up({agent.pk for agent in agents if agent.pk not in legs})
    for agent in agents:
        agent.bucket = agent_bucket(agent.status)
        root = root_of.get(agent.pk)
        agent.conversation = conversations.get(root.pk) if root is not None else None
        agent.wrap_up_since = wrapping.get(agent.pk)
    return agents


def render_agent_row(agent: Agent) -> str:
    decorate_agents([agent])
    context = {"agent": agent, "live": True, "now": timezone.now(), "status_choices": AGENT_STATUS_CHOICES}
    return render_to_string("dashboard/fragments/agent_row.html", context)


@dataclass(frozen=True)
class AgentsPage:
    kind = "agents"
    resources = ("agent", "call")

    def allows(self, user: User) -> bool:
        return True  # supervisors see every agent, an agent its own row

    def topics(self, user: User) -> list[str]:
        return user.scope_topics(self.resources)

    def render_change(self, change: Change, audiences: Collection[str] = AUDIENCES) -> dict[str, str]:
        """The agent's row (status, or current call); the same for both audiences.

        An agent's socket only matches its own agent and call topics, so the only rows it can
        receive are its own, where it may change its status as a supervisor may.
        """
        if change.resource == "agent":
            agent = change.row
        elif change.resource == "call" and change.row.owner_agent_id:
            agent = Agent.objects.filter(
                pk=change.row.owner_agent_id, customer_id=change.row.customer_id
            ).first()
            if agent is None:
                return {}
        else:
            return {}
        html = render_agent_row(agent)
        return {"supervisor": html, "agent": html}

    def lists(self, user: User) -> dict[str, list[Agent]]:
        return {"agents": decorate_agents(visible_agents(user).order_by("name", "username", "pk"))}

    def filters(self, query: dict[str, list[str]]) -> dict[str, str]:
        return {}

    def render_lists(self, user: User) -> str:
        context = {
            **self.lists(user),
            "live": True,
            "now": timezone.now(),
            "status_choices": AGENT_STATUS_CHOICES,
        }
        return render_to_string("dashboard/fragments/agent_tbody.html", context)


QUEUES_PAGE = QueuesPage()
AGENTS_PAGE = AgentsPage()
