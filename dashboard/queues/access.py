"""Who sees which agents and queues, by VoIPBIN's rules (VOIPBIN.md §3).

Supervisors (VoIPBIN admin or manager) see every agent and queue of their customer. An agent may
only hear about itself (``agent_id:<own>:…`` topics, no REST lists), so it sees its own agent
row and the queues it belongs to (a shared tag id), and nothing else of the account.
"""

from __future__ import annotations

from django.db.models import QuerySet

from dashboard.models import Agent, Queue, User
from dashboard.queues.stats import shares_tag


def visible_agents(user: User) -> QuerySet[Agent]:
    """The customer's agents; an agent only itself (an Agent row's owner is the agent)."""
    return Agent.objects.visible_to(user)


def visible_queues(user: User) -> list[Queue]:
    """The customer's queues by name; an agent only those whose tags it shares."""
    queues = list(Queue.objects.filter(customer_id=user.customer_id).order_by("name", "pk"))
    if user.is_supervisor:
        return queues
    own_tags = Agent.objects.filter(pk=user.agent_id, customer_id=user.customer_id).values_list(
        "tag_ids", flat=True
    )
    tags = next(iter(own_tags), None) or []
    return [queue for queue in queues if shares_tag(tags, queue.tag_ids or ())]


def may_change_status(user: User, agent_id: str) -> bool:
    """VoIPBIN lets an agent set its own status, and admins and managers anyone's."""
    return user.is_supervisor or (bool(user.agent_id) and agent_id == user.agent_id)
