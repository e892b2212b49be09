"""What applying an event to live state produced: the row, for the pages to render and route.

Its own module so that every resource's apply code (``dashboard.live``, ``dashboard.flows``,
``dashboard.queues``) can build one without importing the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dashboard.models import LiveResource
from dashboard.voipbin.topics import resource_topics

if TYPE_CHECKING:
    from dashboard.calls.conversations import Conversation

AUDIENCES = ("supervisor", "agent")
"""Whom a page's update is rendered for (``LivePage.render_change``): supervisors, or agents."""


@dataclass(frozen=True, slots=True)
class Change:
    """A row that an event changed, with what the pages need to know about the change."""

    resource: str
    row: LiveResource
    created: bool
    also: tuple[str, ...] = ()
    """Topics the dashboard adds: its conversation's (``dashboard.calls.state.routed``)."""
    conversations: tuple[Conversation, ...] = field(default=(), compare=False)
    """The callers' conversations this change is part of, as they stand after it: one for a call, a
    queuecall or a flow; those waiting in it for a queue (whose lists may name their queue)."""

    @property
    def topics(self) -> list[str]:
        """The topics under which VoIPBIN publishes this row, and those the dashboard adds (page sockets
        filter on them)."""
        own = resource_topics(
            resource=self.resource,
            resource_id=self.row.pk,
            customer_id=self.row.customer_id,
            owner_agent_id=self.row.owner_agent_id,
        )
        return own + [topic for topic in self.also if topic not in own]
