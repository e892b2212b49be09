"""What applying an event to live state produced: the row, for the pages to render and route.

Its own module so that every resource's apply code (``dashboard.live``, ``dashboard.flows``,
``dashboard.queues``) can build one without importing the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.models import LiveResource
from dashboard.voipbin.topics import resource_topics


@dataclass(frozen=True, slots=True)
class Change:
    """A row that an event changed, with what the pages need to know about the change."""

    resource: str
    row: LiveResource
    created: bool

    @property
    def topics(self) -> list[str]:
        """The topics under which VoIPBIN publishes this row (page sockets filter on them)."""
        return resource_topics(
            resource=self.resource,
            resource_id=self.row.pk,
            customer_id=self.row.customer_id,
            owner_agent_id=self.row.owner_agent_id,
        )
