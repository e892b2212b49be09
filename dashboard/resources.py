"""The VoIPBIN resources the dashboard follows, one entry each: how it is subscribed, listed after a
gap, applied to live state and settled when a gap hid its end.

Every VoIPBIN session (a user's, an account feed, the relay worker's, the status page's) takes its
topics from here, every backfill its lists and their order, ``dashboard.live`` its apply function.
Adding a resource is adding an entry (and its pages in ``dashboard.pages.PAGES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboard.calls.state import apply_call
from dashboard.changes import Change
from dashboard.flows.state import apply_activeflow, apply_flow
from dashboard.inbox.state import apply_message
from dashboard.queues.state import apply_agent, apply_queue, apply_queuecall
from dashboard.reconcile import ENDINGS
from dashboard.voipbin.events import Event
from dashboard.voipbin.topics import Principal, principal_topics


@dataclass(frozen=True)
class Resource:
    name: str
    """In topics and events (``customer_id:<id>:call``, ``call_hangup``)."""
    listing: str
    """Its REST list (VOIPBIN.md §6), fetched newest first after every (re)connect."""
    apply: Callable[[Event], Change | None]
    limit: int
    """How many rows of the list a backfill fetches: enough to cover a gap of a busy account."""
    agents: bool
    """An agent's own session subscribes to it. VoIPBIN's code publishes only owned calls under
    ``agent_id:`` (VOIPBIN.md §3); the tutorial's dialect also queue events, so those stay."""
    subscribed: bool = True
    """Some resources are only listed (flows: VoIPBIN's socket does not carry them)."""

    @property
    def settles(self) -> bool:
        """A backfill ends rows state holds as active that its list no longer shows active."""
        return self.name in ENDINGS


RESOURCES: tuple[Resource, ...] = (
    # Flows first: the flows page names each group by its flow.
    Resource("flow", "flows", apply_flow, limit=100, agents=False, subscribed=False),
    Resource("call", "calls", apply_call, limit=200, agents=True),
    # After calls: a flow finds its call.
    Resource("activeflow", "activeflows", apply_activeflow, limit=200, agents=False),
    # Messages are the supervisors' inbox: VoIPBIN lists them to admins and managers only.
    Resource("message", "messages", apply_message, limit=200, agents=False),
    # Queues before queuecalls: the queues' lists place callers whose queue the code does not name.
    Resource("queue", "queues", apply_queue, limit=100, agents=True),
    Resource("queuecall", "queuecalls", apply_queuecall, limit=500, agents=True),
    Resource("agent", "agents", apply_agent, limit=500, agents=True),
)
"""In backfill order."""

BY_NAME: dict[str, Resource] = {resource.name: resource for resource in RESOURCES}
ALL: tuple[str, ...] = tuple(resource.name for resource in RESOURCES)
SUBSCRIBED: tuple[str, ...] = tuple(resource.name for resource in RESOURCES if resource.subscribed)
FOLLOWED_BY_AGENTS: tuple[str, ...] = tuple(r.name for r in RESOURCES if r.subscribed and r.agents)


def apply(event: Event) -> Change | None:
    """The event applied by its resource's entry; None for a resource we do not follow."""
    resource = BY_NAME.get(event.resource)
    if resource is None or not event.resource_id:
        return None
    return resource.apply(event)


def topics(principal: Principal) -> list[str]:
    """A session's topics: the widest its credentials allow (an access key, an admin or a manager: the
    customer's; a plain agent: its own), for every resource it follows."""
    return principal_topics(principal, SUBSCRIBED if principal.may_see_customer else FOLLOWED_BY_AGENTS)
